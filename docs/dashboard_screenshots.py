"""Retake the README's dashboard screenshots: the funnel and the answers page, on made-up shoppers.

Starts its own server on loopback (the example quizzes, a throwaway data folder), lets 60 shoppers
play the serum finder through the real handlers over a week, signs a marketer in and takes the
pictures. Needs nothing running.

    python docs/dashboard_screenshots.py
"""

from __future__ import annotations

import random
import re
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import httpx2 as httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from live import bound_socket, serving

from quiz.app import create_app
from quiz.engine.flow import first_question, next_after, parse_answer
from quiz.format.questions import RESULTS, Info, MultipleChoice, Number, Scale, ShortText
from quiz.leads import optin
from quiz.settings import Settings
from quiz.web.services import services_of

DOCS = Path(__file__).parent
ROOT = DOCS.parent
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
OWNER, PASSWORD = "marketer@example.com", "a password for the screenshots"
SOURCES = ["instagram", "instagram", "newsletter", "google", ""]


def shopper(client: httpx.Client, quiz, rng: random.Random) -> None:
    """One shopper through the real handlers: view, maybe start, answer until the results or leave."""
    source = rng.choice(SOURCES)
    page = "https://shop.example/products/serum" + (f"?utm_source={source}" if source else "")
    client.get(f"/q/{quiz.id}", params={"page": page, "locale": "en"})
    if rng.random() < 0.3:
        return
    text = client.post(f"/q/{quiz.id}/start", data={"page": page, "locale": "en"}).text
    current, answers = first_question(quiz).id, {}
    while current != RESULTS:
        if rng.random() < 0.05:
            return
        question = quiz.question(current)
        values = _answer(question, rng)
        found = re.search(r'name="t" value="([^"]+)"', text)
        if found is None:
            raise RuntimeError(f"no token on the step for {current}: {text[:3000]}")
        token = found[1]
        text = client.post(f"/q/{quiz.id}/answer", data={"t": token, "a": values, "action": "next"}).text
        answers[current] = parse_answer(question, values)
        current = next_after(quiz, question, answers)  # where the server went too
    token = re.search(r'name="t" value="([^"]+)"', text)
    if token and rng.random() < 0.25:
        form = {"t": token[1], "email": f"shopper{rng.randrange(10**6)}@example.com", "action": "send"}
        client.post(f"/q/{quiz.id}/optin", data={**form, "consent": "yes"}, headers={"HX-Request": "true"})
    products = re.findall(rf'/q/{quiz.id}/go/([^/?"]+)\?t=([^"&]+)', text)
    if products and rng.random() < 0.45:
        product, product_token = products[0]
        client.get(f"/q/{quiz.id}/go/{product}", params={"t": unquote(product_token)}, follow_redirects=False)


def _answer(question, rng: random.Random) -> list[str]:
    if isinstance(question, Info | ShortText):
        return []
    if isinstance(question, MultipleChoice):
        return [option.id for option in rng.sample(question.choices(), rng.randint(1, 2))]
    if isinstance(question, Scale):
        return [str(rng.choice(question.values()))]
    if isinstance(question, Number):
        return [str(rng.randint(20, 60))]
    weights = [4, 3, 2, 1, 1, 1][: len(question.choices())]
    return [rng.choices(question.choices(), weights=weights)[0].id]


def spread_over_a_week(app) -> None:
    """Today's counts copied, thinned, onto the six days before, so the daily chart has a shape."""
    found = services_of(app)
    found.store.flush()
    found.tally.flush()
    today = datetime.now(found.settings.time_zone).date()
    records = [record for record in found.store.records("rollups") if record["day"] == today.isoformat()]
    shares = [0.9, 0.7, 1.1, 0.8, 0.6, 0.5, 0.7, 0.6, 0.8, 0.5, 0.6, 0.7, 0.4]  # this week and the one before
    for back, share in enumerate(shares, start=1):
        day = (today - timedelta(days=back)).isoformat()
        thinned = [{**record, "id": record["id"].replace(today.isoformat(), day), "day": day} for record in records]
        for record in thinned:
            record["counts"] = _scaled(record["counts"], share)
        found.store.put_many("rollups", thinned)


def _scaled(counts: dict, share: float) -> dict:
    return {
        key: _scaled(value, share) if isinstance(value, dict) else int(value * share) for key, value in counts.items()
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        optin.MIN_SECONDS_ON_FORM = 0  # these shoppers are a script: no need to wait as people read
        settings = Settings(quizzes_dir=ROOT / "quizzes", data_dir=Path(data), secret_keys=("screenshots",))
        app = create_app(settings)
        app.state.dashboard.users.add(OWNER, "owner", PASSWORD)
        sock = bound_socket()
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        quiz = services_of(app).library.get("serum-finder")
        assert quiz is not None
        with serving(app, sock):
            rng = random.Random(4)
            with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as client:
                for _ in range(60):
                    shopper(client, quiz, rng)
            spread_over_a_week(app)
            with sync_playwright() as playwright:
                options: dict[str, object] = {"headless": True, "args": FLAGS}
                if DEBIAN_CHROMIUM.exists():
                    options["executable_path"] = str(DEBIAN_CHROMIUM)
                browser = playwright.chromium.launch(**options)
                page = browser.new_page(viewport={"width": 1100, "height": 900}, locale="en-US")
                page.goto(f"{base}/admin/login")
                page.get_by_label("Email address").fill(OWNER)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.goto(f"{base}/admin?quiz=serum-finder&range=7d")
                page.screenshot(path=DOCS / "dashboard-funnel.png", full_page=True)
                page.goto(f"{base}/admin/answers?quiz=serum-finder&range=7d")
                page.set_viewport_size({"width": 1100, "height": 1300})
                page.screenshot(path=DOCS / "dashboard-answers.png")
                browser.close()
    print(f"wrote {DOCS / 'dashboard-funnel.png'} and {DOCS / 'dashboard-answers.png'}", datetime.now(UTC))


if __name__ == "__main__":
    main()

"""Retake the README's screenshot of the merchant's preview: the coffee finder after two answers, its trace beside it.

Starts its own server on loopback (the example quizzes, a throwaway data folder) and signs a
merchant in. Needs nothing running.

    python docs/preview_screenshot.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from live import bound_socket, serving

from quiz.app import create_app
from quiz.settings import Settings

DOCS = Path(__file__).parent
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
OWNER, PASSWORD = "merchant@example.com", "a password for the screenshots"


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(quizzes_dir=DOCS.parent / "quizzes", data_dir=Path(data), secret_keys=("screenshots",))
        app = create_app(settings)
        app.state.dashboard.users.add(OWNER, "owner", PASSWORD)
        sock = bound_socket()
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with serving(app, sock), sync_playwright() as playwright:
            options: dict[str, object] = {"headless": True, "args": FLAGS}
            if DEBIAN_CHROMIUM.exists():
                options["executable_path"] = str(DEBIAN_CHROMIUM)
            browser = playwright.chromium.launch(**options)
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="en-US")
            page.goto(f"{base}/admin/preview/coffee-finder")
            page.get_by_label("Email address").fill(OWNER)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.locator("#trace-points").wait_for()
            quiz = page.frame_locator("#preview-frame")
            quiz.locator("#quiz-step button").first.click()
            for answer in ("Espresso machine", "Chocolate and caramel"):
                quiz.get_by_text(answer, exact=True).click()
                quiz.locator("button[value=next]").click()
                page.wait_for_timeout(700)  # the step, then its trace
            page.mouse.move(0, 0)
            page.screenshot(path=DOCS / "preview.png")
            browser.close()
    print(f"wrote {DOCS / 'preview.png'}")


if __name__ == "__main__":
    main()

"""A shopper gets their results on LINE from a quiz embedded on another site: LINE Login in a popup, then a push.

Real parts only: Chromium with cookies blocked, the quiz server and the demo shop on two loopback origins,
and the LINE Platform on a third (tests/line_platform.py), whose consent screen the shopper answers in the
popup and which records the Flex message the server pushes afterwards.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from browsing import embedded_frame, play_to_results
from line_platform import LinePlatform
from live import quiz_beside_shop
from playwright.sync_api import Frame, Page, expect

from quiz.line.channel import LineChannel
from quiz.settings import Settings, from_environment
from quiz.web.services import services_of

EXAMPLES = Path(__file__).parent.parent / "quizzes"
QUIZ = "serum-finder"  # the example quiz that offers LINE (lead_capture.channels), in Japanese
ADD_FRIEND_URL = "https://line.me/R/ti/p/@123abcde"
WAIT_MS = 10_000  # for the popup's round trip through LINE, and the widget asking the server again
PUSH_SECONDS = 5  # the queue's thread pushes within about a second


@pytest.fixture
def shop_with_line(tmp_path, request) -> Iterator[dict[str, Any]]:
    """The servers, with LINE Login (flow A) unless the test asks for ``{"login": False}`` (flow C, a code in chat).

    ``{"gate": True}`` moves the example quiz's opt-in before its results.
    """
    options = getattr(request, "param", {})
    login = options.get("login", True)
    quizzes = EXAMPLES
    if options.get("gate"):
        quizzes = _with_gate(tmp_path / "quizzes")
    platform = LinePlatform()
    platform.start()

    def settings_for(quiz_origin: str, shop_origin: str) -> Settings:
        """The settings as a merchant writes them: ``QUIZ_*`` variables, LINE's addresses pointed at the platform."""
        environ = {
            "QUIZ_QUIZZES_DIR": str(quizzes),
            "QUIZ_DATA_DIR": str(tmp_path / "data"),
            "QUIZ_SECRET_KEYS": "browser-line-tests",
            "QUIZ_EMBED_ORIGINS": shop_origin,
            "QUIZ_PUBLIC_URL": quiz_origin,  # LINE Login's redirect URI is built from it
            "QUIZ_LINE_CHANNEL_SECRET": platform.bot_secret,
            "QUIZ_LINE_CHANNEL_ACCESS_TOKEN": platform.access_token,
            "QUIZ_LINE_ADD_FRIEND_URL": ADD_FRIEND_URL,
            "QUIZ_LINE_LOGIN_CHANNEL_ID": platform.channel_id,
            "QUIZ_LINE_LOGIN_CHANNEL_SECRET": platform.channel_secret,
            "QUIZ_LINE_ACCESS_URL": platform.url,
            "QUIZ_LINE_API_URL": platform.url,
        }
        if not login:
            del environ["QUIZ_LINE_LOGIN_CHANNEL_ID"], environ["QUIZ_LINE_LOGIN_CHANNEL_SECRET"]
        return from_environment(environ)

    try:
        with quiz_beside_shop(settings_for) as (app, quiz_origin, shop_origin):
            services_of(app).channel(LineChannel).queue.start()  # the lifespan would; the test servers run without one
            yield {"app": app, "quiz": quiz_origin, "shop": shop_origin, "line": platform}
            services_of(app).channel(LineChannel).queue.close()
        services_of(app).store.close()
    finally:
        platform.stop()


def test_results_reach_line_after_login_in_a_popup(shop_with_line, page):
    platform = shop_with_line["line"]
    frame = _play_to_results(page, shop_with_line)
    top_title = frame.locator(".quiz-product-title").first.inner_text()
    popup = _ask_for_results_on_line(page, frame, add_friend=True)

    expect(popup.locator("#line-result")).to_contain_text("送信しました")  # the last page, in the quiz's language
    section = frame.locator("#quiz-line")
    expect(section).to_contain_text("送信しました。診断結果をLINEのトークにお送りしました。", timeout=WAIT_MS)
    expect(section.locator(".quiz-line-sent")).to_be_visible()
    expect(section.get_by_role("button", name="LINEで結果を受け取る")).to_have_count(0)

    (push,) = _pushes(platform, wait=PUSH_SECONDS, until=1)
    assert push["to"] == platform.user_id and push["delivered"], push
    assert push["retry_key"], "a push carries X-Line-Retry-Key, so a retry never sends the results twice"
    (message,) = push["messages"]
    assert message["type"] == "flex" and top_title in message["altText"]
    assert message["contents"]["type"] == "carousel"
    first = message["contents"]["contents"][0]
    assert top_title in [part.get("text") for part in _parts(first)]
    links = [part["action"]["uri"] for part in _parts(first) if part.get("type") == "button"]
    assert links and all("utm_medium=line" in link and f"utm_campaign={QUIZ}" in link for link in links), links
    assert [query["bot_prompt"] for query in platform.authorizations] == ["aggressive"]
    evidence = [
        row for row in services_of(shop_with_line["app"]).store.records("consent") if row.get("channel") == "line"
    ]
    assert [(row["action"], row["checkbox"], row["line_user"]) for row in evidence] == [
        ("opt_in", True, platform.user_id)
    ]
    assert evidence[0]["origin"] == shop_with_line["shop"] and evidence[0]["text"].startswith("LINE公式アカウント")
    popup.close()


def test_declining_the_friend_add_shows_the_add_friend_link_and_sends_nothing(shop_with_line, page):
    platform = shop_with_line["line"]
    frame = _play_to_results(page, shop_with_line)
    popup = _ask_for_results_on_line(page, frame, add_friend=False)

    expect(popup.locator("#line-result")).to_be_visible()
    section = frame.locator("#quiz-line")
    expect(section).to_contain_text("友だち追加されていないため", timeout=WAIT_MS)
    link = section.get_by_role("link", name="LINEで友だち追加")
    expect(link).to_have_attribute("href", ADD_FRIEND_URL)
    expect(section.locator(".quiz-line-sent")).to_have_count(0)
    assert _pushes(platform, wait=1.5) == [], "LINE drops a push to a non-friend: the server must not send one"
    assert platform.user_id not in platform.friends
    popup.close()


@pytest.mark.parametrize("shop_with_line", [{"login": False}], indirect=True)
def test_without_line_login_the_code_in_the_widget_brings_the_results_in_chat(shop_with_line, page):
    servers, platform = shop_with_line, shop_with_line["line"]
    frame = _play_to_results(page, servers)
    section = frame.locator("#quiz-line")
    expect(section.get_by_role("link", name="LINEで友だち追加")).to_have_attribute("href", ADD_FRIEND_URL)
    qr = section.locator("svg.quiz-line-qr").bounding_box()  # on a computer, the phone scans this
    assert qr is not None and qr["width"] == qr["height"] >= 100
    code = section.locator(".quiz-line-code").inner_text()
    top_title = frame.locator(".quiz-product-title").first.inner_text()

    # The shopper adds the account on their phone and types the code; LINE tells the server.
    body = platform.webhook_body(platform.follow_event(), platform.message_event(code.lower()))
    request = urllib.request.Request(
        f"{servers['quiz']}/line/webhook",
        data=body,
        headers={"content-type": "application/json", "x-line-signature": platform.signature(body)},
    )
    with urllib.request.urlopen(request, timeout=5) as answered:
        assert answered.status == 200

    deadline = time.monotonic() + PUSH_SECONDS
    while not platform.replies and time.monotonic() < deadline:
        time.sleep(0.05)
    (reply,) = platform.replies
    (flex,) = reply["messages"]
    assert flex["type"] == "flex" and top_title in flex["altText"]
    assert not platform.pushes  # a reply, which costs the merchant nothing


@pytest.mark.parametrize("shop_with_line", [{"gate": True}], indirect=True)
def test_behind_the_gate_a_line_login_opens_the_results(shop_with_line, page):
    platform = shop_with_line["line"]
    frame = _play_to_results(page, shop_with_line)
    expect(frame.locator("h1")).to_have_text("診断結果はどちらにお送りしますか？")
    expect(frame.locator(".quiz-product-title")).to_have_count(0)
    expect(frame.get_by_label("メールアドレス")).to_be_visible()  # email and LINE, side by side
    popup = _ask_for_results_on_line(page, frame, add_friend=True)

    expect(frame.locator(".quiz-product-title").first).to_be_visible(timeout=WAIT_MS)
    expect(frame.locator("#quiz-line .quiz-line-sent")).to_be_visible()
    (push,) = _pushes(platform, wait=PUSH_SECONDS, until=1)
    assert push["messages"][0]["type"] == "flex"
    popup.close()


def _with_gate(folder: Path) -> Path:
    folder.mkdir()
    document = json.loads((EXAMPLES / "skincare.json").read_text(encoding="utf-8"))
    document["lead_capture"]["placement"] = "before_results"
    (folder / "skincare.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return folder


def _play_to_results(page: Page, servers: dict[str, Any]) -> Frame:
    """The shopper opens the shop's page and answers every question of the embedded quiz."""
    quiz = services_of(servers["app"]).library.get(QUIZ)
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{servers['shop']}/quizzes/{QUIZ}")
    frame = embedded_frame(page, servers["quiz"])
    play_to_results(frame, quiz)
    return frame


def _ask_for_results_on_line(page: Page, frame: Frame, *, add_friend: bool) -> Page:
    """Tick the LINE consent, press the LINE button, and answer LINE's consent screen in the popup it opens."""
    section = frame.locator("#quiz-line")
    consent = section.get_by_role("checkbox")
    expect(consent).not_to_be_checked()  # consent is never ticked for the shopper
    consent.check()
    with page.expect_popup(timeout=WAIT_MS) as opened:
        section.get_by_role("button", name="LINEで結果を受け取る").click()
    popup = opened.value
    popup.set_default_timeout(WAIT_MS)
    friend = popup.locator("#friend")  # 「友だち追加」, offered because the server asked with bot_prompt
    expect(friend).to_be_checked()  # LINE ticks it by default
    friend.set_checked(add_friend)
    popup.get_by_role("button", name="許可する").click()
    return popup


def _pushes(platform: LinePlatform, *, wait: float, until: int | None = None) -> list[dict[str, Any]]:
    """The pushes LINE has recorded after ``wait`` seconds, or as soon as there are ``until`` of them."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and (until is None or len(platform.pushes) < until):
        time.sleep(0.05)
    return list(platform.pushes)


def _parts(component: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every component of a Flex bubble, depth first, whatever boxes hold them."""
    yield component
    for child in component.get("contents", []) if isinstance(component.get("contents"), list) else []:
        yield from _parts(child)
    for block in ("header", "hero", "body", "footer"):
        if isinstance(component.get(block), dict):
            yield from _parts(component[block])

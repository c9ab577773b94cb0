"""The embedded quiz keeps the shop's page still, and fits a phone, in a real Chromium.

Layout shift is what the shop page's own PerformanceObserver sees: a tap inside our frame is not
input to the shop page, so every resize of the frame that moves the shop's content counts.
"""

from __future__ import annotations

import time
import zlib

import pytest

pytest.importorskip("playwright.sync_api")
from axe_playwright_python.sync_playwright import Axe
from browsing import embedded_frame, wait_for_new_step
from playwright.sync_api import Frame, Page
from shopper import answer

from quiz.format.schema import Quiz

MAX_SHIFT = 0.02  # the bar; Google calls 0.1 "good"
RESERVE = 640  # widget.js reserves 40rem
WATCH = """() => {
  window.shift = 0;
  window.shifts = [];
  new PerformanceObserver(list => {
    for (const entry of list.getEntries()) {
      window.shifts.push(entry.value);
      if (!entry.hadRecentInput) window.shift += entry.value;
    }
  }).observe({ type: "layout-shift", buffered: true });
}"""
FRAME_HEIGHTS = """frame => {
  window.heights = [];  // each new height the frame takes
  let last = frame.clientHeight;
  new ResizeObserver(() => {
    if (frame.clientHeight !== last) window.heights.push(last = frame.clientHeight);
  }).observe(frame);
}"""


def play_watching_the_frame(page: Page, frame: Frame, quiz: Quiz) -> list[list[int]]:
    """Answer the quiz to its results; the frame's heights while each step was shown, step by step."""
    element = page.locator("quiz-widget iframe")
    element.evaluate(FRAME_HEIGHTS)
    heights = []
    frame.locator("#quiz-step button").first.click()
    key = wait_for_new_step(frame, "intro")
    while True:
        page.wait_for_timeout(250)  # the frame's last resize for this step
        heights.append(page.evaluate("heights.splice(0)"))
        if key in ("results", "gate"):
            return heights
        answered = answer(frame, quiz)
        frame.locator("button[value=next]").click()
        key = wait_for_new_step(frame, answered)


@pytest.mark.parametrize("width, height", [(375, 812), (1280, 800), (320, 640)])
@pytest.mark.parametrize("quiz_id", ["serum-finder", "coffee-finder", "gift-finder"])
def test_a_whole_quiz_run_barely_moves_the_shop_page(servers, page, quiz_id, width, height):
    quiz_origin, shop_origin, quizzes = servers
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{shop_origin}/quizzes/{quiz_id}")
    page.evaluate(WATCH)
    frame = embedded_frame(page, quiz_origin)
    page.wait_for_timeout(300)
    assert page.locator("quiz-widget iframe").evaluate("frame => frame.clientHeight") == RESERVE  # the intro fits it
    steps = play_watching_the_frame(page, frame, quizzes[quiz_id])
    page.wait_for_timeout(300)
    shift = page.evaluate("shift")
    print(f"{quiz_id} at {width}x{height}: cumulative layout shift {shift:.4f}, entries {page.evaluate('shifts')}")
    assert shift <= MAX_SHIFT
    questions = steps[:-1]  # the results may grow past the floor; leaving them returns to it
    for index, changes in enumerate(steps):
        assert len(changes) <= 1, f"step {index} resized the frame {len(changes)} times: {changes}"
    shown = [RESERVE] + [change for changes in questions for change in changes]
    assert shown == sorted(shown), f"a question made the frame shorter: {shown}"


def test_the_reserve_follows_data_height_and_questions_never_shrink_the_frame(servers, page):
    quiz_origin, shop_origin, quizzes = servers
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(f"{shop_origin}/")
    # The loader asked for a smaller reserve, on a page of the shop's own (the shop's origin and policy).
    page.set_content(
        f'<!doctype html><p>Shop</p><script src="{quiz_origin}/widget.js" data-quiz="coffee-finder"'
        ' data-height="300"></script><p>Below</p>'
    )
    frame = embedded_frame(page, quiz_origin)
    page.wait_for_timeout(300)
    element = page.locator("quiz-widget iframe")
    intro = element.evaluate("frame => frame.clientHeight")
    assert intro == 300  # the intro is shorter than that: the frame keeps the reserve
    frame.locator("#quiz-step button").first.click()
    key = wait_for_new_step(frame, "intro")
    tallest = element.evaluate("frame => frame.clientHeight")
    assert tallest > 300  # the first question is taller: the frame grew to it
    answered = answer(frame, quizzes["coffee-finder"])
    frame.locator("button[value=next]").click()
    key = wait_for_new_step(frame, answered)
    page.wait_for_timeout(250)
    assert key != answered and element.evaluate("frame => frame.clientHeight") >= tallest


def test_on_a_phone_the_main_button_spans_the_width_and_results_swipe(servers, page):
    quiz_origin, _, quizzes = servers
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(f"{quiz_origin}/q/serum-finder?locale=ja")
    page.locator("#quiz-step button").first.click()
    key = wait_for_new_step(page, "intro")
    step = page.locator("#quiz-step form").bounding_box()
    next_button = page.locator("button[value=next]").bounding_box()
    assert abs(next_button["width"] - step["width"]) <= 1
    while key != "results":
        answered = answer(page, quizzes["serum-finder"])
        page.locator("button[value=next]").click()
        key = wait_for_new_step(page, answered)
    row = page.locator(".quiz-results")
    widths = row.evaluate("row => [row.clientWidth, row.scrollWidth]")
    assert widths[1] > widths[0]  # three cards side by side, the next one peeking in
    cards = [card.bounding_box() for card in page.locator(".quiz-product").all()]
    assert len(cards) == 3 and len({round(card["y"]) for card in cards}) == 1
    assert all(card["width"] <= widths[0] * 0.85 for card in cards)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # the page itself never scrolls sideways
    page.locator(".quiz-product").nth(2).get_by_role("link").last.focus()  # a keyboard reaches the last card
    assert page.locator(".quiz-product").nth(2).bounding_box()["x"] < 375
    violations = Axe().run(page).response["violations"]
    assert [violation["id"] for violation in violations if violation["impact"] in ("serious", "critical")] == []


def pixel(png: bytes) -> tuple[int, int, int]:
    """The first pixel of a PNG screenshot (8-bit RGB or RGBA, as Chromium writes them)."""
    chunks, position = {}, 8
    while position < len(png):
        length = int.from_bytes(png[position : position + 4], "big")
        kind = png[position + 4 : position + 8]
        chunks[kind] = chunks.get(kind, b"") + png[position + 8 : position + 8 + length]
        position += 12 + length
    rows = zlib.decompress(chunks[b"IDAT"])
    # rows[0] names the row's filter; every PNG filter leaves the top-left pixel's bytes as they are.
    return rows[1], rows[2], rows[3]


def test_a_transparent_quiz_shows_the_shops_background(servers, page):
    quiz_origin, shop_origin, quizzes = servers
    assert quizzes["gift-finder"].theme.background == "transparent"
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{shop_origin}/quizzes/gift-finder")
    embedded_frame(page, quiz_origin)
    page.wait_for_timeout(300)
    box = page.locator("quiz-widget iframe").bounding_box()
    corner = {"x": box["x"] + 4, "y": box["y"] + 4, "width": 1, "height": 1}  # outside the quiz's centred column
    assert pixel(page.screenshot(clip=corner)) == (0xFB, 0xF7, 0xF2)  # the demo shop's cream, not white
    shop = page.screenshot(clip={**corner, "y": box["y"] - 8})
    assert pixel(shop) == (0xFB, 0xF7, 0xF2)


def test_a_frame_reloaded_at_its_results_still_shrinks_back_for_a_question(servers, page):
    quiz_origin, shop_origin, quizzes = servers
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(f"{shop_origin}/quizzes/gift-finder")
    frame = embedded_frame(page, quiz_origin)
    element = page.locator("quiz-widget iframe")
    play_watching_the_frame(page, frame, quizzes["gift-finder"])
    tall = element.evaluate("frame => frame.clientHeight")
    assert tall > RESERVE  # the results are longer than the reserve
    frame.evaluate("location.reload()")  # as back and forward do, and the preview after a save
    page.wait_for_timeout(800)
    frame = embedded_frame(page, quiz_origin)
    frame.evaluate("history.back()")
    deadline = time.monotonic() + 10
    while element.evaluate("frame => frame.clientHeight") >= tall:
        assert time.monotonic() < deadline, "the frame kept the results' height for a question"
        page.wait_for_timeout(100)
    assert element.evaluate("frame => frame.clientHeight") >= RESERVE

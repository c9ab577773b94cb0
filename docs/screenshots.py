"""Retake the README's screenshots: a first question hosted at 375 px (in Japanese), and embedded in the demo
shop at 1280 px; the gift finder's results embedded in the demo shop at 375 and 1280 px.

Needs `make run` serving on the default ports (quizzes on :8000, the demo shop on :8001).

    python docs/screenshots.py
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, FrameLocator, Page, sync_playwright

DOCS = Path(__file__).parent
QUIZ = "http://127.0.0.1:8000/q/serum-finder?locale=ja"  # needs a Japanese font (make browser installs one)
SHOP = "http://localhost:8001/quizzes/gift-finder"
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def first_question(page: Page) -> None:
    page.locator("#quiz-step button").first.click()
    page.locator("fieldset[data-question]").wait_for()


def to_results(view: Page | FrameLocator) -> None:
    """Press Start, then pick each question's first option (and the first two where two are asked for)."""
    view.locator("#quiz-step button").first.click()
    while True:
        question = view.locator("fieldset[data-question], .quiz-results").first
        question.wait_for()
        if view.locator(".quiz-results").count():
            return
        options = view.locator("fieldset[data-question] input")
        for index in range(2 if view.locator("fieldset input[type=checkbox]").count() else 1):
            options.nth(index).check()
        title = view.locator("h1").inner_text()
        view.locator("button[value=next]").click()
        view.locator("h1", has_not_text=title).first.wait_for()


def embedded_results(browser: Browser, width: int, height: int, name: str) -> None:
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=2 if width < 600 else 1)
    page.goto(SHOP)
    to_results(page.frame_locator("quiz-widget iframe"))
    page.wait_for_timeout(600)  # the iframe takes its new height, the pictures arrive
    page.mouse.move(0, 0)  # no hover left on a card
    if width >= 600:  # the whole page, in one tall window: a full-page shot leaves a frame's lower part blank
        page.set_viewport_size({"width": width, "height": page.evaluate("document.documentElement.scrollHeight")})
        page.wait_for_timeout(300)
    else:
        page.locator("quiz-widget").scroll_into_view_if_needed()
    page.screenshot(path=DOCS / name)


def main() -> None:
    with sync_playwright() as playwright:
        options: dict[str, object] = {"headless": True, "args": FLAGS}
        if DEBIAN_CHROMIUM.exists():
            options["executable_path"] = str(DEBIAN_CHROMIUM)
        browser = playwright.chromium.launch(**options)
        phone = browser.new_page(viewport={"width": 375, "height": 812}, device_scale_factor=2, locale="ja-JP")
        phone.goto(QUIZ)
        first_question(phone)
        phone.mouse.move(0, 0)  # the Start button's spot would leave a hover on an option
        phone.screenshot(path=DOCS / "widget-375.png", full_page=True)
        desktop = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
        desktop.goto(SHOP)
        frame = desktop.frame_locator("quiz-widget iframe")
        frame.locator("#quiz-step button").first.click()
        frame.locator("fieldset[data-question]").wait_for()
        desktop.wait_for_timeout(300)  # the iframe takes its new height
        desktop.screenshot(path=DOCS / "widget-1280.png", full_page=True)
        embedded_results(browser, 375, 812, "results-375.png")
        embedded_results(browser, 1280, 900, "results-1280.png")
        browser.close()


if __name__ == "__main__":
    main()

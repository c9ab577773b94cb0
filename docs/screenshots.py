"""Retake the README's screenshots: a first question hosted at 375 px, and embedded in the demo shop at 1280 px.

Needs `make run` serving on the default ports (quizzes on :8000, the demo shop on :8001).

    python docs/screenshots.py
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, sync_playwright

DOCS = Path(__file__).parent
QUIZ = "http://127.0.0.1:8000/q/serum-finder?locale=ja"  # needs a Japanese font (make browser installs one)
SHOP = "http://localhost:8001/quizzes/gift-finder"
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def first_question(page: Page) -> None:
    page.locator("#quiz-step button").first.click()
    page.locator("fieldset[data-question]").wait_for()


def main() -> None:
    with sync_playwright() as playwright:
        options: dict[str, object] = {"headless": True, "args": FLAGS}
        if DEBIAN_CHROMIUM.exists():
            options["executable_path"] = str(DEBIAN_CHROMIUM)
        browser = playwright.chromium.launch(**options)
        phone = browser.new_page(viewport={"width": 375, "height": 812}, device_scale_factor=2, locale="ja-JP")
        phone.goto(QUIZ)
        first_question(phone)
        phone.screenshot(path=DOCS / "widget-375.png", full_page=True)
        desktop = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
        desktop.goto(SHOP)
        frame = desktop.frame_locator("quiz-widget iframe")
        frame.locator("#quiz-step button").first.click()
        frame.locator("fieldset[data-question]").wait_for()
        desktop.wait_for_timeout(300)  # the iframe takes its new height
        desktop.screenshot(path=DOCS / "widget-1280.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    main()

"""A real Chromium for tests: how it is launched, what it may reach, and how a test follows the quiz in it."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Frame, Page, Route
from shopper import answer

from quiz.format.schema import Quiz

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
BLOCK_ALL_COOKIES = {"profile": {"default_content_setting_values": {"cookies": 2}}}
STEP_KEY = """() => {
  if (document.readyState !== "complete" || !document.getElementById("quiz-step")) return "";
  const question = document.querySelector("fieldset[data-question]");
  if (question) return question.dataset.question;
  if (document.querySelector(".quiz-results")) return "results";
  return document.querySelector(".quiz-optin, .quiz-line") ? "gate" : "intro";  // the opt-in before results
}"""


def launch_options() -> dict[str, object]:
    """Debian's Chromium where it is installed (CI here), else Playwright's own (`playwright install`)."""
    options: dict[str, object] = {"headless": True, "args": CHROMIUM_FLAGS}
    if DEBIAN_CHROMIUM.exists():
        options["executable_path"] = str(DEBIAN_CHROMIUM)
    return options


def loopback_only(route: Route) -> None:
    host = urlsplit(route.request.url).hostname
    if host in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        route.abort()


def step_key(view: Page | Frame) -> str:
    return str(view.evaluate(STEP_KEY))


def wait_for_new_step(view: Page | Frame, previous: str) -> str:
    """Polled from here: with JavaScript off, the page runs no timers for wait_for_function."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            key = step_key(view)
        except PlaywrightError:  # the page is between two documents (post/redirect/get)
            key = previous
        if key and key != previous:
            return key
        time.sleep(0.03)
    raise AssertionError(f"still on step {previous!r} at {view.url}")


def embedded_frame(page: Page, quiz_origin: str) -> Frame:
    element = page.locator("quiz-widget iframe, iframe[data-quiz-frame]").first
    element.wait_for()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = element.element_handle().content_frame()
        if frame and frame.url.startswith(quiz_origin) and frame.locator("#quiz-step").count():
            return frame
        time.sleep(0.05)
    raise AssertionError(f"the quiz iframe did not load: {[frame.url for frame in page.frames]}")


def assert_frame_fits(frame: Frame) -> None:
    """The iframe is as tall as its content (within 3 px) and has nothing to scroll."""
    element = frame.frame_element()
    deadline = time.monotonic() + 5
    while True:
        inside = element.evaluate("frame => frame.clientHeight")  # without the shop's border, if any
        content = frame.evaluate("Math.ceil(document.body.getBoundingClientRect().height)")
        overflow = frame.evaluate("document.documentElement.scrollHeight - document.documentElement.clientHeight")
        if abs(inside - content) <= 3 and overflow <= 1:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"iframe {inside}px high vs content {content}px, inner overflow {overflow}px")
        time.sleep(0.05)


def play_to_results(frame: Frame, quiz: Quiz) -> None:
    """Press Start in the embedded quiz and answer every question (as ``shopper.answer`` picks) up to the results.

    Or up to the opt-in gate, for a quiz that shows it before the results.
    """
    frame.locator("#quiz-step button").first.click()
    key = wait_for_new_step(frame, "intro")
    while key not in ("results", "gate"):
        answered = answer(frame, quiz)
        frame.locator("button[value=next]").click()
        key = wait_for_new_step(frame, answered)

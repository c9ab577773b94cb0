"""The example quizzes in a real Chromium, as shoppers meet them.

The quiz server runs on http://127.0.0.1:P1 and the demo shop that embeds it on http://localhost:P2:
another site, as a real shop is. The browser blocks every cookie, cannot reach anything but
loopback, and every screen is scanned with axe-core.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from browsing import assert_frame_fits, embedded_frame, play_to_results, step_key, wait_for_new_step  # noqa: E402
from playwright.sync_api import Frame, Page, expect  # noqa: E402
from shopper import answer, checked_options  # noqa: E402

from quiz.format.schema import Quiz  # noqa: E402

EXAMPLES = Path(__file__).parent.parent / "quizzes"
QUIZ_IDS = ["serum-finder", "coffee-finder", "gift-finder"]
MAX_STEPS = 40


def cookies_refused(view: Page | Frame) -> bool:
    return view.evaluate("() => { document.cookie = 'probe=1; SameSite=None; Secure'; document.cookie = 'probe=1';"
                         " return document.cookie === ''; }")  # fmt: skip


def assert_accessible(view: Page | Frame) -> None:
    results = Axe().run(view)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, results.generate_report()


def play(view: Page | Frame, quiz: Quiz, check: Callable[[], None]) -> list[str]:
    """Start, answer, go back, change the first answer, answer the rest; return the questions seen."""
    check()
    view.locator("#quiz-step button").first.click()
    key = wait_for_new_step(view, "intro")
    check()
    first = answer(view, quiz, variant=0)
    picked = checked_options(view)
    view.locator("button[value=next]").click()
    key = wait_for_new_step(view, first)
    seen = [first]
    if key != "results":
        view.locator("button[value=back]").click()
        key = wait_for_new_step(view, key)
        assert key == first
        assert checked_options(view) == picked, "going back keeps the answer"
        answer(view, quiz, variant=1)
        view.locator("button[value=next]").click()
        key = wait_for_new_step(view, first)
    for _ in range(MAX_STEPS):
        check()
        if key == "results":
            return seen
        seen.append(answer(view, quiz))
        view.locator("button[value=next]").click()
        key = wait_for_new_step(view, key)
    raise AssertionError(f"no results after {MAX_STEPS} steps: {seen}")


def assert_results(view: Page | Frame) -> None:
    products = view.locator(".quiz-product")
    assert products.count() >= 1
    assert products.first.locator(".quiz-reason").inner_text().strip()
    assert products.first.locator(".quiz-product-title").inner_text().strip()


def click_first_product(page: Page, view: Page | Frame, quiz_id: str, shop_origin: str) -> None:
    """The product link opens in the whole window, on the shop, with UTM parameters naming the quiz."""
    link = view.locator(".quiz-product a").first
    with page.expect_request(lambda request: "utm_campaign=" in request.url and request.frame == page.main_frame) as r:
        link.click()
    url = urlsplit(r.value.url)
    assert parse_qs(url.query)["utm_campaign"] == [quiz_id]
    if f"{url.scheme}://{url.netloc}" == shop_origin:  # relative product URLs land on the embedding shop
        page.wait_for_url(f"{shop_origin}/products/**")
        assert page.locator("#campaign").inner_text() == quiz_id


@pytest.mark.parametrize("quiz_id", QUIZ_IDS)
def test_embedded_quiz_on_another_site_with_cookies_blocked(servers, page, quiz_id):
    quiz_origin, shop_origin, quizzes = servers
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{shop_origin}/quizzes/{quiz_id}")
    frame = embedded_frame(page, quiz_origin)
    assert cookies_refused(frame) and cookies_refused(page)

    def check() -> None:
        assert_frame_fits(frame)
        assert_accessible(frame)

    play(frame, quizzes[quiz_id], check)
    assert_results(frame)
    click_first_product(page, frame, quiz_id, shop_origin)


@pytest.mark.parametrize("quiz_id", QUIZ_IDS)
def test_hosted_quiz_without_javascript(servers, scripted_off, quiz_id):
    quiz_origin, _shop_origin, quizzes = servers
    page = scripted_off
    page.goto(f"{quiz_origin}/q/{quiz_id}")
    play(page, quizzes[quiz_id], lambda: None)  # axe itself needs JavaScript: the next test scans these pages
    assert_results(page)
    link = page.locator(".quiz-product a").first
    with page.expect_request(lambda request: "utm_campaign=" in request.url) as request:
        link.click()
    assert parse_qs(urlsplit(request.value.url).query)["utm_campaign"] == [quiz_id]


@pytest.mark.parametrize("quiz_id", QUIZ_IDS)
def test_hosted_quiz_screens_pass_axe(servers, page, quiz_id):
    quiz_origin, _, quizzes = servers
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{quiz_origin}/q/{quiz_id}")
    play(page, quizzes[quiz_id], lambda: assert_accessible(page))
    assert_results(page)


def test_page_context_reaches_the_quiz(servers, page):
    quiz_origin, shop_origin, _ = servers
    page.goto(f"{shop_origin}/quizzes/gift-finder")
    frame = embedded_frame(page, quiz_origin)
    context = dict(
        (field.get_attribute("name"), field.get_attribute("value"))
        for field in frame.locator("input[type=hidden]").all()
    )
    assert context == {"page": f"{shop_origin}/quizzes/gift-finder", "locale": "en", "product": "demo-product"}


def test_popup_opens_the_quiz_in_a_dialog(servers, page):
    quiz_origin, shop_origin, _quizzes = servers
    page.goto(f"{shop_origin}/quizzes/gift-finder?mode=popup")
    assert not [frame for frame in page.frames if frame.url.startswith(quiz_origin)], "nothing loads before a click"
    page.get_by_role("button", name="Find yours").click()
    frame = embedded_frame(page, quiz_origin)
    assert page.locator("quiz-widget dialog").evaluate("dialog => dialog.open")
    assert_frame_fits(frame)
    frame.locator("#quiz-step button").first.click()
    wait_for_new_step(frame, "intro")
    assert_frame_fits(frame)
    page.keyboard.press("Escape")  # pressed inside the quiz: the frame tells the shop's page
    page.wait_for_function("() => !document.querySelector('quiz-widget').shadowRoot.querySelector('dialog').open")


def test_plain_iframe_is_sized_by_the_script(servers, page):
    quiz_origin, shop_origin, _ = servers
    page.goto(f"{shop_origin}/quizzes/coffee-finder?mode=iframe")
    frame = embedded_frame(page, quiz_origin)
    assert_frame_fits(frame)  # the shop's `iframe { height: 50px !important }` notwithstanding


def test_messages_from_elsewhere_do_not_resize_the_frame(servers, page):
    quiz_origin, shop_origin, _ = servers
    page.goto(f"{shop_origin}/quizzes/serum-finder")
    frame = embedded_frame(page, quiz_origin)
    assert_frame_fits(frame)
    page.evaluate("window.postMessage({source: 'quiz-widget', type: 'height', height: 7}, '*')")
    page.wait_for_timeout(200)
    assert frame.frame_element().bounding_box()["height"] > 100
    # Another quiz frame from the same server, not the widget's own: its heights must be ignored.
    page.evaluate(
        """src => {
          const other = document.createElement("iframe");
          other.src = src;
          other.style.height = "900px";
          document.body.appendChild(other);
        }""",
        f"{quiz_origin}/q/coffee-finder",
    )
    page.wait_for_timeout(500)
    assert_frame_fits(frame)


def test_keyboard_only_shopper_hears_each_new_question(servers, page):
    quiz_origin, _, _quizzes = servers
    page.goto(f"{quiz_origin}/q/serum-finder")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    wait_for_new_step(page, "intro")
    page.wait_for_function("document.activeElement.tagName === 'H1'")  # focus moves once htmx settles
    expect(page.locator("#quiz-announce")).to_have_text(re.compile(r"^(Question 1 of|質問 1 /)"))
    before = step_key(page)
    page.keyboard.press("Tab")  # the first option
    page.keyboard.press("Space")
    page.keyboard.press("Enter")  # implicit submission goes forward, never back
    after = wait_for_new_step(page, before)
    assert after != "intro"
    expect(page.locator("#quiz-announce")).to_have_text(re.compile(r"^(Question 2 of|質問 2 /)"))


def test_a_failed_request_is_shown_not_swallowed(servers, page):
    quiz_origin, _, quizzes = servers
    page.goto(f"{quiz_origin}/q/gift-finder")
    page.locator("#quiz-step button").first.click()
    wait_for_new_step(page, "intro")
    answer(page, quizzes["gift-finder"])
    page.route("**/q/gift-finder/answer", lambda route: route.abort("internetdisconnected"))
    page.locator("button[value=next]").click()
    expect(page.locator(".quiz-connection-error")).to_have_text(
        "We could not reach the quiz. Check your connection and try again."
    )
    page.unroute("**/q/gift-finder/answer")
    page.locator("button[value=next]").click()  # the connection is back: the same click goes on
    wait_for_new_step(page, "recipient")


def test_a_mistyped_selector_still_shows_the_quiz(servers, page):
    quiz_origin, shop_origin, _ = servers
    page.goto(f"{shop_origin}/")
    page.evaluate(
        """src => {
          const script = document.createElement("script");
          Object.assign(script.dataset, {quiz: "gift-finder", target: "##not a selector"});
          script.src = src;
          document.body.appendChild(script);
        }""",
        f"{quiz_origin}/widget.js",
    )
    frame = embedded_frame(page, quiz_origin)
    assert_frame_fits(frame)


def walk_two_questions(view: Page | Frame, quiz: Quiz) -> list[str]:
    """Start and answer two questions; return the keys of the three steps seen (the third unanswered)."""
    view.locator("#quiz-step button").first.click()
    keys = [wait_for_new_step(view, "intro")]
    for _ in range(2):
        answer(view, quiz)
        view.locator("button[value=next]").click()
        keys.append(wait_for_new_step(view, keys[-1]))
    return keys


def wait_for_step(view: Page | Frame, wanted: str) -> None:
    """Until ``wanted`` is the step on screen (history navigation reloads the page in between)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if step_key(view) == wanted:
                return
        except playwright_api.Error:  # between two documents
            pass
        time.sleep(0.05)
    raise AssertionError(f"on {step_key(view)!r}, wanted {wanted!r}")


def test_back_forward_and_reload_keep_the_shoppers_place_on_the_hosted_page(servers, page):
    quiz_origin, _, quizzes = servers
    quiz = quizzes["serum-finder"]
    page.goto(f"{quiz_origin}/q/serum-finder")
    first, second, third = walk_two_questions(page, quiz)
    assert "/q/serum-finder/step?t=" in page.url and "dry" not in page.url  # a real address, no answer in it
    page.go_back()
    wait_for_step(page, second)
    page.go_back()
    wait_for_step(page, first)
    page.go_forward()
    wait_for_step(page, second)
    page.go_forward()
    wait_for_step(page, third)
    page.reload()
    wait_for_step(page, third)
    key = third
    while key != "results":
        answer(page, quiz)
        page.locator("button[value=next]").click()
        key = wait_for_new_step(page, key)
    titles = page.locator(".quiz-product-title").all_inner_texts()
    page.reload()  # the results are an address too: reloaded (or shared) they come back
    wait_for_step(page, "results")
    assert page.locator(".quiz-product-title").all_inner_texts() == titles


def test_the_shop_pages_back_button_steps_back_through_the_embedded_quiz(servers, page):
    quiz_origin, shop_origin, quizzes = servers
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{shop_origin}/quizzes/serum-finder")
    frame = embedded_frame(page, quiz_origin)
    first, second, third = walk_two_questions(frame, quizzes["serum-finder"])
    # The shop page's own history: the frame's entries are part of it, so its back button (or a
    # phone's swipe) steps back through the quiz. (page.go_back would wait for the shop page to load.)
    page.evaluate("history.back()")
    wait_for_step(frame, second)
    assert page.url == f"{shop_origin}/quizzes/serum-finder"  # the shopper stays on the shop's page
    page.evaluate("history.back()")
    wait_for_step(frame, first)
    page.evaluate("history.forward()")
    wait_for_step(frame, second)
    page.evaluate("history.forward()")
    wait_for_step(frame, third)
    frame.evaluate("location.reload()")
    wait_for_step(frame, third)
    assert_frame_fits(frame)


def test_after_an_unanswered_question_focus_is_on_its_first_option(servers, page):
    quiz_origin, _, _ = servers
    page.goto(f"{quiz_origin}/q/serum-finder")
    page.locator("#quiz-step button").first.click()
    wait_for_new_step(page, "intro")
    page.locator("button[value=next]").click()  # nothing chosen
    expect(page.locator(".quiz-error")).to_be_visible()
    # The first option of the group the error describes: a fieldset cannot take focus, and <body> says nothing.
    expect(page.locator("fieldset[aria-invalid=true] input").first).to_be_focused()
    assert page.locator("fieldset[aria-invalid=true]").get_attribute("aria-describedby") == "quiz-error"


@pytest.mark.parametrize("mode", ["inline", "popup", "iframe"])
def test_the_widget_says_nothing_in_the_shops_console(servers, page, mode):
    quiz_origin, shop_origin, _ = servers
    said: list[str] = []
    page.on("console", lambda message: said.append(f"{message.type}: {message.text}"))
    page.goto(f"{shop_origin}/quizzes/coffee-finder?mode={mode}")
    if mode == "popup":
        page.locator("quiz-widget button").last.click()  # the opening button, after the dialog's close
    frame = embedded_frame(page, quiz_origin)
    frame.locator("#quiz-step button").first.click()
    wait_for_new_step(frame, "intro")
    page.wait_for_timeout(300)  # messages a late frame might still cause
    assert [line for line in said if not line.startswith(("log:", "debug:"))] == []


def test_images_that_fail_leave_a_tidy_box_and_nothing_overflows_at_320px(servers, page):
    quiz_origin, shop_origin, quizzes = servers
    page.set_viewport_size({"width": 320, "height": 640})
    page.route("**/images/**", lambda route: route.abort())  # as on a shop that has no such paths
    page.goto(f"{shop_origin}/quizzes/gift-finder")
    frame = embedded_frame(page, quiz_origin)
    play_to_results(frame, quizzes["gift-finder"])
    images = frame.locator(".quiz-product img")
    assert images.count() >= 1
    frame.locator(".quiz-product").last.scroll_into_view_if_needed()  # lazy images below the fold load too
    page.wait_for_timeout(300)
    broken = frame.evaluate(
        "[...document.querySelectorAll('.quiz-product img')].filter(i => i.complete && !i.naturalWidth)"
    )
    assert len(broken) == images.count(), "this test needs every image to fail"
    hidden = frame.evaluate(
        "[...document.querySelectorAll('.quiz-product img')].map(i => getComputedStyle(i).visibility)"
    )
    assert hidden == ["hidden"] * images.count()  # an empty box, not the browser's broken-picture icon
    width = frame.evaluate("document.documentElement.clientWidth")
    for card in frame.locator(".quiz-product").all():
        box = card.evaluate("card => [card.getBoundingClientRect().right, card.scrollWidth, card.clientWidth]")
        assert box[0] <= width and box[1] <= box[2], f"a card overflows: {box}, frame {width}px"
    for media in frame.locator(".quiz-product .quiz-media").all():
        size = media.bounding_box()
        assert abs(size["width"] - size["height"]) <= 1  # the square box, image or not
    assert frame.locator(".quiz-product .quiz-media").count() == images.count()
    assert frame.evaluate("document.documentElement.scrollWidth") <= width


def test_add_to_cart_tells_the_shop_page_which_products_and_stays_on_it(servers, page):
    quiz_origin, shop_origin, quizzes = servers
    page.goto(f"{shop_origin}/quizzes/gift-finder")  # its results send quiz:add-to-cart ("event" mode)
    page.evaluate("window.carts = []; document.addEventListener('quiz:add-to-cart', e => carts.push(e.detail))")
    frame = embedded_frame(page, quiz_origin)
    play_to_results(frame, quizzes["gift-finder"])
    first = frame.locator(".quiz-product").first
    title = first.locator(".quiz-product-title").inner_text()
    first.get_by_role("button", name=re.compile("^Add to cart")).click()
    page.wait_for_function("carts.length === 1")
    (told,) = page.evaluate("carts")
    (product,) = told["products"]
    assert told["quiz"] == "gift-finder" and quizzes["gift-finder"].product_index[product["product"]].title == title
    frame.get_by_role("button", name=re.compile("^Add all")).click()
    page.wait_for_function("carts.length === 2")
    assert len(page.evaluate("carts")[1]["products"]) == frame.locator(".quiz-product").count()
    assert page.url == f"{shop_origin}/quizzes/gift-finder"  # the theme's cart does the rest, on this page


LINES = """element => {
  // The element's text, line by line as laid out: each character's box, grouped by its top.
  const lines = [];
  let top = null;
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let index = 0; index < node.length; index++) {
      const range = document.createRange();
      range.setStart(node, index);
      range.setEnd(node, index + 1);
      const box = range.getClientRects()[0];
      if (!box) continue;
      if (top === null || box.top > top + 2) { lines.push(""); top = box.top; }
      lines[lines.length - 1] += node.data[index];
    }
  }
  return lines;
}"""


@pytest.mark.parametrize("width", [320, 375])
def test_japanese_titles_break_between_phrases_at_phone_widths(servers, page, width):
    quiz_origin, _, quizzes = servers
    quiz = quizzes["serum-finder"]
    page.set_viewport_size({"width": width, "height": 740})
    page.goto(f"{quiz_origin}/q/serum-finder?locale=ja")
    titles = [page.locator("h1")]
    page.locator("#quiz-step button").first.click()
    key = wait_for_new_step(page, "intro")
    titles_seen = []
    for _ in range(len(quiz.questions)):
        for title in [*titles, page.locator("h1"), *page.locator(".quiz-option-label").all()]:
            phrases = title.evaluate("element => element.innerHTML.replace(/<\\/?span[^>]*>/g, '')").split("<wbr>")
            ends = {sum(len(phrase) for phrase in phrases[: index + 1]) for index in range(len(phrases))}
            lines = title.evaluate(LINES)
            titles_seen.append(lines)
            position = 0
            for line in lines[:-1]:
                position += len(line)
                # Between phrases, or after punctuation (・、), which keep-all still lets a line end on.
                after_punctuation = unicodedata.category(line[-1]).startswith("P")
                assert position in ends or after_punctuation, f"{lines} breaks inside a phrase of {phrases}"
            assert len(lines[-1]) > 1 or len("".join(lines)) == 1, f"a lone last character: {lines}"
        titles = []
        if key == "results":
            break
        answer(page, quiz)
        page.locator("button[value=next]").click()
        key = wait_for_new_step(page, key)
    assert any(len(lines) > 1 for lines in titles_seen), f"no title wrapped: the test proved nothing: {titles_seen}"

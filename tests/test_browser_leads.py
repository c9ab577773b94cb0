"""A shopper opts in from a quiz embedded on another site, and the marketer then exports a subscribed lead.

Real parts only: Chromium with cookies blocked, the quiz server and the demo shop on two loopback
origins, and an SMTP server (aiosmtpd) that receives the confirmation email the test then follows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from browsing import assert_frame_fits, embedded_frame, play_to_results
from live import quiz_beside_shop
from playwright.sync_api import Frame, Page, expect
from smtp_server import Inbox, Server

from quiz.leads import optin
from quiz.leads.channel import EmailChannel
from quiz.settings import Settings, Smtp
from quiz.store import files as durable
from quiz.web.services import services_of

EXAMPLES = Path(__file__).parent.parent / "quizzes"
ADDRESS = "Kaori.Tanaka@Example.JP"


@pytest.fixture(scope="module")
def shop_with_mail(tmp_path_factory) -> Iterator[dict[str, Any]]:
    inbox = Inbox()
    smtp = Server(inbox)
    smtp.start()

    def settings_for(quiz_origin: str, shop_origin: str) -> Settings:
        return Settings(
            quizzes_dir=EXAMPLES,
            data_dir=tmp_path_factory.mktemp("data"),
            secret_keys=("browser-lead-tests",),
            embed_origins=(shop_origin,),
            public_url=quiz_origin,
            smtp=Smtp(host="127.0.0.1", port=smtp.port, tls="none"),
            mail_from="Example Roasters <hello@example-roasters.com>",
        )

    try:
        with quiz_beside_shop(settings_for) as (app, quiz_origin, shop_origin):
            services_of(app).channel(EmailChannel).mail.start()
            settings = services_of(app).settings
            yield {"app": app, "quiz": quiz_origin, "shop": shop_origin, "inbox": inbox, "settings": settings}
            services_of(app).channel(EmailChannel).mail.close()
    finally:
        smtp.stop()


def test_opt_in_on_a_foreign_site_then_confirm_by_email_then_export(shop_with_mail, page):
    quiz_origin, shop_origin = shop_with_mail["quiz"], shop_with_mail["shop"]
    frame = _results_on_the_shop(shop_with_mail, page)
    assert_frame_fits(frame)  # the frame has grown to the results: nothing moves under the pointer
    heights = set()
    for _ in range(15):  # this quiz's images are on a site the browser cannot reach: broken images
        heights.add(frame.frame_element().bounding_box()["height"])
        time.sleep(0.03)
    assert len(heights) == 1, f"the frame keeps changing height: {heights}"
    frame.get_by_label("Email address").fill(ADDRESS)
    frame.get_by_text(re.compile("new single origins arrive")).click()  # the consent line, as people click it
    expect(frame.get_by_label(re.compile("new single origins arrive"))).to_be_checked()
    frame.get_by_role("button", name="Email me my results").click()
    expect(frame.locator(".quiz-optin-sent")).to_contain_text("confirm your subscription")

    message = _one_message(shop_with_mail["inbox"])
    assert message["To"] == "kaori.tanaka@example.jp"
    confirm = re.search(r"(http://\S+/confirm/\S+)", message.get_body(("plain",)).get_content())
    assert confirm and confirm[1].startswith(quiz_origin)
    page.goto(confirm[1])  # as from the shopper's mail app: a top-level page, no iframe
    page.get_by_role("button", name="Confirm my subscription").click()
    expect(page.get_by_role("heading")).to_have_text("You are subscribed")

    (row,) = _export(shop_with_mail["settings"], "--consent", "subscribed", "--format", "jsonl")
    assert row["email"] == "kaori.tanaka@example.jp" and row["consent_status"] == "subscribed"
    assert row["consent_version"].startswith("2026-10-01+") and row["quiz"] == "coffee-finder"
    assert row["site"] == shop_origin
    evidence = list(services_of(shop_with_mail["app"]).store.records("consent"))
    assert [record["action"] for record in evidence] == ["opt_in", "confirmed"]
    assert evidence[0]["checkbox"] is True and evidence[0]["text"].startswith("Email me my matches")
    assert evidence[0]["origin"] == shop_origin and evidence[1]["method"] == "double_opt_in"


def test_a_full_disk_keeps_the_results_and_the_typed_address_and_the_same_form_goes_through_later(shop_with_mail, page):
    frame = _results_on_the_shop(shop_with_mail, page)
    frame.get_by_label("Email address").fill("full.disk@example.jp")

    def refuse(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(durable.os, "replace", refuse)
        for _ in range(2):  # a second try, still full, shows one alert, not two
            # Waiting for the answer itself: the alert of the try before would satisfy any locator.
            with page.expect_response(lambda response: response.url.endswith("/optin")) as answer:
                frame.get_by_role("button", name="Email me my results").click()
            assert answer.value.status == 503
            expect(frame.locator(".quiz-alert")).to_have_count(1)
            expect(frame.locator(".quiz-alert")).to_contain_text("please try again shortly")
    expect(frame.locator(".quiz-product").first).to_be_visible()  # the step stayed: results and form
    expect(frame.get_by_label("Email address")).to_have_value("full.disk@example.jp")
    assert_frame_fits(frame)

    frame.get_by_role("button", name="Email me my results").click()  # the disk came back
    expect(frame.locator(".quiz-optin-sent")).to_be_visible()


def _results_on_the_shop(shop_with_mail: dict[str, Any], page: Page) -> Frame:
    """The coffee finder played to its results, embedded on the demo shop, as long as a person reads them."""
    quiz = services_of(shop_with_mail["app"]).library.get("coffee-finder")
    page.goto(f"{shop_with_mail['shop']}/quizzes/coffee-finder")
    frame = embedded_frame(page, shop_with_mail["quiz"])
    play_to_results(frame, quiz)
    time.sleep(optin.MIN_SECONDS_ON_FORM + 0.2)  # a person reads the results before typing
    return frame


def _one_message(inbox: Inbox) -> Any:
    deadline = time.monotonic() + 15
    while not inbox.envelopes:
        if time.monotonic() > deadline:
            raise AssertionError("no email reached the SMTP server")
        time.sleep(0.05)
    (message,) = inbox.messages()
    return message


def _export(settings: Settings, *arguments: str) -> list[dict[str, Any]]:
    """``quiz export`` as a marketer runs it, next to the running server."""
    environment = {**os.environ, "QUIZ_DATA_DIR": str(settings.data_dir), "QUIZ_QUIZZES_DIR": str(EXAMPLES)}
    command = [sys.executable, "-m", "quiz.cli", "export", *arguments]
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60, check=False)
    assert finished.returncode == 0, finished.stderr
    return [json.loads(line) for line in finished.stdout.splitlines()]


def _in_view_of_the_shop(page: Page, frame: Frame, selector: str) -> bool:
    """The element inside the quiz frame is within the shop page's viewport."""
    frame_top = frame.frame_element().bounding_box()["y"]  # relative to the shop page's viewport
    box = frame.locator(selector).evaluate("element => element.getBoundingClientRect().toJSON()")
    top = frame_top + box["top"]
    return top >= 0 and top + box["height"] <= page.viewport_size["height"]


def test_focus_goes_to_the_address_to_correct_then_to_the_confirmation_in_view(shop_with_mail, page):
    page.set_viewport_size({"width": 375, "height": 640})
    shop_with_mail["inbox"].envelopes.clear()  # what earlier tests here sent
    frame = _results_on_the_shop(shop_with_mail, page)
    frame.get_by_label("Email address").fill("kaori@")
    frame.get_by_role("button", name="Email me my results").click()
    expect(frame.locator("#quiz-optin-error")).to_be_visible()
    # Focus lands on the field to correct (which the error describes), not on the page's body.
    focused = "() => [document.activeElement.id, document.activeElement.getAttribute('aria-describedby')]"
    deadline = time.monotonic() + 5
    while frame.evaluate(focused) != ["quiz-email", "quiz-optin-error"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert frame.evaluate(focused) == ["quiz-email", "quiz-optin-error"]
    frame.get_by_label("Email address").fill("shown.in.view@example.jp")
    frame.get_by_role("button", name="Email me my results").click()
    sent = frame.locator(".quiz-optin-sent")
    expect(sent).to_be_focused()
    assert sent.get_attribute("role") == "status"  # read out as it appears
    deadline = time.monotonic() + 5
    while not _in_view_of_the_shop(page, frame, ".quiz-optin-sent") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _in_view_of_the_shop(page, frame, ".quiz-optin-sent"), "the confirmation is out of sight"
    assert _one_message(shop_with_mail["inbox"])["To"] == "shown.in.view@example.jp"
    shop_with_mail["inbox"].envelopes.clear()  # the other tests here count the messages they cause

"""Shoppers play the example quizzes on another site, then a marketer uses the dashboard in real Chromium.

The marketer signs in, reads the funnel and the answer shares (checked against what the shoppers
did), filters by a campaign with htmx (the URL follows, the back button works), downloads the
CSV and checks its rows, and as owner erases a person. Every dashboard page is scanned with axe.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from axe_playwright_python.sync_playwright import Axe
from browsing import embedded_frame, launch_options, loopback_only, play_to_results
from live import quiz_beside_shop
from playwright.sync_api import Page, expect

from quiz.leads import optin
from quiz.settings import Settings
from quiz.web.services import services_of

EXAMPLES = Path(__file__).parent.parent / "quizzes"
OWNER, PASSWORD = "owner@example.com", "a long enough password"
SHOPPER = "aiko.sato@example.jp"


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Iterator[dict[str, Any]]:
    def settings_for(quiz_origin: str, shop_origin: str) -> Settings:
        return Settings(
            quizzes_dir=EXAMPLES,
            data_dir=tmp_path_factory.mktemp("data"),
            secret_keys=("browser-dashboard-tests",),
            embed_origins=(shop_origin,),
            public_url=quiz_origin,
        )

    with quiz_beside_shop(settings_for) as (app, quiz_origin, shop_origin):
        app.state.dashboard.users.add(OWNER, "owner", PASSWORD)
        yield {"app": app, "quiz": quiz_origin, "shop": shop_origin}


@pytest.fixture
def marketer(playwright) -> Iterator[Page]:
    """A marketer's own browser: first-party cookies allowed (the dashboard's session), loopback only."""
    browser = playwright.chromium.launch(**launch_options())
    context = browser.new_context(accept_downloads=True, locale="en-US")
    context.route("**/*", loopback_only)
    yield context.new_page()
    context.close()
    browser.close()


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, results.generate_report()


def shopper_plays(shop: dict[str, Any], page: Page, quiz_id: str, campaign: str, email: str = "") -> None:
    quiz = services_of(shop["app"]).library.get(quiz_id)
    page.goto(f"{shop['shop']}/quizzes/{quiz_id}?utm_source={campaign}")
    frame = embedded_frame(page, shop["quiz"])
    play_to_results(frame, quiz)
    if email:
        time.sleep(optin.MIN_SECONDS_ON_FORM + 0.2)  # a person reads the results before typing
        frame.get_by_label("Email address").fill(email)
        frame.get_by_role("checkbox").first.check()
        frame.get_by_role("button", name=re.compile("Email me")).click()
        expect(frame.locator(".quiz-optin-sent")).to_be_visible()


def counted(shop: dict[str, Any]) -> None:
    """What a running server writes each second (the test server runs without its background tasks)."""
    found = services_of(shop["app"])
    found.store.flush()
    found.tally.flush()


def cell(page: Page, row: str, column: int) -> str:
    return page.locator(row).locator("td").nth(column).inner_text()


def test_shoppers_then_a_marketer_reads_filters_downloads_and_erases(shop, page, marketer):
    shopper_plays(shop, page, "coffee-finder", "newsletter", email=SHOPPER)
    shopper_plays(shop, page, "coffee-finder", "instagram")
    shopper_plays(shop, page, "serum-finder", "instagram")
    counted(shop)
    quiz = shop["quiz"]

    marketer.goto(f"{quiz}/admin")
    expect(marketer).to_have_url(re.compile(r"/admin/login\?next="))
    assert_accessible(marketer)
    marketer.get_by_label("Email address").fill(OWNER)
    marketer.get_by_label("Password").fill(PASSWORD)
    marketer.get_by_role("button", name="Sign in").click()
    expect(marketer.get_by_role("heading", level=1)).to_have_text("Funnel")
    marketer.get_by_label("Period").select_option("today")
    marketer.get_by_role("button", name="Apply").click()
    expect(marketer).to_have_url(re.compile(r"range=today"))
    assert cell(marketer, '[data-stage="completed"]', 0) == "3"
    assert cell(marketer, '[data-stage="opted_in:email"]', 0) == "1"
    assert marketer.locator("svg.chart polyline, svg.chart circle").count() == 3
    assert_accessible(marketer)

    marketer.get_by_role("link", name="Answers").click()
    marketer.get_by_label("Quiz").select_option("coffee-finder")
    marketer.get_by_role("button", name="Apply").click()
    expect(marketer).to_have_url(re.compile(r"/admin/answers\?quiz=coffee-finder"))
    first_question = marketer.locator(".admin-question").first
    expect(first_question).to_contain_text("2 completed runs answered")
    shares = first_question.locator("[data-share]").all_inner_texts()
    assert "100.0%" in shares  # both coffee shoppers gave the answer the test shopper picks
    assert_accessible(marketer)

    marketer.get_by_role("link", name="Traffic").click()
    expect(marketer.get_by_label("Quiz")).to_have_value("coffee-finder")  # the navigation keeps the filters
    marketer.get_by_label("Quiz").select_option("")
    marketer.get_by_label("By").select_option("source")
    marketer.get_by_role("button", name="Apply").click()  # swapped in by htmx; the URL follows
    expect(marketer.locator('[data-value="instagram"]')).to_be_visible()
    expect(marketer).to_have_url(re.compile(r"by=source"))
    assert cell(marketer, '[data-value="instagram"]', 2) == "2"  # completions from the Instagram ad
    assert cell(marketer, '[data-value="newsletter"]', 3) == "1"  # the opt-in came from the newsletter
    assert_accessible(marketer)
    marketer.get_by_label("By").select_option("locale")
    marketer.get_by_role("button", name="Apply").click()
    expect(marketer).to_have_url(re.compile(r"by=locale"))
    marketer.go_back()
    expect(marketer).to_have_url(re.compile(r"by=source"))
    expect(marketer.locator('[data-value="instagram"]')).to_be_visible()

    marketer.get_by_label("Period").select_option("custom")
    marketer.get_by_label("From", exact=True).fill("2026-12-02")
    marketer.get_by_label("To", exact=True).fill("2026-12-01")
    marketer.get_by_role("button", name="Apply").click()  # a 400 is swapped in too, and read out
    expect(marketer.get_by_role("heading", level=1)).to_contain_text("This filter cannot be used: until")
    expect(marketer.locator("#admin-status")).to_contain_text("This filter cannot be used")
    marketer.get_by_role("link", name="This page without filters").click()
    expect(marketer.get_by_role("heading", level=1)).to_have_text("Traffic")
    marketer.get_by_role("button", name="Apply").click()
    expect(marketer.locator("#admin-apply")).to_be_focused()  # htmx swapped the form: the focus stays
    expect(marketer.locator("#admin-status")).to_contain_text("Traffic: ")  # and the new view is read out

    for section in ("Drop-off", "Recommendations"):
        marketer.get_by_role("link", name=section).click()
        expect(marketer.get_by_role("heading", level=1)).to_have_text(section)
        assert_accessible(marketer)

    marketer.get_by_role("link", name="Leads").click()
    marketer.get_by_label("Consent").select_option("any")
    marketer.get_by_role("button", name="Apply").click()
    expect(marketer.locator("#leads")).to_contain_text(SHOPPER)
    assert_accessible(marketer)
    with marketer.expect_download() as download:
        marketer.locator("#download-csv").click()
    rows = list(csv.DictReader(Path(download.value.path()).read_text(encoding="utf-8").splitlines()))
    assert [(row["email"], row["quiz"], row["consent_status"]) for row in rows] == [
        (SHOPPER, "coffee-finder", "pending")
    ]

    marketer.get_by_role("link", name=SHOPPER).click()
    expect(marketer.locator("#evidence")).to_contain_text("opt_in")
    assert_accessible(marketer)
    marketer.get_by_role("link", name="Erase this person").click()
    expect(marketer.get_by_role("heading", level=1)).to_contain_text(SHOPPER)
    assert_accessible(marketer)
    marketer.get_by_role("button", name="Yes, erase everything").click()
    expect(marketer.get_by_role("status")).to_contain_text("The person was erased")
    expect(marketer.locator("#leads")).to_have_count(0)
    assert not list(services_of(shop["app"]).store.find("leads", email=SHOPPER))

    marketer.get_by_role("button", name="Sign out").click()
    expect(marketer).to_have_url(re.compile(r"/admin/login"))
    marketer.goto(f"{quiz}/admin/leads")
    expect(marketer).to_have_url(re.compile(r"/admin/login"))


def test_without_javascript_every_filter_is_a_form_and_a_page(shop, scripted_off):
    page = scripted_off
    page.goto(f"{shop['quiz']}/admin/answers")
    page.get_by_label("Email address").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Answers")  # back where the marketer was going
    page.get_by_label("Quiz").select_option("serum-finder")
    page.get_by_label("Period").select_option("30d")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/admin/answers\?quiz=serum-finder&range=30d"))
    expect(page.get_by_label("Quiz")).to_have_value("serum-finder")
    page.get_by_role("link", name="Funnel").click()
    expect(page).to_have_url(re.compile(r"/admin\?quiz=serum-finder&range=30d"))

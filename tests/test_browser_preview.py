"""The merchant's preview in real Chromium: signed in, the quiz played in it, the trace beside each step the
engine's own for that path, and an edit of the quiz file showing up without touching the browser."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from axe_playwright_python.sync_playwright import Axe
from browsing import launch_options, loopback_only
from live import quiz_beside_shop
from playwright.sync_api import Frame, Page

from quiz.engine.explain import explain
from quiz.settings import Settings
from quiz.web.services import services_of

EXAMPLES = Path(__file__).parent.parent / "quizzes"
OWNER, PASSWORD = "owner@example.com", "a long enough password"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[dict[str, Any]]:
    quizzes = tmp_path_factory.mktemp("quizzes")
    shutil.copy(EXAMPLES / "gift-finder.json", quizzes / "gift-finder.json")

    def settings_for(quiz_origin: str, shop_origin: str) -> Settings:
        data = tmp_path_factory.mktemp("data")
        return Settings(
            quizzes_dir=quizzes, data_dir=data, secret_keys=("preview-tests",), embed_origins=(shop_origin,)
        )

    with quiz_beside_shop(settings_for) as (app, quiz_origin, _):
        app.state.dashboard.users.add(OWNER, "owner", PASSWORD)
        yield {"app": app, "origin": quiz_origin, "file": quizzes / "gift-finder.json"}


@pytest.fixture
def merchant(playwright) -> Iterator[Page]:
    browser = playwright.chromium.launch(**launch_options())
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.route("**/*", loopback_only)
    yield context.new_page()
    context.close()
    browser.close()


def shown_points(page: Page) -> list[tuple[str, str]]:
    """Read at once: the trace may be replaced between two reads."""
    rows = page.evaluate(
        "[...document.querySelectorAll('#trace-points tbody tr')].map(row => [row.dataset.product, row.dataset.points])"
    )
    return [(product, points) for product, points in rows]


def expected_points(server: dict[str, Any], answers: dict[str, Any]) -> list[tuple[str, str]]:
    quiz = services_of(server["app"]).library.get("gift-finder")
    return [(standing.product_id, f"{standing.points:g}") for standing in explain(quiz, answers).standings]


def wait_for_trace(page: Page, expected: list[tuple[str, str]]) -> None:
    deadline = time.monotonic() + 10
    while shown_points(page) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"trace {shown_points(page)} instead of {expected}")
        page.wait_for_timeout(100)


def pick_first(frame: Frame) -> tuple[str, Any]:
    question = frame.locator("fieldset[data-question]")
    question_id = question.get_attribute("data-question")
    boxes = question.locator("input")
    kind = boxes.first.get_attribute("type")
    boxes.first.check()
    value = boxes.first.get_attribute("value")
    return question_id, [value] if kind == "checkbox" else value


def test_the_trace_beside_each_step_is_the_engines_and_follows_an_edit(server, merchant):
    page = merchant
    page.goto(f"{server['origin']}/admin/preview/gift-finder")
    page.get_by_label("Email address").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/admin/preview/gift-finder$"))
    wait_for_trace(page, expected_points(server, {}))
    frame = page.frame_locator("#preview-frame")
    frame.locator("#quiz-step button").first.click()
    live = page.frame(url=re.compile(r"/q/gift-finder"))
    answers: dict[str, Any] = {}
    for _ in range(2):
        live.locator("fieldset[data-question]").wait_for()
        question_id, value = pick_first(live)
        answers[question_id] = value
        live.locator("button[value=next]").click()
        wait_for_trace(page, expected_points(server, answers))
    before = shown_points(page)
    assert before and page.locator("#trace-results li").count() >= 1
    results = Axe().run(page).response["violations"]
    assert [v["id"] for v in results if v["impact"] in ("serious", "critical")] == []

    # The merchant doubles every weight of the quiz and saves: the preview reloads and re-traces.
    document = json.loads(server["file"].read_text(encoding="utf-8"))
    for question in document["questions"]:
        for option in question.get("options", []):
            if isinstance(option, dict) and "points" in option:
                option["points"] = {
                    kind: {name: 2 * weight for name, weight in weights.items()}
                    for kind, weights in option["points"].items()
                }
    server["file"].write_text(json.dumps(document), encoding="utf-8")
    deadline = time.monotonic() + 15
    while services_of(server["app"]).library.get("gift-finder") is None or expected_points(server, answers) == before:
        assert time.monotonic() < deadline, "the server did not read the saved file"
        time.sleep(0.2)
    doubled = expected_points(server, answers)
    assert doubled == [(product, f"{2 * float(points):g}") for product, points in before]
    wait_for_trace(page, doubled)

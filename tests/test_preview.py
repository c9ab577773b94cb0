"""The merchant's preview over HTTP: signed in only, the trace the engine gives, every ending with its replay.

The preview in a real browser (the trace following the steps, the reload on save) is in
tests/test_browser_preview.py.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from factory import quiz_document
from html_page import Page
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.engine.explain import explain
from quiz.settings import from_environment
from quiz.web.services import services_of

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(tmp_path):
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    (quizzes / "serum.json").write_text(json.dumps(quiz_document()), encoding="utf-8")
    app = create_app(from_environment({"QUIZ_DATA_DIR": str(tmp_path / "data")}, quizzes_dir=str(quizzes)))
    with TestClient(app, base_url="http://quiz.test") as opened:
        app.state.dashboard.users.add("viewer@example.com", "viewer", PASSWORD)
        yield opened


def sign_in(client):
    form = Page(client.get("/admin/login").text)
    data = {"email": "viewer@example.com", "password": PASSWORD, "csrf": form.value("csrf"), "next": "/admin"}
    assert client.post("/admin/login", data=data, follow_redirects=False).status_code == 303


def token_after(client, *answers, mark=""):
    response = client.post("/q/serum/start", data={"preview": mark} if mark else {})
    for value in answers:
        response = client.post(
            "/q/serum/answer", data={"t": Page(response.text).value("t"), "a": value, "action": "next"}
        )
    return Page(response.text).value("t")


@pytest.mark.parametrize(
    "path",
    [
        "/admin/preview/serum",
        "/admin/preview/serum/trace",
        "/admin/preview/serum/paths",
        "/admin/preview/serum/version",
    ],
)
def test_the_preview_needs_a_signed_in_user(client, path):
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/admin/login?next=")


def test_the_guessable_address_leads_to_the_dashboards_preview(client):
    response = client.get("/q/serum/preview", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/preview/serum"


def test_the_preview_frames_the_quiz_marked_and_is_never_framed_itself(client):
    sign_in(client)
    response = client.get("/admin/preview/serum")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "frame-src 'self'" in policy
    assert response.headers["x-robots-tag"] == "noindex, nofollow"
    src = re.search(r'<iframe id="preview-frame" class="admin-preview-frame" src="([^"]+)"', response.text)[1]
    assert src.startswith("/q/serum?preview=")
    assert client.get("/admin/preview/nothing").status_code == 404


def test_runs_in_the_preview_are_not_counted_and_not_stored(client):
    sign_in(client)
    mark = services_of(client.app).links.preview_mark()
    store = services_of(client.app).store
    token_after(client, "dry", "no", mark=mark)
    client.get("/q/serum", params={"preview": mark})
    store.flush()
    assert list(store.records("events")) == [] and list(store.records("responses")) == []
    token_after(client, "dry", "no", mark=mark[:-3] + "abc")  # a forged mark: an ordinary, counted run
    store.flush()
    assert {event["kind"] for event in store.records("events")} >= {"started", "completed"}


@pytest.mark.parametrize("answers", [(), ("dry",), ("dry", "yes"), ("oily", "no")])
def test_the_trace_is_the_engines_for_the_answers_the_token_carries(client, answers):
    sign_in(client)
    token = token_after(client, *answers)
    html = client.get("/admin/preview/serum/trace", params={"t": token}).text
    quiz = services_of(client.app).library.get("serum")
    expected = explain(quiz, dict(zip(["skin", "fragrance"], answers, strict=False)))
    shown = re.findall(r'<tr data-product="([^"]+)" data-points="([^"]+)">', html)
    assert shown == [(standing.product_id, f"{standing.points:g}") for standing in expected.standings]
    results = re.findall(r'<li data-product="([^"]+)">', html.split('id="trace-results"')[1].split("</ol>")[0])
    assert results == [item.product.id for item in expected.results.items]
    removed = re.findall(r'<li data-product="([^"]+)">', html.split("trace-removed")[1])
    assert removed == [product_id for product_id, _ in expected.removed]
    if answers == ("dry", "yes"):
        assert removed == ["rose"] and "questions[1].yes requires" in html  # rose is not fragrance-free


@pytest.mark.parametrize("token", ["garbage", "x" * 20_000, "%00", ""])
def test_a_bad_token_gives_the_intros_trace_never_an_error(client, token):
    sign_in(client)
    response = client.get("/admin/preview/serum/trace", params={"t": token})
    assert response.status_code == 200 and "trace-points" in response.text


def test_every_ending_is_listed_with_a_replay_of_one_path_to_it(client):
    sign_in(client)
    html = client.get("/admin/preview/serum/paths").text
    assert "All 4 answer paths, ending in" in html
    endings = re.findall(r'<tr data-products="([^"]*)">', html)
    assert len(endings) == len(set(endings)) >= 2
    replay = re.search(r'href="(/admin/preview/serum\?t=[^"]+)"', html)[1]
    page = client.get(replay.replace("&amp;", "&")).text
    src = re.search(r'id="preview-frame" class="admin-preview-frame" src="([^"]+)"', page)[1]
    assert src.startswith("/q/serum/step?t=")
    step = client.get(src.replace("&amp;", "&")).text
    assert "quiz-results" in step  # the replayed path, at its results


def test_the_version_changes_when_the_quiz_file_is_saved(client, tmp_path):
    sign_in(client)
    before = client.get("/admin/preview/serum/version").json()["version"]
    path = tmp_path / "quizzes" / "serum.json"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    services_of(client.app).library._checked_at = float("-inf")  # no waiting for the once-a-second look
    assert client.get("/admin/preview/serum/version").json()["version"] != before


def test_the_dashboard_lists_every_quiz_to_preview_and_goes_to_the_one_a_report_was_on(client):
    sign_in(client)
    listing = client.get("/admin/preview").text
    assert 'href="/admin/preview/serum"' in listing and 'href="/admin/preview/serum/paths"' in listing
    assert 'href="/admin/preview' in client.get("/admin").text  # in the navigation
    moved = client.get("/admin/preview", params={"quiz": "serum", "range": "7d"}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/admin/preview/serum"
    assert client.get("/admin/preview", params={"quiz": "../x"}).status_code == 200  # unknown: the list

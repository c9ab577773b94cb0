"""One handler for every error: the status and words each error class carries, as a page, a fragment or JSON."""

from __future__ import annotations

import json

import pytest
from factory import quiz_document
from html_page import Page
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.leads import optin
from quiz.settings import from_environment
from quiz.store import files as durable

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def humans_type_instantly(monkeypatch):
    monkeypatch.setattr(optin, "MIN_SECONDS_ON_FORM", 0)


@pytest.fixture
def client(tmp_path):
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    document = quiz_document(lead_capture={"channels": ["email"], "consent": {"text": "Mail me.", "version": "1"}})
    (quizzes / "serum.json").write_text(json.dumps(document), encoding="utf-8")
    environment = {"QUIZ_DATA_DIR": str(tmp_path / "data"), "QUIZ_API_KEY": "key"}
    settings = from_environment(environment, quizzes_dir=str(quizzes))
    with TestClient(create_app(settings), base_url="http://quiz.test") as opened:
        yield opened


@pytest.fixture
def full_disk(client):
    def refuse(source, target):
        raise OSError(28, "No space left on device")

    with pytest.MonkeyPatch.context() as patch:  # undone before the client closes (and flushes) the store
        patch.setattr(durable.os, "replace", refuse)
        yield


def results_token(client) -> str:
    page = Page(client.post("/q/serum/start", data={}).text)
    for value in ("dry", "no"):
        page = Page(client.post("/q/serum/answer", data={"t": page.value("t"), "a": value}).text)
    return page.value("t")


def test_a_full_disk_under_htmx_keeps_the_step_and_says_so_above_it(client, full_disk):
    token = results_token(client)
    data = {"t": token, "email": "a@example.com", "action": "send"}
    response = client.post("/q/serum/optin", data=data, headers={**HTMX, "Accept-Language": "ja"})
    assert response.status_code == 503
    # htmx puts the sentence at the top of the step the shopper is on: the form keeps what they typed.
    assert response.headers["HX-Retarget"] == "#quiz-step" and response.headers["HX-Reswap"] == "afterbegin"
    # In the step's language (this quiz speaks English only), not the browser's Japanese.
    assert "Nothing was sent" in Page(response.text).text("quiz-alert")
    assert "<form" not in response.text


def test_a_full_disk_without_javascript_is_a_page_in_the_shoppers_language(client, full_disk):
    token = results_token(client)
    response = client.post("/q/serum/optin", data={"t": token, "email": "a@example.com", "action": "send"})
    assert response.status_code == 503 and "HX-Retarget" not in response.headers
    page = Page(response.text)
    assert page.text("quiz-title") == "Please try again shortly"
    assert "Nothing was sent" in page.text("quiz-lead")
    assert response.headers["Cache-Control"] == "no-store"


def test_programs_get_json_for_the_same_error(client, full_disk):
    forget = client.post("/api/forget", data={"email": "a@example.com"}, headers={"Authorization": "Bearer key"})
    assert forget.status_code == 503
    assert forget.json()["error"] == "unavailable" and "try again" in forget.json()["message"]
    asked = client.get("/q/nope", headers={"Accept": "application/json"})
    assert asked.status_code == 404 and asked.json()["error"] == "not_found"


def test_programs_get_json_behind_a_proxy_prefix_too(client, full_disk):
    prefixed = TestClient(client.app, base_url="http://quiz.test", root_path="/quiz")
    forget = prefixed.post("/api/forget", data={"email": "a@example.com"}, headers={"Authorization": "Bearer key"})
    assert forget.status_code == 503 and forget.json()["error"] == "unavailable"


def test_a_missing_quiz_under_htmx_is_the_not_found_fragment_not_an_alert(client):
    response = client.get("/q/no-such-quiz", headers=HTMX)
    assert response.status_code == 404 and "HX-Retarget" not in response.headers
    assert Page(response.text).text("quiz-title") == "Quiz not found"


@pytest.mark.parametrize("path", ["/confirm/forged", "/unsubscribe/forged"])
def test_a_forged_link_is_link_invalid_in_one_place(client, path):
    response = client.get(path, headers={"Accept-Language": "ja"})
    assert response.status_code == 400
    assert Page(response.text).text("quiz-title") == "このリンクは使えません"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/q/serum/start", "/q/serum/answer", "/q/serum/optin", "/admin/login"])
def test_a_form_of_a_thousand_fields_or_a_file_is_refused_with_a_sentence(client, path):
    start = Page(client.post("/q/serum/start", data={}).text)
    fields = {"t": start.value("t"), **{f"f{number}": "x" for number in range(999)}}
    response = client.post(path, data=fields, headers={"Accept-Language": "ja"})
    assert response.status_code == 400 and "Traceback" not in response.text
    if path.startswith("/q/"):
        assert Page(response.text).text("quiz-title") == "このフォームは読み取れません"
    with_file = client.post(path, data={"t": start.value("t")}, files={"a": ("a.txt", b"x")})
    assert with_file.status_code == 400


def test_a_step_of_a_hundred_ticked_options_is_still_read(client):
    start = Page(client.post("/q/serum/start", data={}).text)
    fields = {"t": start.value("t"), "action": "next", "a": [f"option-{number}" for number in range(100)]}
    response = client.post("/q/serum/answer", data=fields)
    assert response.status_code in (200, 422)  # read, then judged: not refused as a form
    assert "このフォーム" not in response.text and "This form cannot be read" not in response.text

"""PostgreSQL lost while serving: quizzes go on, an opt-in is 503 with its form, and all is well once it is back."""

from __future__ import annotations

import json

from factory import quiz_document
from starlette.testclient import TestClient
from test_optin import capture, opt_in, results_page

from quiz.app import create_app
from quiz.leads import optin
from quiz.settings import from_environment
from quiz.store.postgres import PostgresStore
from quiz.web.services import services_of


def test_an_outage_keeps_quizzes_going_refuses_opt_ins_whole_and_heals(own_postgres, tmp_path, monkeypatch):
    monkeypatch.setattr(optin, "MIN_SECONDS_ON_FORM", 0)
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    document = quiz_document(embed={"allowed_origins": ["https://shop.example"]}, lead_capture=capture())
    (quizzes / "serum.json").write_text(json.dumps(document), encoding="utf-8")
    environ = {"QUIZ_STORE_URL": own_postgres.url, "QUIZ_SECRET_KEYS": "k", "QUIZ_DATA_DIR": str(tmp_path / "data")}
    settings = from_environment(environ, quizzes_dir=str(quizzes))
    with TestClient(create_app(settings), base_url="http://quiz.test") as client:
        before = results_page(client)  # a shopper at the results when the database goes away
        own_postgres.pause()
        during = results_page(client)  # another takes the whole quiz meanwhile: steps need no store
        assert during.value("t") and during.buttons  # the results step, with its email form
        refused = opt_in(client, before)
        assert refused.status_code == 503 and "Nothing was sent; please try again" in refused.text
        assert refused.headers["HX-Reswap"].startswith("afterbegin")  # an alert above the form, which stays
        own_postgres.resume()
        assert opt_in(client, before).status_code == 200  # the same form, taken now
        store = services_of(client.app).store
        store.flush()
        assert [lead["email"] for lead in store.records("leads")] == ["shopper@example.com"]
        assert len(list(store.records("consent"))) == 1
        assert store.count("responses") == 2  # the run completed during the outage reached the store
    check = PostgresStore(own_postgres.url)
    assert check.count("outbox") + len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 1
    check.close()


def test_a_line_quiz_still_shows_its_results_while_the_store_is_away(own_postgres, tmp_path, monkeypatch):
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    lead_capture = {"channels": ["email", "line"], "line_consent": {"text": "LINEで新商品のお知らせ", "version": "l1"}}
    document = quiz_document(embed={"allowed_origins": ["https://shop.example"]}, lead_capture=lead_capture)
    (quizzes / "serum.json").write_text(json.dumps(document), encoding="utf-8")
    environ = {
        "QUIZ_STORE_URL": own_postgres.url,
        "QUIZ_SECRET_KEYS": "k",
        "QUIZ_DATA_DIR": str(tmp_path / "data"),
        "QUIZ_LINE_CHANNEL_SECRET": "bot-secret",
        "QUIZ_LINE_CHANNEL_ACCESS_TOKEN": "bot-token",
        "QUIZ_LINE_ADD_FRIEND_URL": "https://line.me/R/ti/p/@123abcde",
        "QUIZ_LINE_API_URL": "http://127.0.0.1:9",
    }
    settings = from_environment(environ, quizzes_dir=str(quizzes))
    with TestClient(create_app(settings), base_url="http://quiz.test") as client:
        own_postgres.pause()
        during = results_page(client)  # the response and its code cannot be kept; the results still show
        again = client.get("/q/serum/step", params={"t": during.value("t")})  # a reload: LINE's status unread
        assert again.status_code == 200 and "Rose serum" in again.text and "LINE" in again.text
        own_postgres.resume()

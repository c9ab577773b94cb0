"""Funnel events carry what a dashboard reads, and nothing about the person: run, version, locale, campaign, answers."""

from __future__ import annotations

from html_page import Page
from test_optin import make_client, opt_in, stored

from quiz.consent import quiz_version
from quiz.leads import optin
from quiz.web.services import services_of

PAGE = "https://shop.example/p/1?utm_source=instagram&utm_medium=paid&utm_campaign=spring"


def play(client, **context):
    page = Page(client.post("/q/serum/start", data={"page": PAGE, **context}).text)
    for value in ("dry", "no"):
        page = Page(client.post("/q/serum/answer", data={"t": page.value("t"), "a": value, "action": "next"}).text)
    return page


def events(client):
    services_of(client.app).store.flush()
    return stored(client, "events")


def test_a_run_s_events_share_one_random_id_and_carry_version_locale_campaign_answers_and_ranks(tmp_path, monkeypatch):
    monkeypatch.setattr(optin, "MIN_SECONDS_ON_FORM", 0)
    with make_client(tmp_path) as client:
        opt_in(client, play(client), "shopper@example.com")
        play(client)
        kept = events(client)
        quiz = services_of(client.app).library.get("serum")
    first, second = kept[:5], kept[5:]
    assert [event["kind"] for event in first] == ["started", "answered", "answered", "completed", "opted_in"]
    runs = {event["run"] for event in first}
    assert len(runs) == 1 and len(runs.pop()) == 16 and second[0]["run"] != first[0]["run"]
    for event in kept:
        assert event["quiz_version"] == quiz_version(quiz) and event["locale"] == "en"
        assert event["campaign"] == {"source": "instagram", "medium": "paid", "campaign": "spring"}
        assert "shopper@example.com" not in repr(event)
    assert [(event["question"], event["answer"]) for event in first[1:3]] == [("skin", "dry"), ("fragrance", "no")]
    assert first[3]["products"] == ["rose", "aqua"]  # best first


def test_a_hosted_link_s_own_campaign_parameters_win_over_the_page_s(tmp_path):
    with make_client(tmp_path) as client:
        intro = Page(client.get("/q/serum?utm_source=newsletter&utm_campaign=june").text)
        context = {name: intro.value(name) for name in ("utm_source", "utm_campaign")}
        play(client, **context)
        (started,) = [event for event in events(client) if event["kind"] == "started"]
    assert started["campaign"] == {"source": "newsletter", "campaign": "june", "medium": "paid"}


def test_a_text_answer_is_never_in_an_event():
    from quiz.authoring.loader import load_quiz
    from quiz.web.runs import answered

    quiz = load_quiz("quizzes/coffee.json").quiz
    assert quiz is not None
    text = next(question for question in quiz.questions if question.type == "text")
    assert answered(text, "call me at 090-1234-5678") is None

"""Step pages rendered once and reused (quiz.web.pages) are byte for byte the pages rendered afresh.

Every request of a shopper's walk through each example quiz (the intro, starting, each question as a
page and as an htmx fragment, a refused answer, going back, the results, a restart) is sent twice:
once as it comes, with reuse, and once with reuse switched off. The two bodies may differ only in
their progress tokens, which are encrypted afresh for every response.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.engine.flow import next_after
from quiz.engine.simulate import answer_space
from quiz.format.questions import RESULTS
from quiz.settings import Settings
from quiz.web import pages, steps
from quiz.web.library import QuizLibrary

QUIZZES = Path(__file__).resolve().parent.parent / "quizzes"
EXAMPLES = [quiz.id for quiz in QuizLibrary(QUIZZES).all()]
TOKEN = re.compile(r"[A-Za-z0-9_-]{60,}")  # a progress token: URL-safe base64 of at least 45 bytes
HTMX = {"HX-Request": "true"}
CONTEXT = {"page": "https://shop.example/products/serum?utm_campaign=spring", "product": "serum-30"}


@pytest.fixture
def client(tmp_path):
    settings = Settings(quizzes_dir=QUIZZES, data_dir=tmp_path, secret_keys=("pages",))
    with TestClient(create_app(settings)) as client:
        yield client


def test_an_example_quiz_walked_every_way_renders_as_it_would_afresh(client, monkeypatch):
    compared = 0
    for quiz_id in EXAMPLES:
        for locale, seed in (("en", 1), ("ja", 2), ("en", 3)):
            for send in _walk(client, quiz_id, locale, random.Random(seed)):
                reused = send()
                with monkeypatch.context() as switched_off:  # rendered with its own token, kept nowhere
                    switched_off.setattr(steps, "with_mark", lambda step: step)
                    switched_off.setattr(steps, "pages_of", lambda quiz: pages.Pages())
                    afresh = send()
                assert reused.status_code == afresh.status_code
                assert TOKEN.sub("TOKEN", reused.text) == TOKEN.sub("TOKEN", afresh.text)
                compared += 1
    assert compared > 100, compared


def test_the_same_question_is_rendered_once_and_each_shopper_gets_their_own_token(client):
    quiz = QuizLibrary(QUIZZES).get("serum-finder")
    assert quiz is not None
    first = client.post(f"/q/{quiz.id}/start", data=CONTEXT, headers=HTMX)
    again = client.post(f"/q/{quiz.id}/start", data=CONTEXT, headers=HTMX)
    kept = client.app.state.services.library.get(quiz.id).derived[pages.Pages]
    assert len(kept._pages) == 1
    tokens = [TOKEN.findall(response.text) for response in (first, again)]
    assert tokens[0] and tokens[1] and set(tokens[0]).isdisjoint(tokens[1])
    assert pages.TOKEN_MARK not in first.text + again.text


def test_at_most_so_many_pages_are_kept_per_quiz(client, monkeypatch):
    monkeypatch.setattr(pages, "PAGES_PER_QUIZ", 3)
    for number in range(6):
        client.post("/q/serum-finder/start", data={"page": f"https://shop.example/p/{number}"})
        client.get("/q/serum-finder", params={"page": f"https://shop.example/p/{number}"})
    kept = client.app.state.services.library.get("serum-finder").derived[pages.Pages]
    assert len(kept._pages) == 3


def _walk(client, quiz_id, locale, rng):
    """Each request of one shopper's walk, as a function that sends it (again)."""
    quiz = client.app.state.services.library.get(quiz_id)
    headers = {"Accept-Language": locale}
    context = {**CONTEXT, "locale": locale}
    yield lambda: client.get(f"/q/{quiz_id}", params=context, headers=headers)
    started = client.post(f"/q/{quiz_id}/start", data=context, headers={**headers, **HTMX})
    yield lambda: client.post(f"/q/{quiz_id}/start", data=context, headers={**headers, **HTMX})
    token = TOKEN.search(started.text)[0]
    answers: dict = {}
    current = quiz.questions[0].id
    for _ in range(len(quiz.questions) + 1):
        if current == RESULTS:
            break
        question = quiz.question(current)
        step_token = token
        yield lambda t=step_token: client.get(f"/q/{quiz_id}/step", params={"t": t}, headers=headers)
        if question.type in ("number", "single", "multiple", "scale", "yes_no", "image"):
            refused = {"t": token, "a": "not an option", "action": "next"}
            yield lambda form=refused: client.post(f"/q/{quiz_id}/answer", data=form, headers={**headers, **HTMX})
        answer = rng.choice(answer_space(quiz, question))
        values = (
            answer
            if isinstance(answer, list)
            else []
            if answer is None
            else [f"{answer:g}" if isinstance(answer, float) else str(answer)]
        )
        form = {"t": token, "a": values, "action": "next"}
        yield lambda form=form: client.post(f"/q/{quiz_id}/answer", data=form, headers={**headers, **HTMX})
        if rng.random() < 0.3:
            back = {"t": token, "action": "back"}
            yield lambda form=back: client.post(f"/q/{quiz_id}/answer", data=form, headers={**headers, **HTMX})
        moved = client.post(f"/q/{quiz_id}/answer", data=form, headers={**headers, **HTMX})
        token = TOKEN.search(moved.text)[0]
        answers[current] = answer
        current = next_after(quiz, question, answers)
    yield lambda t=token: client.get(f"/q/{quiz_id}/step", params={"t": t}, headers=headers)
    yield lambda t=token: client.post(f"/q/{quiz_id}/answer", data={"t": t, "action": "back"}, headers=headers)


def test_a_posted_token_with_markup_added_is_refused_and_never_shown(client):
    started = client.post("/q/serum-finder/start", data=CONTEXT, headers=HTMX)
    token = TOKEN.search(started.text)[0]
    # A decoder that skips what is not base64 would open some of these, whatever their length
    added = [f'{token}"><b>x</b>'[: len(token) + size] for size in range(1, 11)]
    for hostile in [*added, f"{token}'<", f"{token}&amp;", f"<{token}", f"{token} ", f"{token[:8]}<b>{token[8:]}"]:
        for path, form in (("answer", {"a": "nothing"}), ("optin", {"email": "not an address"})):
            sent = client.post(f"/q/serum-finder/{path}", data={**form, "t": hostile}, headers=HTMX)
            assert sent.status_code == 400, (path, hostile)  # the restart: a refused token
            assert "<b>" not in sent.text and hostile not in sent.text


def test_a_step_that_shows_a_refused_answer_is_not_kept(client):
    started = client.post("/q/serum-finder/start", data=CONTEXT, headers=HTMX)
    token = TOKEN.search(started.text)[0]
    kept = client.app.state.services.library.get("serum-finder").derived[pages.Pages]
    before = len(kept._pages)
    for number in range(5):
        refused = client.post("/q/serum-finder/answer", data={"t": token, "a": f"x{number}" * 500}, headers=HTMX)
        assert refused.status_code == 200 and "quiz-error" in refused.text
    assert len(kept._pages) == before


def test_at_most_so_many_characters_are_kept_per_quiz(client, monkeypatch):
    monkeypatch.setattr(pages, "CHARACTERS_PER_QUIZ", 20_000)  # a few pages
    for number in range(12):
        client.get("/q/serum-finder", params={"page": f"https://shop.example/p/{number}"})
    kept = client.app.state.services.library.get("serum-finder").derived[pages.Pages]
    assert 1 <= len(kept._pages) < 12
    assert kept._characters == sum(len(key[0]) + len(page) for key, page in kept._pages.items()) <= 20_000

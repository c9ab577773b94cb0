"""Progress tokens keep answers private: whatever a token passes through (a URL, a log, a Referer), it tells nothing.

Each test decodes tokens every way a curious reader could (base64 of the whole and of each dotted part,
inflated where it inflates) and looks for the shopper's answers and the page they came from.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import time
import zlib
from urllib.parse import unquote

import pytest
from factory import make_quiz, problems_of, quiz_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.format.sizes import ANSWERS_MAX_BYTES, answers_bytes
from quiz.settings import from_environment
from quiz.web.steps import CONTEXT_FIELDS
from quiz.web.tokens import MAX_TOKEN_CHARS, PROGRESS_SALT, Progress, ProgressTokens, TokenError, derived_fernet

KEYS = ("an-old-key-still-accepted", "the-newest-key-that-encrypts")
NOTE = "call me on 090-1234-5678"
ADDRESS = "東京都渋谷区神南1-2-3"
PAGE = "https://shop.example/products/private-page?customer=c-8842"


def readable(token: str) -> list[bytes]:
    """Everything a reader without the keys can get out of a token."""
    parts = [token, *token.split(".")]
    found = [token.encode()]
    for part in parts:
        try:
            decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except ValueError:
            continue
        found.append(decoded)
        for data in (decoded, decoded[1:]):  # itsdangerous marks compressed payloads with a leading "."
            with contextlib.suppress(zlib.error):
                found.append(zlib.decompress(data))
    return found


def secrets_in(token: str, secrets: list[str]) -> list[str]:
    """The secrets some reading of ``token`` shows, as UTF-8 or with JSON's \\u escapes."""
    readings = readable(token)
    forms = {secret: {secret.encode(), json.dumps(secret).strip('"').encode()} for secret in secrets}
    return [secret for secret in secrets if any(form in data for data in readings for form in forms[secret])]


def test_the_decoder_finds_answers_in_a_signed_only_token():
    """What tokens were before: signed, not encrypted. The decoder above reads them, so its silence below counts."""
    signed = URLSafeTimedSerializer(list(KEYS), salt=PROGRESS_SALT).dumps({"a": {"note": NOTE, "home": ADDRESS}})
    assert secrets_in(signed, [NOTE, ADDRESS]) == [NOTE, ADDRESS]


PRIVATE_QUESTIONS = [
    {"id": "note", "type": "text", "title": "Anything else?", "max_length": 100},
    {"id": "home", "type": "text", "title": "Where should we send samples?", "max_length": 100},
    {"id": "age", "type": "number", "title": "Your age?", "min": 18, "max": 120},
]


@pytest.fixture
def client(tmp_path):
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    document = quiz_document()
    document["questions"] = PRIVATE_QUESTIONS + document["questions"]
    (quizzes / "serum.json").write_text(json.dumps(document), encoding="utf-8")
    environment = {"QUIZ_DATA_DIR": str(tmp_path / "data"), "QUIZ_SECRET_KEYS": ",".join(KEYS)}
    return TestClient(create_app(from_environment(environment, quizzes_dir=str(quizzes))))


TOKEN_PLACES = re.compile(r'name="t" value="([^"]+)"|[?&](?:amp;)?t=([^"&\s]+)|"t":\s*"([^"]+)"')


def tokens_in(response) -> list[str]:
    text = response.text + " " + response.headers.get("location", "") + " " + response.headers.get("hx-push-url", "")
    return [unquote(html.unescape(next(group for group in match if group))) for match in TOKEN_PLACES.findall(text)]


def test_no_token_the_server_issues_shows_an_answer_or_the_page(client):
    issued: list[str] = []

    def keep(response):
        issued.extend(tokens_in(response))
        if response.status_code == 303:
            response = client.get(response.headers["location"])
            issued.extend(tokens_in(response))
        return response

    context = {"page": PAGE, "utm_campaign": "newsletter-c-8842"}
    keep(client.post("/q/serum/start", data=context, follow_redirects=False))
    answers = [("note", NOTE), ("home", ADDRESS), ("age", "47"), ("skin", "oily"), ("fragrance", "yes")]
    for _question, value in answers:
        keep(client.post("/q/serum/answer", data={"t": issued[-1], "a": value}, follow_redirects=False))
    results = issued[-1]
    keep(client.post("/q/serum/answer", data={"t": results, "action": "back"}, follow_redirects=False))
    keep(client.post("/q/serum/answer", data={"t": issued[-1], "a": "yes"}, headers={"HX-Request": "true"}))
    assert len(set(issued)) >= 8, issued  # every step, the results, their product links, back and forward
    assert "Matte gel" in client.get("/q/serum/step", params={"t": issued[-1]}).text  # the last one still works
    for token in issued:
        assert len(token) <= MAX_TOKEN_CHARS
        assert secrets_in(token, [NOTE, ADDRESS, "090-1234", "渋谷", PAGE, "c-8842", "oily"]) == []


progress_values = st.builds(
    Progress,
    quiz_id=st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
    current=st.sampled_from(["note", "results"]),
    answers=st.dictionaries(
        st.from_regex(r"[a-z]{1,12}", fullmatch=True),
        st.one_of(
            st.text(min_size=12, max_size=200).filter(lambda text: text.isprintable()),
            st.lists(st.from_regex(r"[a-z]{12,20}", fullmatch=True), max_size=5),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        max_size=6,
    ),
    context=st.fixed_dictionaries({"page": st.text(min_size=12, max_size=100).filter(str.isprintable)}),
    started=st.floats(min_value=0, max_value=2e9),
    lead=st.sampled_from(["", "sent", "confirm", "skipped"]),
    run=st.from_regex(r"[A-Za-z0-9_-]{16}", fullmatch=True),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(progress=progress_values)
def test_any_progress_comes_back_whole_and_cannot_be_read_without_a_key(progress):
    tokens = ProgressTokens(KEYS, max_age=3600)
    token = tokens.dump(progress)
    back = tokens.load(token, quiz_id=progress.quiz_id)
    assert (back.answers, back.context, back.current, back.lead, back.run) == (
        progress.answers,
        progress.context,
        progress.current,
        progress.lead,
        progress.run,
    )
    texts = [value for value in progress.answers.values() if isinstance(value, str)]
    picks = [pick for value in progress.answers.values() if isinstance(value, list) for pick in value]
    assert secrets_in(token, [*texts, *picks, progress.context["page"]]) == []


@settings(max_examples=500)
@given(
    token=st.one_of(
        st.text(max_size=300),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.", max_size=400),
        st.builds(lambda tail: "gAAAAA" + tail, st.text(max_size=300)),
        st.builds(
            lambda tail: "AgAAAA" + tail, st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789-_", max_size=300)
        ),
        st.builds(lambda tail: "ey" + tail, st.text(max_size=300)),
        st.builds(lambda tail: "." + tail, st.text(max_size=300)),
    )
)
def test_any_string_is_a_token_error_never_a_crash(token):
    with pytest.raises(TokenError):
        ProgressTokens(KEYS, max_age=3600).load(token, quiz_id="serum")


def test_a_token_is_refused_under_keys_that_never_made_it_and_read_after_rotation():
    before = ProgressTokens(KEYS[:1], max_age=3600)
    after = ProgressTokens(KEYS, max_age=3600)
    made_before = before.dump(Progress("serum", "skin"))
    assert after.load(made_before, quiz_id="serum").current == "skin"  # the old key still reads
    with pytest.raises(TokenError, match="tampered"):
        before.load(after.dump(Progress("serum", "skin")), quiz_id="serum")  # the new key encrypts
    with pytest.raises(TokenError, match="tampered"):
        ProgressTokens(("another-shop",), max_age=3600).load(made_before, quiz_id="serum")


def test_an_expired_token_is_told_apart_from_a_forged_one(monkeypatch):
    tokens = ProgressTokens(KEYS, max_age=60)
    token = tokens.dump(Progress("serum", "skin"))
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 61)
    with pytest.raises(TokenError, match="expired"):
        tokens.load(token, quiz_id="serum")


def test_a_token_signed_by_the_previous_version_still_works_until_it_expires(monkeypatch):
    """Shoppers mid-quiz during an upgrade keep their place; nothing issued afterwards is readable."""
    signed = URLSafeTimedSerializer(list(KEYS), salt=PROGRESS_SALT)
    old = signed.dumps({"q": "serum", "c": "skin", "a": {"note": NOTE}, "x": {}, "s": 0.0, "r": "", "o": "", "u": ""})
    tokens = ProgressTokens(KEYS, max_age=60)
    assert tokens.load(old, quiz_id="serum").answers == {"note": NOTE}
    real = time.time
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: real() + 61)
    with pytest.raises(TokenError, match="expired"):
        tokens.load(old, quiz_id="serum")


def test_a_fernet_token_of_the_previous_version_still_works_until_it_expires(monkeypatch):
    """The version before this one sealed with Fernet: shoppers mid-quiz during the upgrade keep their place."""
    payload = {"q": "serum", "c": "skin", "a": {"note": NOTE}, "x": {}, "s": 0.0, "r": "", "o": "", "u": "run"}
    old = derived_fernet(KEYS[0], PROGRESS_SALT).encrypt(json.dumps(payload).encode()).decode().rstrip("=")
    tokens = ProgressTokens(KEYS, max_age=60)
    assert old.startswith("gAAAAA")
    assert tokens.load(old, quiz_id="serum").answers == {"note": NOTE}
    assert not tokens.dump(Progress("serum", "skin")).startswith(("gAAAAA", "ey", "."))  # never issued again
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 61)
    with pytest.raises(TokenError, match="expired"):
        tokens.load(old, quiz_id="serum")


def test_a_sealed_token_with_any_byte_changed_is_refused():
    tokens = ProgressTokens(KEYS, max_age=3600)
    token = tokens.dump(Progress("serum", "skin", {"note": NOTE}))
    sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for place in range(len(sealed)):  # the version, the time of issue, the nonce, the text and the tag
        changed = sealed[:place] + bytes([sealed[place] ^ 1]) + sealed[place + 1 :]
        with pytest.raises(TokenError, match="tampered"):
            tokens.load(base64.urlsafe_b64encode(changed).decode().rstrip("="), quiz_id="serum")
    with pytest.raises(TokenError, match="tampered"):
        tokens.load(token[:-4], quiz_id="serum")  # cut short


def widest_quiz():
    """A quiz whose answers take almost all the room a token has: text, long ids, many picks."""
    long_id = "x" * 60
    questions = [
        {"id": f"{long_id}{index:02d}", "type": "text", "title": "Tell us", "max_length": 660} for index in range(2)
    ]
    options = [{"id": f"{long_id}{index:03d}", "label": f"Option {index}"} for index in range(20)]
    questions.append({"id": "picks", "type": "multiple", "title": "Pick", "options": options})
    questions.append({"id": "many", "type": "multiple", "title": "Pick", "options": options[:10]})
    questions.append({"id": "age", "type": "number", "title": "Age"})
    return make_quiz(questions=questions, products=quiz_document()["products"], scoring={})


def test_the_longest_answers_and_page_context_fit_a_token():
    quiz = widest_quiz()
    assert ANSWERS_MAX_BYTES - 500 < answers_bytes(quiz.questions) <= ANSWERS_MAX_BYTES
    astral = "😀"  # four bytes in UTF-8, the most a character takes
    answers: dict = {}
    for question in quiz.questions:
        if question.type == "text":
            answers[question.id] = astral * question.max_length
        elif question.type == "multiple":
            answers[question.id] = [option.id for option in question.options]
        else:
            answers[question.id] = -1.7976931348623157e308
    context = {name: astral * most for name, most in CONTEXT_FIELDS.items()}
    progress = Progress("x" * 64, "y" * 64, answers, context, started=time.time(), response="r" * 32, lead="confirm")
    tokens = ProgressTokens(KEYS, max_age=3600)
    token = tokens.dump(progress)
    assert len(token) <= MAX_TOKEN_CHARS, len(token)
    assert tokens.load(token, quiz_id="x" * 64).answers == answers


def test_a_quiz_whose_answers_could_outgrow_a_token_is_refused_with_the_question_to_change():
    document = quiz_document()
    document["questions"].append({"id": "essay", "type": "text", "title": "Tell us everything", "max_length": 2000})
    problems = problems_of(document)
    assert len(problems) == 1, problems
    assert problems[0].startswith("questions[2]: the answers to this quiz can take 8,0")
    assert "'essay'" in problems[0] and "lower its max_length" in problems[0]


@pytest.mark.parametrize(("count", "fits"), [(9, True), (10, False)])
def test_nine_text_questions_of_the_default_length_fit_and_ten_do_not(count, fits):
    """As the README's limits say."""
    document = quiz_document(questions=[{"id": f"t{index}", "type": "text", "title": "?"} for index in range(count)])
    assert (problems_of(document) == []) is fits

"""The shopper's path: next question, branching, and answer validation."""

import re
from pathlib import Path

import pytest
from factory import make_quiz, quiz_document

from quiz.engine.flow import AnswerError, parse_answer, predicted_path, walk
from quiz.format.questions import RESULTS


def branching_quiz():
    return make_quiz(
        questions=[
            {
                "id": "who",
                "type": "single",
                "title": "Who is it for?",
                "options": ["Child", "Adult"],
                "next": [{"if": {"question": "who", "is": "child"}, "goto": "age"}, {"goto": "hobby"}],
            },
            {"id": "age", "type": "number", "title": "Age?", "min": 0, "max": 17, "integer": True, "next": "results"},
            {"id": "hobby", "type": "multiple", "title": "Hobbies?", "options": ["Books", "Cooking", "Tech"], "max": 2},
            {"id": "tip", "type": "info", "title": "Almost done"},
        ]
    )


def test_first_question_is_the_first_in_the_file():
    position = walk(branching_quiz(), {})
    assert position.current is not None and position.current.id == "who"
    assert position.path == []


def test_branch_condition_sends_a_child_to_the_age_question():
    position = walk(branching_quiz(), {"who": "child"})
    assert position.current is not None and position.current.id == "age"


def test_default_branch_sends_an_adult_to_hobbies_then_the_following_question():
    quiz = branching_quiz()
    assert walk(quiz, {"who": "adult"}).current.id == "hobby"
    assert walk(quiz, {"who": "adult", "hobby": ["books"]}).current.id == "tip"


def test_goto_results_finishes_the_quiz():
    position = walk(branching_quiz(), {"who": "child", "age": 7.0})
    assert position.finished
    assert position.path == ["who", "age"]


def test_answers_off_the_path_are_dropped():
    position = walk(branching_quiz(), {"who": "child", "age": 7.0, "hobby": ["tech"]})
    assert "hobby" not in position.answers


def test_predicted_path_counts_the_questions_still_ahead():
    quiz = branching_quiz()
    assert predicted_path(quiz, {"who": "adult"}, "hobby") == ["hobby", "tip"]
    assert predicted_path(quiz, {"who": "child"}, "age") == ["age"]
    assert RESULTS not in predicted_path(quiz, {}, "who")


@pytest.mark.parametrize(
    ("values", "expected"),
    [(["books"], ["books"]), (["tech", "books"], ["books", "tech"]), (["books", "books"], ["books"])],
)
def test_multiple_choice_keeps_option_order_and_drops_repeats(values, expected):
    question = branching_quiz().question("hobby")
    assert parse_answer(question, values) == expected


@pytest.mark.parametrize(
    ("question_id", "values", "code"),
    [
        ("who", [], "required"),
        ("who", ["teen"], "unknown_option"),
        ("who", ["child", "adult"], "too_many"),
        ("hobby", ["books", "cooking", "tech"], "too_many"),
        ("hobby", ["<script>"], "unknown_option"),
        ("age", ["twelve"], "not_a_number"),
        ("age", ["nan"], "not_a_number"),
        ("age", ["inf"], "not_a_number"),
        ("age", ["18"], "too_large"),
        ("age", ["-1"], "too_small"),
        ("age", ["3.5"], "not_whole"),
    ],
)
def test_bad_answers_are_refused_with_a_code_the_widget_can_word(question_id, values, code):
    question = branching_quiz().question(question_id)
    with pytest.raises(AnswerError) as caught:
        parse_answer(question, values)
    assert caught.value.code == code


def test_scale_accepts_only_its_points():
    quiz = make_quiz(
        questions=[
            {"id": "strength", "type": "scale", "title": "How strong?", "min": 1, "max": 3, "step": 0.5},
            *quiz_document()["questions"][1:],
        ]
    )
    question = quiz.question("strength")
    assert parse_answer(question, ["2.5"]) == 2.5
    with pytest.raises(AnswerError) as caught:
        parse_answer(question, ["2.25"])
    assert caught.value.code == "off_scale"


def test_optional_question_may_be_skipped_and_info_needs_no_answer():
    quiz = make_quiz(
        questions=[
            {"id": "note", "type": "text", "title": "Anything else?", "optional": True, "max_length": 5},
            {"id": "tip", "type": "info", "title": "Tip"},
            {"id": "skin", "type": "single", "title": "Skin", "options": ["Dry", "Oily"]},
        ]
    )
    assert parse_answer(quiz.question("note"), ["  "]) is None
    assert parse_answer(quiz.question("tip"), ["anything"]) is None
    with pytest.raises(AnswerError) as caught:
        parse_answer(quiz.question("note"), ["too long"])
    assert caught.value.code == "too_long"
    assert parse_answer(quiz.question("note"), ["a\x00b\tc"]) == "a b c"  # PostgreSQL cannot keep a NUL


def test_skipping_an_optional_multiple_choice_records_no_answer():
    quiz = make_quiz(
        questions=[{"id": "likes", "type": "multiple", "title": "?", "options": ["A", "B"], "optional": True}]
    )
    assert parse_answer(quiz.question("likes"), []) is None


def test_the_intro_promises_the_number_of_questions_the_progress_bar_counts(tmp_path):
    from html_page import Page
    from starlette.testclient import TestClient

    from quiz.app import create_app
    from quiz.settings import Settings

    examples = Path(__file__).parent.parent / "quizzes"
    settings = Settings(quizzes_dir=examples, data_dir=tmp_path, secret_keys=("k",))
    with TestClient(create_app(settings)) as client:
        intro = Page(client.get("/q/serum-finder", headers={"Accept-Language": "ja"}).text)
        first = Page(client.post("/q/serum-finder/start", data={"locale": "ja"}).text)
    total = re.fullmatch(r"質問 1 / (\d+)", first.text("quiz-progress").strip())
    assert total, first.text("quiz-progress")
    assert f"{total[1]}つの質問に答えるだけで" in intro.text("quiz-lead")

"""Every example quiz in quizzes/ validates, lints without errors, and plays to a result."""

from pathlib import Path

import pytest

from quiz.authoring.lint import lint
from quiz.authoring.loader import load_quiz
from quiz.engine.flow import parse_answer, walk
from quiz.engine.reasons import reason_for
from quiz.engine.scoring import recommend
from quiz.engine.simulate import answer_space

EXAMPLES = sorted(
    path for path in (Path(__file__).parent.parent / "quizzes").glob("*.json") if path.stem != "quiz.schema"
)


def test_there_are_at_least_three_examples():
    assert len(EXAMPLES) >= 3


@pytest.fixture(params=EXAMPLES, ids=lambda path: path.stem)
def example(request):
    loaded = load_quiz(request.param)
    assert loaded.problems == []
    return loaded.quiz


def test_example_has_no_lint_errors(example):
    errors = [problem.render() for problem in lint(example) if problem.severity == "error"]
    assert errors == []


@pytest.mark.parametrize("pick", [0, -1], ids=["first-answers", "last-answers"])
def test_example_plays_to_a_result_with_reasons(example, pick):
    answers = {}
    position = walk(example, answers)
    steps = 0
    while not position.finished:
        question = position.current
        choice = answer_space(example, question)[pick]
        raw = (
            []
            if choice is None
            else choice
            if isinstance(choice, list)
            else [f"{choice:g}" if isinstance(choice, float) else choice]
        )
        answers[question.id] = parse_answer(question, raw)
        position = walk(example, answers)
        steps += 1
        assert steps <= len(example.questions)
    result = recommend(example, answers)
    assert result.items, f"no result for {answers}"
    for locale in example.all_locales():
        for item in result.items:
            reason = reason_for(example, item, locale, fallback=result.fallback)
            assert reason and "{" not in reason

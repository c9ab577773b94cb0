"""The shopper's path through a quiz: which question comes next, and whether an answer is acceptable."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from quiz.format.conditions import Answer, Answers, evaluate
from quiz.format.questions import (
    RESULTS,
    ImageChoice,
    Info,
    MultipleChoice,
    Number,
    Question,
    Scale,
    ShortText,
    SingleChoice,
    YesNo,
)
from quiz.format.schema import Quiz
from quiz.format.text import format_number, without_controls


class AnswerError(ValueError):
    """An answer the question cannot take; ``code`` and ``params`` let the widget word it per locale."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Position:
    """Where a shopper stands: the questions answered on their path, and the one to show next."""

    path: list[str]
    answers: dict[str, Answer | None] = field(default_factory=dict)
    current: Question | None = None

    @property
    def finished(self) -> bool:
        return self.current is None


def first_question(quiz: Quiz) -> Question:
    return quiz.questions[0]


def next_after(quiz: Quiz, question: Question, answers: Answers) -> str:
    """The id of the question that follows ``question`` given the answers, or ``RESULTS``."""
    return choose_branch(quiz, question, answers)[1]


def choose_branch(quiz: Quiz, question: Question, answers: Answers) -> tuple[int | None, str]:
    """Which branch of ``next`` is taken (``None``: the file order), and where it goes."""
    for index, branch in enumerate(question.branches()):
        if branch.if_ is None or evaluate(branch.if_, answers):
            return index, branch.goto
    following = quiz.question_index[question.id] + 1
    return None, quiz.questions[following].id if following < len(quiz.questions) else RESULTS


def walk(quiz: Quiz, answers: Answers) -> Position:
    """Follow the branching from the first question while answers exist.

    Answers to questions off the resulting path are dropped: they cannot count for scoring.
    """
    path: list[str] = []
    kept: dict[str, Answer | None] = {}
    question: Question | None = first_question(quiz)
    while question is not None and question.id in answers and question.id not in kept:
        path.append(question.id)
        kept[question.id] = answers[question.id]
        target = next_after(quiz, question, kept)
        question = None if target == RESULTS else quiz.question(target)
    return Position(path=path, answers=kept, current=question)


def trail(quiz: Quiz, answers: Answers, current: str) -> dict[str, Answer | None] | None:
    """The answers given on the way to ``current`` (a question id or ``RESULTS``), in path order.

    ``None`` when these answers do not lead there: the progress cannot be trusted.
    """
    kept: dict[str, Answer | None] = {}
    question = first_question(quiz)
    while question.id != current:
        if question.id not in answers or question.id in kept:
            return None
        kept[question.id] = answers[question.id]
        target = next_after(quiz, question, kept)
        if target == RESULTS:
            return kept if current == RESULTS else None
        question = quiz.question(target)
    return kept


def predicted_path(quiz: Quiz, answers: Answers, start: str) -> list[str]:
    """Questions from ``start`` to the results if no later answer changes the branching."""
    path: list[str] = []
    target = start
    while target != RESULTS and target not in path:
        path.append(target)
        target = next_after(quiz, quiz.question(target), answers)
    return path


def parse_answer(question: Question, values: Sequence[str]) -> Answer | None:
    """The typed answer for the raw form values; ``None`` when an optional question is skipped."""
    values = [value.strip() for value in values if value.strip()]
    if isinstance(question, Info):
        return None
    if not values:
        if question.optional:
            return None
        if isinstance(question, MultipleChoice) and question.min == 0:
            return []  # answered: none of these
        raise AnswerError("required", "this question needs an answer")
    if isinstance(question, MultipleChoice):
        return _picks(question, values)
    if isinstance(question, SingleChoice | ImageChoice | YesNo):
        return _pick(question, values)
    if isinstance(question, Scale | Number):
        return _number(question, values[0])
    assert isinstance(question, ShortText)
    if len(values[0]) > question.max_length:
        raise AnswerError("too_long", f"at most {question.max_length} characters", max=question.max_length)
    return without_controls(values[0])  # a NUL cannot be stored in PostgreSQL; a tab in a one-line box is a slip


def _pick(question: SingleChoice | ImageChoice | YesNo, values: Sequence[str]) -> str:
    if len(values) > 1:
        raise AnswerError("too_many", "pick one option", max=1)
    known = {option.id for option in question.choices()}
    if values[0] not in known:
        raise AnswerError("unknown_option", f"{values[0]!r} is not one of the options", value=values[0])
    return values[0]


def _picks(question: MultipleChoice, values: Sequence[str]) -> list[str]:
    picked = list(dict.fromkeys(values))
    known = [option.id for option in question.options]
    for value in picked:
        if value not in known:
            raise AnswerError("unknown_option", f"{value!r} is not one of the options", value=value)
    if len(picked) < question.min:
        raise AnswerError("too_few", f"pick at least {question.min}", min=question.min)
    if len(picked) > question.most():
        raise AnswerError("too_many", f"pick at most {question.most()}", max=question.most())
    return sorted(picked, key=known.index)


def _number(question: Scale | Number, raw: str) -> float:
    try:
        value = float(raw.replace(",", ""))
    except ValueError:
        raise AnswerError("not_a_number", f"{raw[:40]!r} is not a number", value=raw[:40]) from None
    if not math.isfinite(value):
        raise AnswerError("not_a_number", f"{raw[:40]!r} is not a number", value=raw[:40])
    low, high = question.min, question.max
    if low is not None and value < low:
        raise AnswerError("too_small", f"the smallest answer is {format_number(low)}", min=low)
    if high is not None and value > high:
        raise AnswerError("too_large", f"the largest answer is {format_number(high)}", max=high)
    if isinstance(question, Scale) and round(value, 6) not in question.values():
        raise AnswerError("off_scale", f"{format_number(value)} is not a point on the scale", value=value)
    if isinstance(question, Number) and question.integer and value != int(value):
        raise AnswerError("not_whole", "a whole number, please", value=value)
    return value

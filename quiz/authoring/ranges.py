"""Conditions whose threshold lies outside their question's range: never true, or always true.

Read from the quiz alone, so they are found on a quiz too big to play every path of: a branch on
``age gt 120`` where the scale stops at 5 is dead however the shopper answers.
"""

from __future__ import annotations

from collections.abc import Iterator

from quiz.authoring.problems import Loc, Problem
from quiz.format.conditions import All, AnswerIs, Any_, Condition, Not
from quiz.format.questions import Number, Scale
from quiz.format.schema import Quiz
from quiz.format.text import format_number


def out_of_range(quiz: Quiz) -> Iterator[Problem]:
    """A warning for each numeric test that no answer (or every answer) in its question's range passes."""
    for where, owner, condition in _conditions(quiz):
        for location, test in _tests(where, condition):
            question = quiz.question(test.question) if test.question in quiz.question_index else None
            if not isinstance(question, Scale | Number):
                continue
            message = _verdict(test, question)
            # "Always true" only where the question is surely answered: a test on a skipped question,
            # or on one not asked on this path, is false, so it does test something there.
            surely_answered = owner == question.id and not question.optional
            if message and (" is never true" in message or surely_answered):
                yield Problem(location, message, "warning")


def _conditions(quiz: Quiz) -> Iterator[tuple[Loc, str, Condition]]:
    """Each condition, with the question whose branch it is ("" for a scoring rule)."""
    for index, question in enumerate(quiz.questions):
        for position, branch in enumerate(question.branches()):
            if branch.if_ is not None and isinstance(question.next, list):
                yield ("questions", index, "next", position, "if"), question.id, branch.if_
    for index, rule in enumerate(quiz.scoring.rules):
        yield ("scoring", "rules", index, "when"), "", rule.when


def _tests(where: Loc, condition: Condition) -> Iterator[tuple[Loc, AnswerIs]]:
    """Each single test with its own path inside nested ``all``, ``any`` and ``not``."""
    if isinstance(condition, All):
        for index, part in enumerate(condition.all):
            yield from _tests((*where, "all", index), part)
    elif isinstance(condition, Any_):
        for index, part in enumerate(condition.any):
            yield from _tests((*where, "any", index), part)
    elif isinstance(condition, Not):
        yield from _tests((*where, "not"), condition.not_)
    else:
        yield where, condition


def _verdict(test: AnswerIs, question: Scale | Number) -> str:
    name, value = test.operator()
    # A scale's ends are its first and last points: 1..4 by 2 offers 1, 3 and 5.
    low, high = (
        (question.values()[0], question.values()[-1]) if isinstance(question, Scale) else (question.min, question.max)
    )
    shown = f"{name} {format_number(value)}" if isinstance(value, float | int) else ""
    span = _span(question)
    if name == "is" and isinstance(value, float | int):
        on_scale = value in question.values() if isinstance(question, Scale) else _within(value, low, high)
        if not on_scale:
            return f"'{shown}' is never true: {span}, and {format_number(value)} is not an answer it takes"
        return ""
    if name == "in" and isinstance(question, Scale):
        missing = [item for item in value if isinstance(item, float | int) and item not in question.values()]
        if missing and len(missing) == len(value):
            return f"'in' is never true: {span}, and none of {[format_number(item) for item in missing]} is on it"
        return ""
    if name not in ("gt", "gte", "lt", "lte"):
        return ""
    never = {
        "gt": high is not None and value >= high,
        "gte": high is not None and value > high,
        "lt": low is not None and value <= low,
        "lte": low is not None and value < low,
    }[name]
    always = {
        "gt": low is not None and value < low,
        "gte": low is not None and value <= low,
        "lt": high is not None and value > high,
        "lte": high is not None and value >= high,
    }[name]
    if never:
        return f"'{shown}' is never true: {span}; use a threshold inside it"
    if always:
        return f"'{shown}' is always true: {span}, so it tests nothing; use a threshold inside it"
    return ""


def _within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _span(question: Scale | Number) -> str:
    name = repr(question.id)
    if isinstance(question, Scale):
        points = question.values()
        return f"question {name} is a scale from {format_number(points[0])} to {format_number(points[-1])}"
    if question.min is not None and question.max is not None:
        return f"question {name} takes numbers from {format_number(question.min)} to {format_number(question.max)}"
    if question.min is not None:
        return f"question {name} takes numbers from {format_number(question.min)} up"
    if question.max is not None:
        return f"question {name} takes numbers up to {format_number(question.max)}"
    return f"question {name} takes any number"

"""Conditions written as data (never as an expression string) and their evaluation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

# What a shopper's answer can be: an option id, several option ids, a number or a text.
Answer = str | list[str] | float
Answers = Mapping[str, Answer | None]
Scalar = str | float

OPERATORS = ("is", "in", "includes", "gt", "gte", "lt", "lte", "answered")
NUMERIC_OPERATORS = ("gt", "gte", "lt", "lte")
# Bounds that keep the largest allowed quiz quick to validate (README, "Limits"): no question has
# more than 100 options, so no test needs more values, and no sensible rule more than 50 parts.
MAX_VALUES = 100
MAX_PARTS = 50


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AnswerIs(_Model):
    """A test on one question's answer, with exactly one operator."""

    question: str = Field(description="The id of the question whose answer is tested.")
    is_: Scalar | None = Field(None, alias="is", description="The answer equals this option id or value.")
    in_: list[Scalar] | None = Field(
        None, alias="in", min_length=1, max_length=MAX_VALUES, description="The answer is one of these."
    )
    includes: str | Annotated[list[str], Field(max_length=MAX_VALUES)] | None = Field(
        None, description="A multiple-choice answer includes this option id (or all of these)."
    )
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    answered: bool | None = Field(None, description="The question was answered (true) or skipped (false).")

    @model_validator(mode="after")
    def _one_operator(self) -> AnswerIs:
        used = self.operators()
        if len(used) != 1:
            names = ", ".join(f"'{name}'" for name in used) or "none"
            raise ValueError(
                f"a condition on question '{self.question}' needs exactly one of "
                f"is, in, includes, gt, gte, lt, lte, answered; it has {names}"
            )
        return self

    def operators(self) -> list[str]:
        values = self._values()
        return [name for name in OPERATORS if values[name] is not None]

    def operator(self) -> tuple[str, Any]:
        values = self._values()
        name = next(name for name in OPERATORS if values[name] is not None)
        return name, values[name]

    def _values(self) -> dict[str, Any]:
        return {
            "is": self.is_,
            "in": self.in_,
            "includes": self.includes,
            "gt": self.gt,
            "gte": self.gte,
            "lt": self.lt,
            "lte": self.lte,
            "answered": self.answered,
        }


class All(_Model):
    all: list[Condition] = Field(min_length=1, max_length=MAX_PARTS)


class Any_(_Model):
    any: list[Condition] = Field(min_length=1, max_length=MAX_PARTS)


class Not(_Model):
    not_: Condition = Field(alias="not")


def _kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        kinds: dict[type[BaseModel], str] = {All: "all", Any_: "any", Not: "not"}
        return kinds.get(type(value), "answer")
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "answer"
    return None


Condition = Annotated[
    Annotated[AnswerIs, Tag("answer")]
    | Annotated[All, Tag("all")]
    | Annotated[Any_, Tag("any")]
    | Annotated[Not, Tag("not")],
    Discriminator(_kind, custom_error_type="condition", custom_error_message="a condition must be an object"),
]

All.model_rebuild()
Any_.model_rebuild()
Not.model_rebuild()


def evaluate(condition: Condition, answers: Answers) -> bool:
    """Whether the answers so far satisfy the condition; an unanswered question satisfies nothing."""
    if isinstance(condition, All):
        return all(evaluate(part, answers) for part in condition.all)
    if isinstance(condition, Any_):
        return any(evaluate(part, answers) for part in condition.any)
    if isinstance(condition, Not):
        return not evaluate(condition.not_, answers)
    return _test_answer(condition, answers)


def _test_answer(condition: AnswerIs, answers: Answers) -> bool:
    name, expected = condition.operator()
    answer = answers.get(condition.question)
    if name == "answered":
        return (answer is not None) is bool(expected)
    if answer is None:
        return False
    if name == "is":
        return _same(answer, expected)
    if name == "in":
        return any(_same(answer, item) for item in expected)
    if name == "includes":
        picked = answer if isinstance(answer, list) else [answer]
        wanted = expected if isinstance(expected, list) else [expected]
        return all(item in picked for item in wanted)
    if not isinstance(answer, float | int):
        return False
    comparisons: dict[str, bool] = {
        "gt": answer > expected,
        "gte": answer >= expected,
        "lt": answer < expected,
        "lte": answer <= expected,
    }
    return comparisons[name]


def _same(answer: Answer, expected: Scalar) -> bool:
    if isinstance(answer, list):
        return False
    if isinstance(answer, str) and isinstance(expected, str):
        return answer.casefold() == expected.casefold()
    return bool(answer == expected)


def answer_tests(condition: Condition) -> Iterator[AnswerIs]:
    """Every single-answer test inside a condition, however deeply nested."""
    if isinstance(condition, All):
        for part in condition.all:
            yield from answer_tests(part)
    elif isinstance(condition, Any_):
        for part in condition.any:
            yield from answer_tests(part)
    elif isinstance(condition, Not):
        yield from answer_tests(condition.not_)
    else:
        yield condition

"""Scoring: from a shopper's answers to ranked products, each with the trace of why it ranked.

Deterministic by construction: no randomness, and every tie ends at the product id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

from quiz.engine.flow import walk
from quiz.engine.ranking import Mask, Ranking, columns, derived, scores, selected
from quiz.format.conditions import Answer, Answers, answer_tests, evaluate
from quiz.format.products import Product, ProductFilter
from quiz.format.questions import CHOICE_TYPES, NUMERIC_TYPES, Effect
from quiz.format.schema import Quiz
from quiz.format.text import Text, fill, format_number

_SOLD_OUT = ProductFilter(in_stock=False)


@dataclass(frozen=True)
class Cause:
    """An answer (or a rule over answers) that is in effect, and what it does."""

    source: str  # where it is written: "questions[2].options[0]" or "scoring.rules[1]"
    question: str
    label: Text | None  # how a reason names it; None names nothing
    effect: Effect

    @cached_property
    def lines(self) -> _Lines:
        """The lines this cause writes in traces: they do not depend on the product, so they are made once."""
        effect = self.effect
        require = None if effect.require is None else Contribution(self.source, self.question, self.label, "require")
        points = effect.points
        if points is None:
            return _Lines(require, {}, ())
        by_product = {
            product_id: Contribution(self.source, self.question, self.label, "points", weight, "product")
            for product_id, weight in points.products.items()
            if weight
        }
        by_tag = tuple(
            (tag, Contribution(self.source, self.question, self.label, "points", weight, f"tag:{tag}"))
            for tag, weight in points.tags.items()
            if weight
        )
        return _Lines(require, by_product, by_tag)


@dataclass(frozen=True)
class Contribution:
    """One line of a product's trace."""

    source: str
    question: str
    label: Text | None
    kind: Literal["points", "require"]
    points: float = 0.0
    via: str = ""  # "product", or "tag:<name>" for points given through a tag

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "question": self.question,
            "label": self.label,
            "kind": self.kind,
            "points": self.points,
            "via": self.via,
        }


@dataclass(frozen=True)
class _Lines:
    require: Contribution | None
    by_product: dict[str, Contribution]
    by_tag: tuple[tuple[str, Contribution], ...]


@dataclass(frozen=True)
class Recommended:
    product: Product
    score: float
    trace: list[Contribution]


@dataclass(frozen=True)
class Recommendation:
    items: list[Recommended]
    fallback: bool  # nothing qualified: these come from scoring.fallback
    qualified: int  # how many products qualified before the count was applied
    tied_on_id: bool  # some order among the results was settled only by product id
    tied: tuple[str, ...] = ()  # the products in those ties, by id
    lead: float = 0.0  # how far the first result is ahead of the next qualifying product (or of zero)
    scoring_answers: int = 0  # how many questions' answers gave points to some product (a positive weight)

    def answers_for(self, item: Recommended) -> int:
        """Of ``scoring_answers``, how many gave ``item`` points: "it fits 4 of your 5 answers"."""
        return len({line.question for line in item.trace if line.kind == "points" and line.points > 0})


@dataclass(frozen=True)
class Ranked:
    """What the ranking decides for the causes in force, before any trace is written (the simulator needs no more)."""

    products: list[Product]
    scores: list[float]
    fallback: bool
    qualified: int
    tied: tuple[str, ...]
    lead: float


def recommend(quiz: Quiz, answers: Answers) -> Recommendation:
    """The products to show for these answers, best first, with traces."""
    causes = list(active_causes(quiz, walk(quiz, answers).answers))
    ranked = rank(quiz, causes)
    items = [
        Recommended(product, score, contributions(causes, product))
        for product, score in zip(ranked.products, ranked.scores, strict=True)
    ]
    return Recommendation(
        items=items,
        fallback=ranked.fallback,
        qualified=ranked.qualified,
        tied_on_id=bool(ranked.tied),
        tied=ranked.tied,
        lead=ranked.lead,
        scoring_answers=len({cause.question for cause in causes if _favours_some(cause.effect)}),
    )


def rank(quiz: Quiz, causes: list[Cause]) -> Ranked:
    """The products shown when these causes are in force (``active_causes``), best first."""
    catalog = columns(quiz)
    eligible = _eligible(quiz, causes)
    values = scores(catalog, *_weights(causes))
    floor = quiz.scoring.min_score
    ranking = Ranking(catalog, values, eligible & (values >= floor if floor is not None else values > 0))
    chosen = ranking.diverse(quiz.scoring.count, quiz.scoring.diversity)
    fallback = not chosen
    if fallback:
        allowed = [pid for pid in quiz.scoring.fallback if pid in catalog.position and eligible[catalog.position[pid]]]
        chosen = [quiz.product_index[pid] for pid in allowed][: quiz.scoring.count]
    chosen_scores = [float(values[catalog.position[product.id]]) for product in chosen]
    return Ranked(
        products=chosen,
        scores=chosen_scores,
        fallback=fallback,
        qualified=len(ranking),
        tied=() if fallback else ranking.tied_ids(),
        lead=0.0 if fallback or not chosen else chosen_scores[0] - ranking.second_score(),
    )


def ruled_out_by(quiz: Quiz, answers: Answers, product_id: str) -> str:
    """Why a product cannot be shown for these answers: the hard rule that removes it, or "" if none does."""
    return ruling(quiz, list(active_causes(quiz, walk(quiz, answers).answers)), product_id)


def ruling(quiz: Quiz, causes: list[Cause], product_id: str) -> str:
    """``ruled_out_by`` for causes already worked out (the preview asks it of every product)."""
    at = columns(quiz).position[product_id]
    if quiz.scoring.out_of_stock == "hide" and selected(quiz, _SOLD_OUT)[at]:
        return "it is out of stock (scoring.out_of_stock is 'hide')"
    for cause in causes:
        effect = cause.effect
        if effect.require is not None and not selected(quiz, effect.require)[at]:
            return f"{cause.source} requires {_shown(effect.require)}"
        if effect.exclude is not None and selected(quiz, effect.exclude)[at]:
            return f"{cause.source} excludes {_shown(effect.exclude)}"
    return ""


def _shown(product_filter: ProductFilter) -> str:
    return json.dumps(product_filter.model_dump(mode="json", exclude_none=True, by_alias=True), ensure_ascii=False)


def points_for(effect: Effect, product: Product) -> float:
    """What an answer's points give one product, directly and through its tags."""
    points = effect.points
    if points is None:
        return 0.0
    return points.products.get(product.id, 0.0) + sum(points.tags.get(tag, 0.0) for tag in product.tags)


def _favours_some(effect: Effect) -> bool:
    points = effect.points
    return points is not None and any(weight > 0 for weight in (*points.tags.values(), *points.products.values()))


def active_causes(quiz: Quiz, answers: Answers) -> Iterator[Cause]:
    """The options picked and the rules whose conditions hold, in quiz order."""
    yield from picked_causes(quiz, answers)
    yield from rule_causes(quiz, answers)


def picked_causes(quiz: Quiz, answers: Answers) -> Iterator[Cause]:
    """The causes of the options picked in these answers, in quiz order."""
    for question_id in _option_causes(quiz):
        yield from option_causes(quiz, question_id, answers.get(question_id))


def option_causes(quiz: Quiz, question_id: str, answer: Answer | None) -> tuple[Cause, ...]:
    """The causes of the options picked in one answer, in quiz order (the same objects every time)."""
    options = _option_causes(quiz).get(question_id)
    if not options or answer is None:
        return ()
    if isinstance(answer, list):
        return tuple(cause for option_id, cause in options.items() if option_id in answer)
    cause = options.get(answer) if isinstance(answer, str) else None
    return () if cause is None else (cause,)


def rule_causes(quiz: Quiz, answers: Answers) -> Iterator[Cause]:
    """The scoring rules whose conditions hold for these answers."""
    for index, rule in enumerate(quiz.scoring.rules):
        if evaluate(rule.when, answers):
            tested = next(answer_tests(rule.when)).question
            label = rule.reason or _answer_label(quiz, tested, answers)
            yield Cause(f"scoring.rules[{index}]", tested, label, rule)


def _option_causes(quiz: Quiz) -> dict[str, dict[str, Cause]]:
    """Per choice question, the cause of each option that changes scoring, in quiz order: made once per quiz."""

    def made() -> dict[str, dict[str, Cause]]:
        table: dict[str, dict[str, Cause]] = {}
        for index, question in enumerate(quiz.questions):
            if not isinstance(question, CHOICE_TYPES):
                continue
            options = {}
            for position, option in enumerate(question.choices()):
                if option.changes_scoring():
                    where = option.id if question.type == "yes_no" else f"options[{position}]"
                    label = option.reason or option.label
                    options[option.id] = Cause(f"questions[{index}].{where}", question.id, label, option)
            table[question.id] = options
        return table

    return derived(quiz, "option_causes", made)


def _answer_label(quiz: Quiz, question_id: str, answers: Answers) -> Text | None:
    """Names an answer in a reason when a rule does not say how: the picked label, or the number.

    ``None`` when the question was skipped: a reason cannot quote an answer that was not given.
    """
    question = quiz.question(question_id)
    answer = answers.get(question_id)
    if answer is None:
        return None
    if isinstance(question, CHOICE_TYPES):
        picked = answer if isinstance(answer, list) else [answer]
        for option in question.choices():
            if option.id in picked:
                return option.reason or option.label
        return None
    value = format_number(answer) if isinstance(answer, float) else str(answer)
    if isinstance(question, NUMERIC_TYPES) and question.reason is not None:
        template = question.reason
        if isinstance(template, str):
            return fill(template, {"value": value})
        return {locale: fill(text, {"value": value}) for locale, text in template.items()}
    return value


def _eligible(quiz: Quiz, causes: list[Cause]) -> Mask:
    """Products that pass every hard rule in force (and stock, when out-of-stock items are hidden)."""
    eligible = np.ones(len(quiz.products), dtype=np.bool_)
    if quiz.scoring.out_of_stock == "hide":
        eligible &= ~selected(quiz, _SOLD_OUT)
    for cause in causes:
        if cause.effect.require is not None:
            eligible &= selected(quiz, cause.effect.require)
        if cause.effect.exclude is not None:
            eligible &= ~selected(quiz, cause.effect.exclude)
    return eligible


def _weights(causes: list[Cause]) -> tuple[dict[str, float], dict[str, float]]:
    """The answers' points added up per tag and per product: each tag's products are then visited once."""
    per_tag: dict[str, float] = {}
    per_product: dict[str, float] = {}
    for cause in causes:
        points = cause.effect.points
        if points is not None:
            for tag, weight in points.tags.items():
                per_tag[tag] = per_tag.get(tag, 0.0) + weight
            for product_id, weight in points.products.items():
                per_product[product_id] = per_product.get(product_id, 0.0) + weight
    return per_tag, per_product


def contributions(causes: list[Cause], product: Product) -> list[Contribution]:
    """A product's trace: each answer in force that required something of it or gave it points."""
    trace: list[Contribution] = []
    tags = product.tags
    for cause in causes:
        lines = cause.lines
        if lines.require is not None:
            trace.append(lines.require)
        line = lines.by_product.get(product.id)
        if line is not None:
            trace.append(line)
        for tag, line in lines.by_tag:
            if tag in tags:
                trace.append(line)
    return trace

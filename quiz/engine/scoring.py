"""Scoring: from a shopper's answers to ranked products, each with the trace of why it ranked.

Deterministic by construction: no randomness, and every tie ends at the product id.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from quiz.engine.flow import walk
from quiz.format.conditions import Answers, answer_tests, evaluate
from quiz.format.products import Product, ProductFilter
from quiz.format.questions import CHOICE_TYPES, NUMERIC_TYPES, Effect
from quiz.format.schema import Quiz
from quiz.format.text import Text, fill, format_number

_SOLD_OUT = ProductFilter(in_stock=False)
_T = TypeVar("_T")


@dataclass(frozen=True)
class Cause:
    """An answer (or a rule over answers) that is in effect, and what it does."""

    source: str  # where it is written: "questions[2].options[0]" or "scoring.rules[1]"
    question: str
    label: Text | None  # how a reason names it; None names nothing
    effect: Effect


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


def recommend(quiz: Quiz, answers: Answers) -> Recommendation:
    """The products to show for these answers, best first, with traces."""
    answers = walk(quiz, answers).answers
    causes = list(active_causes(quiz, answers))
    eligible = _eligible(quiz, causes)
    scores = _scores(quiz, causes, eligible)
    ranked = _Ranking(quiz, scores)
    chosen = _diverse(quiz, ranked)
    fallback = not chosen
    if fallback:
        chosen = [quiz.product_index[pid] for pid in quiz.scoring.fallback if pid in eligible][: quiz.scoring.count]
    items = [Recommended(product, scores.get(product.id, 0.0), contributions(causes, product)) for product in chosen]
    tied = () if fallback else ranked.tied_ids()
    lead = 0.0 if fallback or not items else items[0].score - ranked.second_score()
    return Recommendation(
        items=items,
        fallback=fallback,
        qualified=len(ranked),
        tied_on_id=bool(tied),
        tied=tied,
        lead=lead,
        scoring_answers=len({cause.question for cause in causes if _favours_some(cause.effect)}),
    )


def ruled_out_by(quiz: Quiz, answers: Answers, product_id: str) -> str:
    """Why a product cannot be shown for these answers: the hard rule that removes it, or "" if none does."""
    return ruling(quiz, list(active_causes(quiz, walk(quiz, answers).answers)), product_id)


def ruling(quiz: Quiz, causes: list[Cause], product_id: str) -> str:
    """``ruled_out_by`` for causes already worked out (the preview asks it of every product)."""
    if quiz.scoring.out_of_stock == "hide" and product_id in _matching(quiz, _SOLD_OUT):
        return "it is out of stock (scoring.out_of_stock is 'hide')"
    for cause in causes:
        effect = cause.effect
        if effect.require is not None and product_id not in _matching(quiz, effect.require):
            return f"{cause.source} requires {_shown(effect.require)}"
        if effect.exclude is not None and product_id in _matching(quiz, effect.exclude):
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
    for index, question in enumerate(quiz.questions):
        answer = answers.get(question.id)
        if answer is None or not isinstance(question, CHOICE_TYPES):
            continue
        picked = answer if isinstance(answer, list) else [answer]
        for position, option in enumerate(question.choices()):
            if option.id in picked and option.changes_scoring():
                where = option.id if question.type == "yes_no" else f"options[{position}]"
                source = f"questions[{index}].{where}"
                yield Cause(source, question.id, option.reason or option.label, option)
    for index, rule in enumerate(quiz.scoring.rules):
        if evaluate(rule.when, answers):
            tested = next(answer_tests(rule.when)).question
            label = rule.reason or _answer_label(quiz, tested, answers)
            yield Cause(f"scoring.rules[{index}]", tested, label, rule)


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


def _eligible(quiz: Quiz, causes: list[Cause]) -> set[str]:
    """Products that pass every hard rule in force (and stock, when out-of-stock items are hidden)."""
    eligible = set(quiz.product_index)
    if quiz.scoring.out_of_stock == "hide":
        eligible -= _matching(quiz, _SOLD_OUT)
    for cause in causes:
        if cause.effect.require is not None:
            eligible &= _matching(quiz, cause.effect.require)
        if cause.effect.exclude is not None:
            eligible -= _matching(quiz, cause.effect.exclude)
    return eligible


def _scores(quiz: Quiz, causes: list[Cause], eligible: set[str]) -> dict[str, float]:
    """Each eligible product's points: tag weights are summed first, so each tag's products are visited once."""
    per_tag: dict[str, float] = {}
    per_product: dict[str, float] = {}
    for cause in causes:
        points = cause.effect.points
        if points is not None:
            for tag, weight in points.tags.items():
                per_tag[tag] = per_tag.get(tag, 0.0) + weight
            for product_id, weight in points.products.items():
                per_product[product_id] = per_product.get(product_id, 0.0) + weight
    scores = dict.fromkeys(eligible, 0.0)
    for tag, weight in per_tag.items():
        for product_id in quiz.tag_index.get(tag, ()):
            if product_id in scores:
                scores[product_id] += weight
    for product_id, weight in per_product.items():
        if product_id in scores:
            scores[product_id] += weight
    return scores


class _Ranking:
    """Qualifying products in rank order, sorted lazily: a page of results needs only the top few."""

    def __init__(self, quiz: Quiz, scores: dict[str, float]) -> None:
        floor = quiz.scoring.min_score
        static = _static_rank_keys(quiz)
        self._heap = [
            (-round(score, 9), *static[product_id])
            for product_id, score in scores.items()
            if (score >= floor if floor is not None else score > 0)
        ]
        heapq.heapify(self._heap)
        self._size = len(self._heap)
        self._index = quiz.product_index
        self.taken: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Product]:
        for key in self.taken:
            yield self._index[key[-1]]
        while self._heap:
            key = heapq.heappop(self._heap)
            self.taken.append(key)
            yield self._index[key[-1]]

    def second_score(self) -> float:
        """The score of the second product in rank order, or 0 when only one qualifies."""
        if len(self.taken) < 2 and self._heap:
            self.taken.append(heapq.heappop(self._heap))
        return float(-self.taken[1][0]) if len(self.taken) > 1 else 0.0

    def tied_ids(self) -> tuple[str, ...]:
        """The products of neighbours, down to the first product left out, that differ only by product id."""
        if self._heap:
            self.taken.append(heapq.heappop(self._heap))
        tied: dict[str, None] = {}
        for first, second in itertools.pairwise(self.taken):
            if first[:-1] == second[:-1]:
                tied |= {first[-1]: None, second[-1]: None}
        return tuple(tied)


def _derived(quiz: Quiz, key: object, compute: Callable[[], _T]) -> _T:
    """``compute()`` once per quiz and key; the quiz is frozen, so the result stays true."""
    if key not in quiz.derived:
        quiz.derived[key] = compute()
    value: _T = quiz.derived[key]
    return value


def _static_rank_keys(quiz: Quiz) -> dict[str, tuple[Any, ...]]:
    """Each product's tie-break keys, ending with its id: they depend only on the quiz."""
    return _derived(
        quiz, "rank_keys", lambda: {product.id: (*_tie_keys(quiz, product), product.id) for product in quiz.products}
    )


def _matching(quiz: Quiz, product_filter: ProductFilter) -> frozenset[str]:
    """Ids of the products a filter selects, computed once per distinct filter."""
    return _derived(
        quiz,
        ("filter", product_filter.model_dump_json()),
        lambda: frozenset(product.id for product in quiz.products if product_filter.matches(product)),
    )


def _tie_keys(quiz: Quiz, product: Product) -> tuple[float, ...]:
    price = product.price if product.price is not None else math.inf
    keys = {
        "priority": -product.priority,
        "in_stock": 0 if product.in_stock else 1,
        "price": price,
        "price_desc": -price if product.price is not None else math.inf,
    }
    return tuple(keys[name] for name in quiz.scoring.tie_break)


def _diverse(quiz: Quiz, ranked: Iterable[Product]) -> list[Product]:
    """The top products, taking at most ``max_per_tag`` of any one tag when diversity is on."""
    diversity = quiz.scoring.diversity
    count = quiz.scoring.count
    chosen: list[Product] = []
    per_tag: dict[str, int] = {}
    for product in ranked:
        if diversity is not None:
            tags = [tag for tag in product.tags if diversity.tags is None or tag in diversity.tags]
            if any(per_tag.get(tag, 0) >= diversity.max_per_tag for tag in tags):
                continue
            for tag in tags:
                per_tag[tag] = per_tag.get(tag, 0) + 1
        chosen.append(product)
        if len(chosen) == count:
            break
    return chosen


def contributions(causes: list[Cause], product: Product) -> list[Contribution]:
    """A product's trace: each answer in force that required something of it or gave it points."""
    trace: list[Contribution] = []
    for cause in causes:
        effect = cause.effect
        if effect.require is not None:
            trace.append(Contribution(cause.source, cause.question, cause.label, "require"))
        if effect.points is None:
            continue
        weight = effect.points.products.get(product.id)
        if weight:
            trace.append(Contribution(cause.source, cause.question, cause.label, "points", weight, "product"))
        for tag, weight in effect.points.tags.items():
            if tag in product.tags and weight:
                trace.append(Contribution(cause.source, cause.question, cause.label, "points", weight, f"tag:{tag}"))
    return trace

"""The scoring rules written as plainly as possible: every product visited, the whole catalog sorted.

A test oracle for ``quiz.engine.scoring.recommend``, which gets the same result with array work and a
partial sort. Only the walk, the causes and the traces are shared with it; eligibility, points, the
order and the ties are worked out here again from the quiz as the README describes them.
"""

from __future__ import annotations

import itertools
import math

from quiz.engine.flow import walk
from quiz.engine.scoring import Recommendation, Recommended, active_causes, contributions
from quiz.format.conditions import Answers
from quiz.format.products import Product
from quiz.format.schema import Quiz


def reference_recommend(quiz: Quiz, answers: Answers) -> Recommendation:
    answers = walk(quiz, answers).answers
    causes = list(active_causes(quiz, answers))
    eligible = [product for product in quiz.products if _passes(quiz, causes, product)]
    scores = {product.id: _points(causes, product) for product in eligible}
    floor = quiz.scoring.min_score
    qualified = [product for product in eligible if _qualifies(scores[product.id], floor)]
    ranked = sorted(qualified, key=lambda product: _key(quiz, scores[product.id], product))
    chosen, looked_at = _diverse(quiz, ranked)
    fallback = not chosen
    if fallback:
        by_id = {product.id: product for product in eligible}
        chosen = [by_id[pid] for pid in quiz.scoring.fallback if pid in by_id][: quiz.scoring.count]
    items = [Recommended(product, scores[product.id], contributions(causes, product)) for product in chosen]
    # The products looked at, and the first one after them: the ties that decided what was shown.
    seen = [_key(quiz, scores[product.id], product) for product in ranked[: looked_at + 1]]
    tied: dict[str, None] = {}
    for first, second in itertools.pairwise(seen):
        if first[:-1] == second[:-1]:
            tied |= {first[-1]: None, second[-1]: None}
    second_score = round(scores[ranked[1].id], 9) if len(ranked) > 1 else 0.0
    return Recommendation(
        items=items,
        fallback=fallback,
        qualified=len(qualified),
        tied_on_id=bool(tied) and not fallback,
        tied=() if fallback else tuple(tied),
        lead=0.0 if fallback or not items else items[0].score - second_score,
        scoring_answers=len({cause.question for cause in causes if _favours_some(cause)}),
    )


def _passes(quiz: Quiz, causes: list, product: Product) -> bool:
    if quiz.scoring.out_of_stock == "hide" and not product.in_stock:
        return False
    for cause in causes:
        if cause.effect.require is not None and not cause.effect.require.matches(product):
            return False
        if cause.effect.exclude is not None and cause.effect.exclude.matches(product):
            return False
    return True


def _points(causes: list, product: Product) -> float:
    """Tag weights are added up over all answers first, each tag in the order it first appears, then
    products' own weights: the order of the additions, and so the score to the last bit, is documented."""
    per_tag: dict[str, float] = {}
    per_product: dict[str, float] = {}
    for cause in causes:
        points = cause.effect.points
        if points is not None:
            for tag, weight in points.tags.items():
                per_tag[tag] = per_tag.get(tag, 0.0) + weight
            for product_id, weight in points.products.items():
                per_product[product_id] = per_product.get(product_id, 0.0) + weight
    total = 0.0
    for tag, weight in per_tag.items():
        if tag in product.tags:
            total += weight
    if product.id in per_product:
        total += per_product[product.id]
    return total


def _qualifies(score: float, floor: float | None) -> bool:
    return score >= floor if floor is not None else score > 0


def _key(quiz: Quiz, score: float, product: Product) -> tuple:
    price = product.price if product.price is not None else math.inf
    keys = {
        "priority": -product.priority,
        "in_stock": 0 if product.in_stock else 1,
        "price": price,
        "price_desc": -price if product.price is not None else math.inf,
    }
    return (-round(score, 9), *(keys[name] for name in quiz.scoring.tie_break), product.id)


def _diverse(quiz: Quiz, ranked: list[Product]) -> tuple[list[Product], int]:
    """The products shown, and how many of the ranked ones were looked at to choose them."""
    diversity = quiz.scoring.diversity
    chosen: list[Product] = []
    per_tag: dict[str, int] = {}
    looked_at = 0
    for product in ranked:
        looked_at += 1
        if diversity is not None:
            tags = [tag for tag in product.tags if diversity.tags is None or tag in diversity.tags]
            if any(per_tag.get(tag, 0) >= diversity.max_per_tag for tag in tags):
                continue
            for tag in tags:
                per_tag[tag] = per_tag.get(tag, 0) + 1
        chosen.append(product)
        if len(chosen) == quiz.scoring.count:
            break
    return chosen, looked_at


def _favours_some(cause) -> bool:
    points = cause.effect.points
    return points is not None and any(weight > 0 for weight in (*points.tags.values(), *points.products.values()))

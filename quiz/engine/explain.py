"""Why the results are what they are, at any step: the trace the merchant's preview shows beside the quiz.

The same engine as the shopper's results (``recommend``), laid open: every product's points so far
and the answers they came from, the products hard rules took out and which rule, and the results
if the quiz ended now.
"""

from __future__ import annotations

from dataclasses import dataclass

from quiz.engine.flow import walk
from quiz.engine.scoring import Contribution, Recommendation, active_causes, contributions, recommend, ruling
from quiz.format.conditions import Answers
from quiz.format.schema import Quiz

SHOWN_PRODUCTS = 25  # a catalog of thousands: the trace lists the best and counts the rest


@dataclass(frozen=True)
class Standing:
    """One product's points so far, and each answer's part in them."""

    product_id: str
    points: float
    lines: list[Contribution]


@dataclass(frozen=True)
class Explanation:
    answers: dict[str, object]  # the answers that count: those on the path the branching follows
    results: Recommendation  # if the quiz ended now
    standings: list[Standing]  # products still in the running, most points first
    others: int  # how many more are in the running than listed
    removed: list[tuple[str, str]]  # (product id, the rule that took it out)


def explain(quiz: Quiz, answers: Answers) -> Explanation:
    """The trace for these answers (the answers so far, mid-quiz, or a whole path)."""
    kept = walk(quiz, answers).answers
    causes = list(active_causes(quiz, kept))
    removed, standing = [], []
    for product in quiz.products:
        reason = ruling(quiz, causes, product.id)
        if reason:
            removed.append((product.id, reason))
            continue
        lines = contributions(causes, product)
        points = sum(line.points for line in lines if line.kind == "points")
        standing.append(Standing(product.id, points, lines))
    standing.sort(key=lambda item: (-item.points, item.product_id))
    shown = standing[:SHOWN_PRODUCTS]
    return Explanation(dict(kept), recommend(quiz, kept), shown, len(standing) - len(shown), removed)

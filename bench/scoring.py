"""Time one scoring call for a 30-question quiz against catalogs of 100, 1,000, 10,000 and 100,000 products.

Prints figures, asserts nothing. A quiz file holds at most 10,000 products (``quiz.format.schema.MAX_PRODUCTS``,
a limit on validation time); the 100,000 row is a quiz validated past that limit, to show how scoring grows.
The baseline, measured in the same run, is sorting the same
products by price once: the least any ranking of the catalog can cost.

    python bench/scoring.py
"""

from __future__ import annotations

import random
import statistics
import time

from pydantic import Field

from quiz.engine.reasons import reason_for
from quiz.engine.scoring import recommend
from quiz.engine.simulate import answer_space
from quiz.format.products import Product
from quiz.format.schema import Quiz

TAGS = [f"tag{index}" for index in range(40)]
QUESTIONS = 30
SIZES = (100, 1_000, 10_000, 100_000)


class LargeQuiz(Quiz):
    """A quiz with room for 100,000 products: the format stops at 10,000."""

    products: list[Product] = Field(default_factory=list, max_length=100_000)


def build_quiz(products: int, rng: random.Random) -> Quiz:
    questions = []
    for index in range(QUESTIONS):
        kind = ("single", "multiple", "yes_no", "number")[index % 4]
        question: dict[str, object] = {"id": f"q{index}", "type": kind, "title": f"Question {index}"}
        if kind in ("single", "multiple"):
            question["options"] = [
                {"id": f"o{option}", "label": f"Option {option}", "points": {"tags": _weights(rng)}}
                for option in range(5)
            ]
        elif kind == "yes_no":
            question["yes"] = {"exclude": {"tags_any": [rng.choice(TAGS)]}}
        else:
            question.update(min=0, max=100)
        questions.append(question)
    rules = [
        {"when": {"question": f"q{index}", "gte": 50}, "points": {"tags": _weights(rng)}}
        for index in range(3, QUESTIONS, 4)
    ]
    catalog = [
        {
            "id": f"p{index}",
            "title": f"Product {index}",
            "url": f"/p/{index}",
            "price": rng.randint(5, 200),
            "tags": rng.sample(TAGS, 4),
            "priority": rng.randint(0, 3),
        }
        for index in range(products)
    ]
    scoring = {"rules": rules, "count": 5, "diversity": {"max_per_tag": 2}}
    document = {"version": 1, "id": "bench", "title": "Bench", "questions": questions, "products": catalog}
    return LargeQuiz.model_validate({**document, "scoring": scoring})


def _weights(rng: random.Random) -> dict[str, int]:
    return {tag: rng.choice([-2, 1, 2, 3]) for tag in rng.sample(TAGS, 3)}


def shopper(quiz: Quiz, rng: random.Random) -> dict[str, object]:
    return {question.id: rng.choice(answer_space(quiz, question)) for question in quiz.questions}


def per_call(function, repeats: int) -> float:
    """Median seconds of one call over ``repeats`` calls."""
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def measure(size: int, rng: random.Random) -> tuple[float, float, float]:
    """Seconds per call: recommend, recommend plus reasons, and the baseline sort."""
    quiz = build_quiz(size, rng)
    shoppers = [shopper(quiz, rng) for _ in range(20)]
    repeats = max(10, min(200, 20_000 // size))
    turn = iter(range(10**9))

    def score() -> None:
        recommend(quiz, shoppers[next(turn) % len(shoppers)])

    def score_and_explain() -> None:
        result = recommend(quiz, shoppers[next(turn) % len(shoppers)])
        for item in result.items:
            reason_for(quiz, item, "en")

    def baseline() -> None:
        sorted(quiz.products, key=lambda product: product.price or 0)

    return per_call(score, repeats), per_call(score_and_explain, repeats), per_call(baseline, repeats)


def main() -> None:
    rng = random.Random(0)
    print(f"{QUESTIONS} questions; median of repeated calls; baseline = sorting the catalog by price once")
    print(f"{'products':>9} {'recommend ms':>13} {'+ reasons ms':>13} {'baseline ms':>12} {'ratio':>7}")
    for size in SIZES:
        recommend_s, explained_s, baseline_s = measure(size, rng)
        print(
            f"{size:>9,} {recommend_s * 1000:>13.3f} {explained_s * 1000:>13.3f} {baseline_s * 1000:>12.3f}"
            f" {recommend_s / baseline_s:>6.1f}x"
        )


if __name__ == "__main__":
    main()

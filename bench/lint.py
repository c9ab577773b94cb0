"""How long `quiz lint` takes on a quiz of 14,400 answer paths (the preview re-lints on every save).

The quiz: five questions (10 skin types, 8 concerns with a branch, 6 textures, an age tested by
a scoring rule, 6 budgets) over 300 products of 3 tags each, with hard rules, diversity and a
fallback: 10 x 8 x 6 x 5 x 6 = 14,400 paths, every one of which the linter plays. Timed as
`quiz lint` reads it: parse and validate the file, then lint (which simulates every path).

The baseline, measured in the same run, is following the branching of every path alone, without
scoring any: what any linter that plays every path pays before it looks at a result.

Prints figures, asserts nothing.

    python bench/lint.py
"""

from __future__ import annotations

import json
import random

from scoring import per_call

from quiz.authoring.lint import lint
from quiz.authoring.loader import parse_quiz
from quiz.engine.simulate import _all_paths, answer_space, simulate
from quiz.format.schema import Quiz

TAGS = [f"tag{index}" for index in range(24)]
SIZES = {"skin": 10, "concern": 8, "texture": 6, "budget": 6}
REPEATS = 5


def build_document(rng: random.Random) -> str:
    def single(question_id: str, size: int) -> dict[str, object]:
        options = []
        for index in range(size):
            option: dict[str, object] = {
                "id": f"{question_id}{index}",
                "label": f"{question_id.title()} {index}",
                "points": {"tags": {tag: rng.choice([1, 2, 3, -1]) for tag in rng.sample(TAGS, 3)}},
            }
            if index == size - 1:
                option["exclude"] = {"tags_any": [rng.choice(TAGS)]}
            options.append(option)
        return {"id": question_id, "type": "single", "title": question_id.title(), "options": options}

    concern = single("concern", SIZES["concern"])
    concern["next"] = [{"if": {"question": "skin", "in": ["skin0", "skin1"]}, "goto": "texture"}, {"goto": "texture"}]
    questions = [
        single("skin", SIZES["skin"]),
        concern,
        single("texture", SIZES["texture"]),
        {"id": "age", "type": "number", "title": "Age", "min": 16, "max": 99},
        single("budget", SIZES["budget"]),
    ]
    rules = [
        {"when": {"question": "age", "gte": 40}, "points": {"tags": {"tag0": 2, "tag1": 1}}},
        {"when": {"question": "age", "lt": 40}, "points": {"tags": {"tag2": 2}}},
    ]
    products = [
        {
            "id": f"p{index:03d}",
            "title": f"Product {index}",
            "url": f"https://shop.example/p/{index}",
            "price": rng.randint(8, 120),
            "tags": rng.sample(TAGS, 3),
            "priority": rng.randint(0, 2),
            "in_stock": rng.random() > 0.05,
        }
        for index in range(300)
    ]
    scoring = {"count": 3, "rules": rules, "diversity": {"max_per_tag": 2}, "fallback": ["p000", "p001", "p002"]}
    document = {
        "version": 1,
        "id": "lint-bench",
        "title": "Lint bench",
        "questions": questions,
        "products": products,
        "scoring": scoring,
    }
    return json.dumps(document)


def walk_every_path(quiz: Quiz) -> int:
    spaces = {question.id: answer_space(quiz, question) for question in quiz.questions}
    return sum(1 for _ in _all_paths(quiz, spaces))


def main() -> None:
    text = build_document(random.Random(0))

    def lint_file() -> None:
        loaded = parse_quiz(text)
        assert loaded.quiz is not None, [problem.render() for problem in loaded.problems]
        lint(loaded.quiz)

    quiz = parse_quiz(text).quiz
    assert quiz is not None
    paths = simulate(quiz).paths
    lint_s = per_call(lint_file, REPEATS)
    baseline_s = per_call(lambda: walk_every_path(quiz), REPEATS)
    print(f"quiz lint on {paths:,} answer paths, {len(quiz.products)} products; median of {REPEATS} runs")
    print(f"{'':>28} {'seconds':>8} {'ratio':>7}")
    print(f"{'quiz lint (parse + lint)':>28} {lint_s:>8.3f} {lint_s / baseline_s:>6.1f}x")
    print(f"{'baseline: walk every path':>28} {baseline_s:>8.3f} {1:>6.1f}x")


if __name__ == "__main__":
    main()

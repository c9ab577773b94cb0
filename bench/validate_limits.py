"""How long `quiz validate` takes on files at the documented limits, valid and full of mistakes.

Each shape fills one limit as far as it goes (the quiz file's 1 MiB, 200 questions of 100 options,
100 branches a question, 500 rules, 20,000 catalog products of 30 tags and 30 attributes in a
10 MiB catalog, conditions nested to the depth limit, a mistake in every product...), then a
seeded sample of random mixtures of them. Every file is checked to be within the limits it
claims, and timed as `quiz validate` reads it (read, parse, migrate, catalog, model, references,
locating the problems). The target is under one second for every file.

The baseline, measured in the same run, is `json.loads` of the same bytes (and of the catalog as
a list of CSV rows): the least any validation of the file can cost.

Prints figures, asserts nothing.

    python bench/validate_limits.py [--random N]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quiz.authoring.catalog import MAX_CATALOG_BYTES
from quiz.authoring.loader import MAX_QUIZ_BYTES, load_quiz
from quiz.format.conditions import MAX_PARTS, MAX_VALUES
from quiz.format.products import MAX_ATTRIBUTES, MAX_TAGS
from quiz.format.questions import MAX_BRANCHES
from quiz.format.schema import MAX_PRODUCTS, MAX_QUESTIONS

Document = dict[str, Any]
TARGET = 1.0  # seconds


def option(question: int, index: int, tags: int) -> Document:
    points = {f"t{(question * 7 + index + k) % 300}": 1 for k in range(tags)}
    return {"id": f"o{index}", "label": f"Option {index}", "reason": f"reason {index}", "points": {"tags": points}}


def question(index: int, options: int, tags: int = 2, branches: list[Document] | None = None) -> Document:
    found: Document = {"id": f"q{index}", "type": "single", "title": f"Question {index}?"}
    found["options"] = [option(index, number, tags) for number in range(options)]
    if branches is not None:
        found["next"] = branches
    return found


def products(count: int, tags: int = 3, *, price: float = 10) -> list[Document]:
    return [
        {
            "id": f"p{i}",
            "title": f"P{i}",
            "url": f"/p/{i}",
            "price": price,
            "tags": [f"t{(i + k) % 300}" for k in range(tags)],
        }
        for i in range(count)
    ]


def quiz(questions: list[Document], items: list[Document], rules: list[Document] = ()) -> Document:  # type: ignore[assignment]
    return {
        "version": 1,
        "id": "limits",
        "title": "Limits",
        "questions": questions,
        "products": items,
        "scoring": {"fallback": ["p0"], "rules": list(rules)},
    }


def condition_in(question_index: int, values: int) -> Document:
    return {"question": f"q{question_index}", "in": [f"o{k}" for k in range(values)]}


def branching(count: int, questions: int) -> Document:
    """``count`` questions of 100 options, each with 100 branches of wide conditions."""
    built = []
    for index in range(count):
        after = f"q{index + 1}" if index + 1 < count else "results"
        branches = [
            {"if": {"all": [condition_in(index, MAX_VALUES), condition_in(max(index - 1, 0), 20)]}, "goto": after}
            for _ in range(MAX_BRANCHES - 1)
        ]
        built.append(question(index, 100, 0, [*branches, {"goto": after}]))
    return quiz(built + [question(index, 2, 0) for index in range(count, questions)], products(20))


def deep(levels: int) -> Document:
    condition: Document = {"question": "q0", "is": "o1"}
    for level in range(levels):
        condition = {"not": condition} if level % 2 else {"any": [condition, {"question": "q0", "is": "o2"}]}
    branches = [{"if": condition, "goto": "results"}] * MAX_BRANCHES
    return quiz([question(0, 100, 1, branches), question(1, 2, 0)], products(10))


def rules(count: int) -> Document:
    written = [
        {
            "when": {"all": [condition_in(index % 20, 50)] * MAX_PARTS},
            "points": {"tags": {f"t{k}": 1 for k in range(30)}},
        }
        for index in range(count)
    ]
    return quiz([question(index, 100, 5) for index in range(20)], products(500), written)


def bad_products(count: int) -> Document:
    return quiz([question(0, 10, 1)], products(count, price=-1))


def bad_references(count: int) -> Document:
    branches = [{"if": {"question": f"nope{i % 50}", "is": "o1"}, "goto": f"missing{i}"} for i in range(MAX_BRANCHES)]
    built = [question(index, 100, 0, branches) for index in range(count)]
    return quiz(built, products(10))


def catalog_rows(count: int, *, bad: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "title", "url", "price", "tags", *[f"attr{k}" for k in range(MAX_ATTRIBUTES)]])
    for i in range(count):
        tags = "|".join(f"t{(i * 13 + k) % 5000}" for k in range(MAX_TAGS))
        writer.writerow(
            [f"p{i}", f"Product {i}", f"/p/{i}", "-1" if bad else i % 90 + 1, tags, *[k for k in range(MAX_ATTRIBUTES)]]
        )
    return out.getvalue()


def to_size(build: Callable[[int], Document], high: int) -> Callable[[], Document]:
    """The largest ``build(n)``, n <= high, whose file fits the quiz file limit."""

    def fitted() -> Document:
        low, best = 1, build(1)
        top = high
        while low <= top:
            middle = (low + top) // 2
            document = build(middle)
            if len(dumped(document)) <= MAX_QUIZ_BYTES:
                best, low = document, middle + 1
            else:
                top = middle - 1
        return best

    return fitted


def dumped(document: Document) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def shapes() -> dict[str, Callable[[], tuple[Document, str | None]]]:
    def plain(build: Callable[[], Document]) -> Callable[[], tuple[Document, str | None]]:
        return lambda: (build(), None)

    def with_catalog(bad: bool) -> Callable[[], tuple[Document, str | None]]:
        rows = MAX_PRODUCTS
        while len(catalog_rows(rows, bad=bad).encode()) > MAX_CATALOG_BYTES:
            rows = rows * 9 // 10
        return lambda: (quiz([question(0, 100, 5)], []), catalog_rows(rows, bad=bad))

    return {
        "200 questions x 100 options": plain(
            to_size(lambda n: quiz([question(i, 100, 1) for i in range(n)], products(50)), MAX_QUESTIONS)
        ),
        "100 branches of wide conditions": plain(to_size(lambda n: branching(n, MAX_QUESTIONS), MAX_QUESTIONS)),
        "conditions at the depth limit": plain(lambda: deep(17)),
        "500 rules of 50 parts": plain(to_size(rules, 500)),
        "inline products, valid": plain(
            to_size(lambda n: quiz([question(0, 10, 1)], products(n, MAX_TAGS)), MAX_PRODUCTS)
        ),
        "inline products, each invalid": plain(to_size(bad_products, MAX_PRODUCTS)),
        "a bad reference in every branch": plain(to_size(bad_references, MAX_QUESTIONS)),
        "catalog at its limits, valid": with_catalog(bad=False),
        "catalog at its limits, each row invalid": with_catalog(bad=True),
    }


def random_mixture(rng: random.Random) -> tuple[Document, str | None]:
    """A random quiz within the limits: some questions, branches, rules, products, maybe a catalog."""

    def build(scale: int) -> Document:
        count = max(1, min(MAX_QUESTIONS, scale * rng.randint(1, 20) // 20))
        built = []
        for index in range(count):
            options = rng.randint(2, 100)
            after = f"q{index + 1}" if index + 1 < count else "results"
            branches = [
                {"if": condition_in(index, rng.randint(1, options)), "goto": rng.choice([after, "results", "q0"])}
                for _ in range(rng.randint(0, 20))
            ]
            built.append(question(index, options, rng.randint(0, 5), [*branches, {"goto": after}]))
        written = [
            {"when": condition_in(rng.randrange(count), 1), "points": {"tags": {"t1": 1}}}
            for _ in range(rng.randint(0, 500))
        ]
        return quiz(built, products(rng.randint(1, 2_000), rng.randint(0, MAX_TAGS)), written)

    document = to_size(build, MAX_QUESTIONS)()
    catalog = catalog_rows(rng.randint(1, 5_000), bad=rng.random() < 0.3) if rng.random() < 0.3 else None
    return document, catalog


def timed(folder: Path, name: str, document: Document, catalog: str | None) -> tuple[float, float, int, int]:
    """(seconds to validate, seconds of the baseline, bytes read, problems) for one file."""
    if catalog is not None:
        (folder / f"{name}.csv").write_text(catalog, encoding="utf-8")
        document = {**document, "catalog": f"{name}.csv"}
    path = folder / f"{name}.json"
    body = dumped(document)
    assert len(body) <= MAX_QUIZ_BYTES, name
    path.write_bytes(body)
    size = len(body) + (len(catalog.encode()) if catalog else 0)
    validate, baseline = [], []
    for _ in range(3):
        started = time.perf_counter()
        loaded = load_quiz(path)
        validate.append(time.perf_counter() - started)
        started = time.perf_counter()
        json.loads(path.read_bytes())
        if catalog is not None:
            list(csv.reader(io.StringIO(catalog)))
        baseline.append(time.perf_counter() - started)
    return statistics.median(validate), statistics.median(baseline), size, len(loaded.problems)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random", type=int, default=40, help="random mixtures to try (default 40)")
    args = parser.parse_args()
    rng = random.Random(16)
    print(f"{'file':<42} {'size':>9} {'problems':>8} {'validate':>10} {'json.loads':>11}")
    slowest: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        cases = [(name, build) for name, build in shapes().items()]
        cases += [(f"random mixture {index + 1}", lambda: random_mixture(rng)) for index in range(args.random)]
        for number, (name, build) in enumerate(cases):
            document, catalog = build()
            seconds, baseline, size, problems = timed(folder, f"file{number}", document, catalog)
            slowest.append((seconds, name))
            if not name.startswith("random") or seconds > TARGET / 2:
                print(
                    f"{name:<42} {size / 1e6:>7.2f}MB {problems:>8} {seconds * 1000:>8.0f}ms {baseline * 1000:>9.0f}ms"
                )
    times = sorted(seconds for seconds, _ in slowest)
    worst, name = max(slowest)
    over = sum(seconds > TARGET for seconds in times)
    print(
        f"\n{len(times)} files: median {statistics.median(times) * 1000:.0f} ms, slowest {worst * 1000:.0f} ms"
        f" ({name}); {over} over {TARGET:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

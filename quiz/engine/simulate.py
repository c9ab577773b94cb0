"""Playing every answer path through a quiz (or a seeded sample of them) and reporting coverage."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from quiz.engine.flow import choose_branch, first_question
from quiz.engine.scoring import Cause, Ranked, option_causes, picked_causes, rank, rule_causes
from quiz.format.conditions import Answer, Scalar, answer_tests
from quiz.format.questions import CHOICE_TYPES, RESULTS, Info, MultipleChoice, Number, Question, Scale
from quiz.format.schema import Quiz

EXHAUSTIVE_LIMIT = 20_000
SAMPLES = 2_000
MAX_COMBINATIONS = 512

Path = dict[str, Answer | None]
Spaces = dict[str, list[Answer | None]]


@dataclass
class AnswerOutcome:
    paths: int = 0
    tops: set[str] = field(default_factory=set)
    lead: float = float("inf")


@dataclass
class Coverage:
    """What a simulation saw: how often each product is shown, and the paths that went wrong."""

    mode: Literal["exhaustive", "sampled"]
    paths: int
    seed: int | None
    recommended: Counter[str] = field(default_factory=Counter)
    fallback_shown: Counter[str] = field(default_factory=Counter)
    never: list[str] = field(default_factory=list)
    fallback_paths: int = 0
    empty_paths: int = 0
    tie_paths: int = 0
    tied_products: list[str] = field(default_factory=list)  # those tied on the example path
    short_paths: int = 0  # paths showing fewer products than scoring.count, not the fallback
    short_reason: str = ""  # why, on the example path
    tops: Counter[str] = field(default_factory=Counter)  # the first result of each path that is not the fallback
    # For each option picked: on how many paths, the first results seen with it (two at most), and
    # the smallest lead of the first over the second: what it takes to see an answer decide alone.
    by_answer: dict[tuple[str, str], AnswerOutcome] = field(default_factory=dict)
    visited: set[str] = field(default_factory=set)
    branches_taken: set[tuple[str, int | None]] = field(default_factory=set)
    examples: dict[str, Path] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "paths": self.paths,
            "seed": self.seed,
            "recommended": dict(self.recommended.most_common()),
            "fallback_shown": dict(self.fallback_shown.most_common()),
            "never_recommended": self.never,
            "fallback_paths": self.fallback_paths,
            "empty_paths": self.empty_paths,
            "tie_paths": self.tie_paths,
            "tied_products": self.tied_products,
            "short_paths": self.short_paths,
            "short_reason": self.short_reason,
            "examples": self.examples,
        }


def simulate(quiz: Quiz, *, limit: int = EXHAUSTIVE_LIMIT, samples: int = SAMPLES, seed: int = 0) -> Coverage:
    """Every path when there are at most ``limit``, otherwise ``samples`` random ones from ``seed``."""
    spaces = {question.id: answer_space(quiz, question) for question in quiz.questions}
    exhaustive = _count_paths(quiz, spaces, limit) <= limit
    coverage = Coverage(mode="exhaustive" if exhaustive else "sampled", paths=0, seed=None if exhaustive else seed)
    for played in _played(quiz, spaces, exhaustive, samples, seed):
        _record(quiz, coverage, played)
    shown = set(coverage.recommended) | set(coverage.fallback_shown)
    coverage.never = [product.id for product in quiz.products if product.id not in shown]
    return coverage


@dataclass(frozen=True)
class _Played:
    path: Path
    branches: tuple[tuple[str, int | None], ...]  # each question on the path, and the branch it took
    result: Ranked


def _played(quiz: Quiz, spaces: Spaces, exhaustive: bool, samples: int, seed: int) -> Iterator[_Played]:
    """Each path with its results. Paths whose answers put the same options and rules in force rank
    alike, so each such set is ranked once: 14,400 paths of five questions rank about 5,800 times."""
    ranked: dict[tuple[str, ...], Ranked] = {}
    rules: dict[tuple[object, ...], tuple[Cause, ...]] = {}
    tested = sorted({test.question for rule in quiz.scoring.rules for test in answer_tests(rule.when)})
    walked = _all_paths(quiz, spaces) if exhaustive else _sampled_paths(quiz, spaces, samples, seed)
    for path, branches, picked in walked:
        rule_key = tuple(_hashable(path.get(question_id)) for question_id in tested)
        if rule_key not in rules:  # the rules in force depend only on the answers they test
            rules[rule_key] = tuple(rule_causes(quiz, path))
        causes = [*picked, *rules[rule_key]]
        key = tuple(cause.source for cause in causes)
        if key not in ranked:
            ranked[key] = rank(quiz, causes)
        yield _Played(path, branches, ranked[key])


def _hashable(answer: Answer | None) -> object:
    return tuple(answer) if isinstance(answer, list) else answer


def _record(quiz: Quiz, coverage: Coverage, played: _Played) -> None:
    coverage.paths += 1
    path, result = played.path, played.result
    coverage.visited.update(path)
    coverage.branches_taken.update(played.branches)
    shown = [product.id for product in result.products]
    (coverage.fallback_shown if result.fallback else coverage.recommended).update(shown)
    if not shown:
        coverage.empty_paths += 1
        coverage.examples.setdefault("empty", path)
    elif result.fallback:
        coverage.fallback_paths += 1
        coverage.examples.setdefault("fallback", path)
    elif len(shown) < quiz.scoring.count:
        coverage.short_paths += 1
        if "short" not in coverage.examples:
            coverage.examples["short"] = path
            coverage.short_reason = _why_short(quiz, result.qualified, len(shown))
    if shown and not result.fallback:
        _record_top(coverage, path, shown[0], result.lead)
    if result.tied:
        coverage.tie_paths += 1
        if "tie" not in coverage.examples:
            coverage.examples["tie"] = path
            coverage.tied_products = list(result.tied)


def _record_top(coverage: Coverage, path: Path, top: str, lead: float) -> None:
    coverage.tops[top] += 1
    by_answer = coverage.by_answer
    for question_id, answer in path.items():
        for option_id in answer if isinstance(answer, list) else (answer,):
            if not isinstance(option_id, str):
                continue
            outcome = by_answer.get((question_id, option_id))
            if outcome is None:
                outcome = by_answer[question_id, option_id] = AnswerOutcome()
            outcome.paths += 1
            if len(outcome.tops) < 2:
                outcome.tops.add(top)
            if lead < outcome.lead:
                outcome.lead = lead


def _why_short(quiz: Quiz, qualified: int, shown: int) -> str:
    if qualified < quiz.scoring.count:
        floor = quiz.scoring.min_score
        one = qualified == 1
        bar = f"at least {floor:g}" if floor is not None else "above 0"
        verbs = ("passes", "scores") if one else ("pass", "score")
        return f"only {qualified} product{'' if one else 's'} {verbs[0]} the hard rules and {verbs[1]} {bar}"
    diversity = quiz.scoring.diversity
    limit = diversity.max_per_tag if diversity is not None else 0
    return f"{qualified} qualify, but scoring.diversity (max_per_tag {limit}) leaves {shown}"


def answer_space(quiz: Quiz, question: Question) -> list[Answer | None]:
    """The answers worth trying: every option, every scale point, numbers either side of each threshold."""
    if isinstance(question, Info):
        return [None]
    space: list[Answer | None] = []
    if isinstance(question, MultipleChoice):
        space.extend(_combinations(question))
    elif isinstance(question, CHOICE_TYPES):
        space.extend(option.id for option in question.choices())
    elif isinstance(question, Scale):
        space.extend(question.values())
    elif isinstance(question, Number):
        space.extend(_interesting_numbers(quiz, question))
    else:
        space.extend(sorted({str(value) for value in _tested_values(quiz, question.id)}) or ["anything"])
    if question.optional and None not in space:
        space.append(None)
    return space


def _combinations(question: MultipleChoice) -> Iterator[list[str]]:
    ids = [option.id for option in question.options]
    sizes = range(question.min, question.most() + 1)
    total = sum(math.comb(len(ids), size) for size in sizes)
    if total > MAX_COMBINATIONS:  # too many to try: every single pick, every pair, and the fewest allowed
        sizes = range(question.min, min(question.most(), max(question.min, 2)) + 1)
    for size in sizes:
        for combination in itertools.combinations(ids, size):
            yield list(combination)


def _tested_values(quiz: Quiz, question_id: str) -> Iterator[Scalar]:
    for condition in quiz.conditions():
        for test in answer_tests(condition):
            if test.question != question_id:
                continue
            name, value = test.operator()
            if name in ("is", "gt", "gte", "lt", "lte"):
                yield value
            elif name == "in":
                yield from value


def _interesting_numbers(quiz: Quiz, question: Number) -> list[float]:
    step = 1.0
    candidates = {question.min if question.min is not None else 0.0}
    if question.max is not None:
        candidates.add(question.max)
    for value in _tested_values(quiz, question.id):
        if isinstance(value, float | int):
            candidates.update({value - step, float(value), value + step})
    low = question.min if question.min is not None else -float("inf")
    high = question.max if question.max is not None else float("inf")
    return [float(value) for value in sorted(candidates) if low <= value <= high]


def _count_paths(quiz: Quiz, spaces: Spaces, limit: int) -> int:
    count = 0
    for _ in _all_paths(quiz, spaces):
        count += 1
        if count > limit:
            break
    return count


_Walked = tuple[Path, tuple[tuple[str, int | None], ...], tuple[Cause, ...]]


def _all_paths(quiz: Quiz, spaces: Spaces) -> Iterator[_Walked]:
    """Every path, depth first, with the branches it took and the options it picked that change scoring.

    What a path shares with its neighbours (the answers, branches and causes before the last
    question) is worked out once, where they part.
    """
    stack: list[tuple[Path, tuple[tuple[str, int | None], ...], tuple[Cause, ...], str]] = [
        ({}, (), (), first_question(quiz).id)
    ]
    index = quiz.question_index
    while stack:
        answers, branches, picked, question_id = stack.pop()
        question = quiz.question(question_id)
        for value in reversed(spaces[question_id]):
            path = {**answers, question_id: value}
            branch, target = choose_branch(quiz, question, path)
            taken = (*branches, (question_id, branch))
            chosen = option_causes(quiz, question_id, value)
            if chosen and picked and index[picked[-1].question] > index[question_id]:  # a branch went back
                chosen = tuple(sorted((*picked, *chosen), key=lambda cause: index[cause.question]))
            else:
                chosen = (*picked, *chosen)
            if target == RESULTS:
                yield path, taken, chosen
            else:
                stack.append((path, taken, chosen, target))


def _sampled_paths(quiz: Quiz, spaces: Spaces, samples: int, seed: int) -> Iterator[_Walked]:
    rng = random.Random(seed)
    for _ in range(samples):
        path: Path = {}
        branches: list[tuple[str, int | None]] = []
        target = first_question(quiz).id
        while target != RESULTS:
            path[target] = rng.choice(spaces[target])
            branch, next_target = choose_branch(quiz, quiz.question(target), path)
            branches.append((target, branch))
            target = next_target
        yield path, tuple(branches), tuple(picked_causes(quiz, path))


@dataclass(frozen=True)
class Outcome:
    """Answer paths that end on the same results, in the same order."""

    products: tuple[str, ...]
    fallback: bool
    paths: int
    example: Path


def outcomes(quiz: Quiz, *, limit: int = 2_000, samples: int = 500, seed: int = 0) -> tuple[str, int, list[Outcome]]:
    """The distinct results the quiz can end on, most frequent first, each with one path that reaches it.

    Every path when there are at most ``limit``, else a seeded sample: the preview's paths page, kept
    small enough to build while the merchant waits.
    """
    spaces = {question.id: answer_space(quiz, question) for question in quiz.questions}
    exhaustive = _count_paths(quiz, spaces, limit) <= limit
    groups: dict[tuple[tuple[str, ...], bool], list[Any]] = {}
    played = 0
    for each in _played(quiz, spaces, exhaustive, samples, seed):
        played += 1
        key = (tuple(product.id for product in each.result.products), each.result.fallback)
        group = groups.setdefault(key, [0, each.path])
        group[0] += 1
    found = [Outcome(products, fallback, count, example) for (products, fallback), (count, example) in groups.items()]
    found.sort(key=lambda outcome: (-outcome.paths, outcome.products))
    return ("exhaustive" if exhaustive else "sampled"), played, found

"""What the dashboard's pages show, worked out from the day records of ``quiz.web.tally``: pure, no I/O.

counts = summed(counts_of_each_day_and_quiz)
stages = funnel(counts, summed(counts_of_the_period_before))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from quiz.format.questions import Info, Number, Question, Scale, ShortText
from quiz.format.schema import Quiz
from quiz.format.text import resolve
from quiz.web.tally import DIMENSIONS, OTHER, Counts, add_up

# The funnel's stages, each with the stage its rate is taken from.
STAGES = (
    ("viewed", None),
    ("started", "viewed"),
    ("completed", "started"),
    ("opted_in:email", "completed"),
    ("opted_in:line", "completed"),
    ("clicked", "completed"),
    ("added_to_cart", "completed"),
)
SERIES = ("viewed", "started", "completed")
HISTOGRAM_BINS = 8
MAX_ROWS = 500  # a table's rows: a page of made-up URLs cannot make a page of megabytes
TRAFFIC_COLUMNS = ("viewed", "started", "completed", "opted_in", "clicked")


def summed(days: Iterable[Counts]) -> Counts:
    """The counts of several days (of one quiz or many) added up, exactly."""
    total: Counts = {}
    for counts in days:
        add_up(total, counts)
    return total


def share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def change(now: float, before: float) -> float | None:
    """The relative change from the previous period; None when there was nothing to compare with."""
    return (now - before) / before if before else None


@dataclass(frozen=True)
class Stage:
    name: str
    count: int
    rate: float | None  # of the stage it follows (None for views)
    previous: int
    previous_rate: float | None
    change: float | None  # of the count, against the previous period


def funnel(counts: Counts, before: Counts) -> list[Stage]:
    now_funnel, then_funnel = counts.get("funnel", {}), before.get("funnel", {})
    stages = []
    for name, base in STAGES:
        count, previous = int(now_funnel.get(name, 0)), int(then_funnel.get(name, 0))
        rate = share(count, now_funnel.get(base, 0)) if base else None
        previous_rate = share(previous, then_funnel.get(base, 0)) if base else None
        stages.append(Stage(name, count, rate, previous, previous_rate, change(count, previous)))
    return stages


def series(days: list[date], by_day: Mapping[str, list[Counts]]) -> list[dict[str, Any]]:
    """One row per day of the period: the day and its views, starts and completions (0 on a quiet day)."""
    rows = []
    for day in days:
        counted = summed({"funnel": counts.get("funnel", {})} for counts in by_day.get(day.isoformat(), []))
        rows.append({"day": day, **{name: int(counted.get("funnel", {}).get(name, 0)) for name in SERIES}})
    return rows


@dataclass(frozen=True)
class QuestionDropOff:
    question: str
    title: str
    reached: int
    answered: int

    @property
    def left(self) -> int:
        # A shopper who went back and answered again counts twice in answered: never below zero.
        return max(self.reached - self.answered, 0)

    @property
    def left_share(self) -> float | None:
        return share(self.left, self.reached)


def drop_off(quiz: Quiz, counts: Counts, locale: str) -> list[QuestionDropOff]:
    """Each question shoppers were shown, in the quiz's order: how many reached it, answered it, left there."""
    reached, answered = counts.get("reached", {}), counts.get("answered", {})
    rows = []
    for question in quiz.questions:
        if question.id in reached or question.id in answered:
            title = resolve(question.title, locale, quiz.locale)
            rows.append(
                QuestionDropOff(question.id, title, int(reached.get(question.id, 0)), int(answered.get(question.id, 0)))
            )
    return rows


@dataclass(frozen=True)
class AnswerShare:
    label: str
    count: int
    share: float | None


@dataclass(frozen=True)
class QuestionAnswers:
    question: str
    title: str
    runs: int  # completed runs that answered it
    shares: list[AnswerShare]
    histogram: bool  # numbers, binned


def answers(quiz: Quiz, counts: Counts, locale: str, *, segment: str = "") -> list[QuestionAnswers]:
    """The distribution of each question's answers among completed runs (of one segment, if given)."""
    given = counts.get("segment", {}).get(segment, {}) if segment else counts.get("answer", {})
    found = []
    for question in quiz.questions:
        if isinstance(question, Info | ShortText):
            continue
        tally = {str(key): int(value) for key, value in (given.get(question.id) or {}).items()}
        runs = _runs_answering(quiz, counts, question.id, segment)
        numeric = isinstance(question, Number | Scale)
        shares = (
            _histogram(tally, runs) if isinstance(question, Number) else _choices(question, tally, runs, locale, quiz)
        )
        title = resolve(question.title, locale, quiz.locale)
        found.append(QuestionAnswers(question.id, title, runs, shares, numeric and isinstance(question, Number)))
    return found


def _runs_answering(quiz: Quiz, counts: Counts, question_id: str, segment: str) -> int:
    """How many completed runs (of the segment) answered: each counts once, though it ticked several options."""
    given = counts.get("segment", {}).get(segment, {}) if segment else counts.get("answer", {})
    if quiz.question(question_id).type != "multiple":
        return sum(int(value) for value in (given.get(question_id) or {}).values())
    if segment:  # within a segment only its size is kept: runs that skipped the question count too
        return int(counts.get("segment_runs", {}).get(segment, 0))
    return int(counts.get("answer_runs", {}).get(question_id, 0))


def _choices(question: Question, tally: dict[str, int], runs: int, locale: str, quiz: Quiz) -> list[AnswerShare]:
    labels = {option.id: resolve(option.label, locale, quiz.locale) for option in question.choices()}
    if isinstance(question, Scale):
        labels = {key: key for key in sorted(tally, key=_number)}
    rows = [AnswerShare(label, tally.get(key, 0), share(tally.get(key, 0), runs)) for key, label in labels.items()]
    rows += [AnswerShare(key, count, share(count, runs)) for key, count in tally.items() if key not in labels]
    return rows


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.inf  # OTHER, after every number


def _histogram(tally: dict[str, int], runs: int) -> list[AnswerShare]:
    """Numbers in at most ``HISTOGRAM_BINS`` equal bins from the smallest to the largest answer."""
    values = {_number(key): count for key, count in tally.items() if key != OTHER and math.isfinite(_number(key))}
    if not values:
        return []
    low, high = min(values), max(values)
    width = (high - low) / HISTOGRAM_BINS or 1
    bins = [0] * (HISTOGRAM_BINS if high > low else 1)
    for value, count in values.items():
        bins[min(int((value - low) / width), len(bins) - 1)] += count
    rows = []
    for index, count in enumerate(bins):
        start, end = low + index * width, low + (index + 1) * width if high > low else high
        label = f"{_short(start)}–{_short(end)}" if high > low else _short(start)
        rows.append(AnswerShare(label, count, share(count, runs)))
    return rows


def _short(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:.1f}"


@dataclass(frozen=True)
class ProductShown:
    product: str
    title: str
    shown: int
    first: int  # times it was the best match
    ranks: dict[int, int]
    clicks: int

    @property
    def click_through(self) -> float | None:
        return share(self.clicks, self.shown)


def recommendations(quiz: Quiz, counts: Counts, locale: str) -> tuple[list[ProductShown], list[str]]:
    """How often each product was recommended, at which rank, and clicked; and the products never recommended."""
    shown, clicks = counts.get("shown", {}), counts.get("clicks", {})
    titles = {product.id: resolve(product.title, locale, quiz.locale) for product in quiz.products}
    rows = []
    for product_id, ranks in shown.items():
        by_rank = {int(rank): int(n) for rank, n in ranks.items() if str(rank).isdigit()}
        rows.append(
            ProductShown(
                product_id,
                titles.get(product_id, product_id),
                sum(by_rank.values()),
                by_rank.get(1, 0),
                dict(sorted(by_rank.items())),
                int(clicks.get(product_id, 0)),
            )
        )
    rows.sort(key=lambda row: (-row.shown, row.product))
    never = [titles[product.id] for product in quiz.products if product.id not in shown]
    return rows, never


@dataclass(frozen=True)
class Source:
    value: str
    counts: dict[str, int]

    @property
    def completion(self) -> float | None:
        return share(self.counts["completed"], self.counts["started"])


def traffic(counts: Counts, dimension: str) -> list[Source]:
    """Where shoppers came from by one dimension (``DIMENSIONS``), most views first."""
    if dimension not in DIMENSIONS:
        raise ValueError(dimension)
    found = counts.get("traffic", {}).get(dimension, {})
    rows = [
        Source(str(value), {column: int(kinds.get(column, 0)) for column in TRAFFIC_COLUMNS})
        for value, kinds in found.items()
    ]
    rows.sort(key=lambda row: (-row.counts["viewed"], -row.counts["started"], row.value))
    return _top(rows)


def _top(rows: list[Source]) -> list[Source]:
    """The first ``MAX_ROWS`` rows and the rest added up as one ``OTHER`` row: a day keeps 500 values, a period more."""
    if len(rows) <= MAX_ROWS:
        return rows
    kept = [row for row in rows[:MAX_ROWS] if row.value != OTHER]
    rest = [row for row in rows[:MAX_ROWS] if row.value == OTHER] + rows[MAX_ROWS:]
    return [*kept, Source(OTHER, {column: sum(row.counts[column] for row in rest) for column in TRAFFIC_COLUMNS})]


def segments(quiz: Quiz, counts: Counts, locale: str) -> list[tuple[str, str]]:
    """The segments an answers page can be cut by: (key, label), answers first, then locale and campaign."""
    found = []
    keys = set(counts.get("segment_runs", {}))
    for question in quiz.questions:
        title = resolve(question.title, locale, quiz.locale)
        for option in question.choices():
            key = f"answer:{question.id}={option.id}"
            if key in keys:
                found.append((key, f"{title}: {resolve(option.label, locale, quiz.locale)}"))
    runs = counts.get("segment_runs", {})
    biggest = sorted((key for key in keys if not key.startswith("answer:")), key=lambda key: -runs[key])[:MAX_ROWS]
    others = sorted(biggest)
    found += [(key, key.replace(":", ": ", 1)) for key in others]
    return found

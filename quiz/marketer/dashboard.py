"""The dashboard's report pages: funnel, drop-off, answers, recommendations and traffic, for a quiz or all.

Every page reads the day records of ``quiz.web.tally`` for its period and the period before (one
record per quiz, day and map), never the events themselves; ``quiz.marketer.reports`` works out the
numbers. Filters are a GET form, so each view is a URL: bookmarked, shared, reloaded, and with
htmx swapped in place as the URL follows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from quiz.format.schema import Quiz
from quiz.format.text import resolve, without_controls
from quiz.marketer import charts, reports
from quiz.marketer.export import by_id
from quiz.marketer.gate import Visit, bad_filter, page, signed_in
from quiz.marketer.periods import RANGES, Period, PeriodError, parse_period
from quiz.store.base import Store
from quiz.web.services import services
from quiz.web.tally import DIMENSIONS, Counts, read_days

MAX_FILTER_CHARS = 300


class FilterError(ValueError):
    """A query parameter the page cannot use (a 400 that says which and why)."""


@dataclass(frozen=True)
class View:
    """What a report page was asked for: a quiz ("" for all), a period, and the page's own choice."""

    quiz: str
    period: Period
    range: str
    since: str
    until: str
    choice: str  # the answers page's segment, the traffic page's dimension

    def query(self, **changes: str) -> dict[str, str]:
        """The view's parameters, for links that keep them (the navigation between pages)."""
        found = {"quiz": self.quiz, "range": self.range, "since": self.since, "until": self.until, **changes}
        return {key: value for key, value in found.items() if value}


def check_parameters(params: QueryParams) -> None:
    """Refuse a query parameter no filter form sends: too long, or holding a control character (a NUL)."""
    for name, value in params.multi_items():
        if len(value) > MAX_FILTER_CHARS:
            raise FilterError(f"{name[:40]}: longer than {MAX_FILTER_CHARS} characters")
        if without_controls(value) != value:
            raise FilterError(f"{name[:40]}: holds a control character")


def view_of(request: Request, library: dict[str, Quiz], *, needs_quiz: bool, choice: str = "") -> View:
    params = request.query_params
    check_parameters(params)
    quiz_id = params.get("quiz", "").strip()
    if quiz_id and quiz_id not in library:
        raise FilterError(f"quiz: no quiz {quiz_id[:60]!r}; known: {', '.join(sorted(library)) or 'none'}")
    if needs_quiz and not quiz_id and library:
        quiz_id = sorted(library)[0]
    chosen = params.get("range", "7d").strip() or "7d"
    try:
        period = parse_period(chosen, params.get("since"), params.get("until"), today=_today(request))
    except PeriodError as error:
        raise FilterError(str(error)) from None
    since, until = (params.get("since", ""), params.get("until", "")) if chosen == "custom" else ("", "")
    return View(quiz_id, period, chosen, since, until, params.get(choice, "").strip() if choice else "")


def _today(request: Request) -> date:
    return datetime.now(services(request).settings.time_zone).date()


def day_counts(store: Store, quiz_ids: list[str], days: list[date], parts: list[str]) -> dict[str, list[Counts]]:
    """Each day's counts of the ``parts`` a page shows, one per quiz, in one read of the store."""
    return read_days(store, quiz_ids, [day.isoformat() for day in days], parts)


@dataclass(frozen=True)
class Report:
    """What a report page read: its view, the library, the counts by day and summed, and the template's context."""

    view: View
    library: dict[str, Quiz]
    by_day: dict[str, list[Counts]]
    counts: Counts
    before: Counts  # the previous period's, when the page compares
    context: dict[str, Any]

    @property
    def quiz(self) -> Quiz | None:
        return self.library.get(self.view.quiz)


def titles(library: dict[str, Quiz], locale: str) -> list[tuple[str, str]]:
    """The quizzes for a filter's menu: id and title, by id."""
    return [(quiz_id, resolve(quiz.title, locale, quiz.locale)) for quiz_id, quiz in sorted(library.items())]


def _library(request: Request) -> dict[str, Quiz]:
    return by_id(services(request).library.all())


def _context(request: Request, visit: Visit, view: View, library: dict[str, Quiz], section: str) -> dict[str, Any]:
    previous = view.period.previous()
    zone = str(services(request).settings.time_zone)
    ui = visit.words
    return {
        "visit": visit,
        "view": view,
        "section": section,
        "quizzes": titles(library, visit.locale),
        "ranges": RANGES,
        "period_text": ui["period"].format(
            first=view.period.first,
            last=view.period.last,
            zone=zone,
            previous_first=previous.first,
            previous_last=previous.last,
        ),
    }


async def _report(
    request: Request,
    visit: Visit,
    section: str,
    parts: Callable[[View], list[str]],
    *,
    needs_quiz: bool,
    choice: str = "",
    compare: bool = False,
) -> Report | Response:
    """Read what a page shows (only its ``parts``), or the 400 page for a filter it cannot use."""
    library = _library(request)
    try:
        view = view_of(request, library, needs_quiz=needs_quiz, choice=choice)
        wanted = parts(view)
    except FilterError as error:
        return bad_filter(request, visit, error)
    quiz_ids = [view.quiz] if view.quiz else sorted(library)
    store = services(request).store
    by_day = await run_in_threadpool(day_counts, store, quiz_ids, view.period.days(), wanted)
    before = (
        await run_in_threadpool(day_counts, store, quiz_ids, view.period.previous().days(), wanted) if compare else {}
    )
    context = _context(request, visit, view, library, section)
    return Report(view, library, by_day, _total(by_day), _total(before), context)


def _total(by_day: dict[str, list[Counts]]) -> Counts:
    return reports.summed(one for counts in by_day.values() for one in counts)  # the reports keep the top rows


def _traffic_parts(view: View) -> list[str]:
    dimension = view.choice or "site"
    if dimension not in DIMENSIONS:
        raise FilterError(f"by: {dimension[:40]!r} is not one of {', '.join(DIMENSIONS)}")
    return [f"traffic:{dimension}"]


def _answer_parts(view: View) -> list[str]:
    return ["answer", "answer_runs", "segment_runs", *([f"segment:{view.choice}"] if view.choice else [])]


@signed_in("viewer")
async def show_funnel(request: Request, visit: Visit) -> Response:
    found = await _report(request, visit, "funnel", lambda view: ["funnel"], needs_quiz=False, compare=True)
    if isinstance(found, Response):
        return found
    daily = reports.series(found.view.period.days(), found.by_day)
    ui = visit.words
    lines = [charts.Line(name, ui[name], [row[name] for row in daily]) for name in reports.SERIES]
    context = found.context | {
        "stages": reports.funnel(found.counts, found.before),
        "daily": daily,
        "chart": charts.daily_lines([row["day"].isoformat() for row in daily], lines),
    }
    return page(request, visit.locale, "admin/funnel.html", context)


@signed_in("viewer")
async def show_drop_off(request: Request, visit: Visit) -> Response:
    found = await _report(request, visit, "dropoff", lambda view: ["reached", "answered"], needs_quiz=True)
    if isinstance(found, Response):
        return found
    context = found.context | {"rows": reports.drop_off(found.quiz, found.counts, visit.locale) if found.quiz else []}
    return page(request, visit.locale, "admin/dropoff.html", context)


@signed_in("viewer")
async def show_answers(request: Request, visit: Visit) -> Response:
    found = await _report(request, visit, "answers", _answer_parts, needs_quiz=True, choice="segment")
    if isinstance(found, Response):
        return found
    quiz, counts = found.quiz, found.counts
    questions = reports.answers(quiz, counts, visit.locale, segment=found.view.choice) if quiz else []
    context = found.context | {
        "segments": reports.segments(quiz, counts, visit.locale) if quiz else [],
        "questions": [
            (question, charts.bars([(row.label, row.share or 0.0) for row in question.shares]))
            for question in questions
        ],
    }
    return page(request, visit.locale, "admin/answers.html", context)


@signed_in("viewer")
async def show_recommendations(request: Request, visit: Visit) -> Response:
    found = await _report(request, visit, "recommendations", lambda view: ["shown", "clicks"], needs_quiz=True)
    if isinstance(found, Response):
        return found
    rows, never = reports.recommendations(found.quiz, found.counts, visit.locale) if found.quiz else ([], [])
    ranks = sorted({rank for row in rows for rank in row.ranks})
    context = found.context | {"rows": rows, "never": never, "ranks": ranks}
    return page(request, visit.locale, "admin/recommendations.html", context)


@signed_in("viewer")
async def show_traffic(request: Request, visit: Visit) -> Response:
    found = await _report(request, visit, "traffic", _traffic_parts, needs_quiz=False, choice="by")
    if isinstance(found, Response):
        return found
    dimension = found.view.choice or "site"
    rows = reports.traffic(found.counts, dimension)
    context = found.context | {"rows": rows, "dimension": dimension, "dimensions": DIMENSIONS}
    return page(request, visit.locale, "admin/traffic.html", context)

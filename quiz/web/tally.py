"""Funnel events counted as they are written: records of counts per quiz and day, which the dashboard reads.

A page of the dashboard then reads a few records per day of its range (60 days for "30 days" and
the period before), whether the store holds ten thousand events or ten million. Each map below is
its own record (``part``; traffic one per dimension), so the funnel does not read the answers. The day is the shop's
(``QUIZ_TIME_ZONE``), fixed when an event is counted: ``rebuild`` counts every stored event again,
after the zone changed or for events stored before counting began.

Each process adds up its events in memory and writes the sums each second, one keyed transaction
per quiz and day, so processes sharing a store add to one another's counts, never overwrite them.
The maps, each a record's ``counts`` (every leaf a number):

    funnel     {viewed, started, completed, clicked, opted_in, opted_in:email, opted_in:line}
    reached    {question id: runs shown it}     answered {question id: answers given}
    answer     {question id: {option id or number: completed runs}}   answer_runs {question id: completed runs}
    segment    {"answer:q=opt" | "locale:ja" | "source:google" ...: {question id: {option: completed runs}}}
    segment_runs {segment: completed runs in it}   (segment and traffic: a record per key)
    shown      {product id: {rank: times recommended}}   clicks {product id: clicks}
    traffic    {site | page | product_page | locale | source | medium | campaign: {value: {event kind: n}}}

A map keeps at most ``MAX_VALUES`` keys a day; what comes after is counted under ``OTHER``, so a
flood of made-up page URLs or campaign names cannot grow a record without bound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from quiz.errors import Unavailable
from quiz.format.text import without_controls
from quiz.store.base import Record, Store, Writes

log = logging.getLogger(__name__)

ROLLUPS = "rollups"
MAX_VALUES = 500
OTHER = "(other)"
TRAFFIC_KINDS = ("viewed", "started", "completed", "clicked", "opted_in")
DIMENSIONS = ("site", "page", "product_page", "locale", "source", "medium", "campaign")
SEGMENT_DIMENSIONS = ("locale", "source", "medium", "campaign")

Counts = dict[str, Any]  # nested maps whose leaves are counts


def rollup_id(quiz_id: str, day: str, part: str) -> str:
    return f"{quiz_id}|{day}|{part}"


SPLIT = ("traffic", "segment")  # maps kept as a record per key: a page reads one dimension, one segment


def parts_of(counts: Counts) -> dict[str, Counts]:
    """The counts as the records they are kept in: a part per map, per dimension of traffic, per segment."""
    parts = {name: value for name, value in counts.items() if name not in SPLIT}
    for name in SPLIT:
        for key, values in (counts.get(name) or {}).items():
            parts[f"{name}:{key}"] = values
    return parts


def read_counts(store: Store, quiz_id: str, day: str, parts: Iterable[str]) -> Counts:
    """The stored counts of one quiz and day, only the ``parts`` asked for, put back in their maps."""
    return read_days(store, [quiz_id], [day], list(parts))[day][0]


def read_days(store: Store, quiz_ids: list[str], days: list[str], parts: list[str]) -> dict[str, list[Counts]]:
    """Each day's counts of ``parts``, one per quiz, read at once (one query on PostgreSQL)."""
    wanted = [rollup_id(quiz_id, day, part) for day in days for quiz_id in quiz_ids for part in parts]
    found = store.get_many(ROLLUPS, wanted)
    by_day: dict[str, list[Counts]] = {}
    for day in days:
        by_day[day] = []
        for quiz_id in quiz_ids:
            counts: Counts = {}
            for part in parts:
                record = found.get(rollup_id(quiz_id, day, part))
                if record is not None:
                    _place(counts, part, stored_counts(record))
            by_day[day].append(counts)
    return by_day


DEPTHS = {"answer": 2, "shown": 2, "traffic": 3, "segment": 3}  # any other map: a number per key


def stored_counts(record: Record | None) -> Counts:
    """A rollup record's counts; counts that are not a map (a record edited by hand) are none."""
    counts = (record or {}).get("counts")
    return counts if type(counts) is dict else {}


def add_up(into: Counts, counts: Mapping[str, Any]) -> Counts:
    """Add a day's ``counts`` (or a period's) into ``into``, exactly: a page's sums, with no cap.

    Each map is added as its shape is (``DEPTHS``); a value of another shape (a record edited by
    hand) counts as nothing. Checked leaf by leaf as it adds, so a page's thousands of maps are
    walked once: half the time of ``merge``.
    """
    for name, values in counts.items():
        if type(values) is dict:
            _add(into.setdefault(name, {}), values, DEPTHS.get(name, 1))
    return into


def _add(into: Counts, more: Counts, depth: int) -> None:
    if depth == 1:
        for key, number in more.items():
            if type(number) is int or type(number) is float:
                into[key] = into.get(key, 0) + number
        return
    for key, value in more.items():
        if type(value) is dict:
            found = into.get(key)
            if found is None:
                into[key] = found = {}
            _add(found, value, depth - 1)


def _place(counts: Counts, part: str, values: Counts) -> None:
    name, split, key = part.partition(":")
    if split and name in SPLIT:
        counts.setdefault(name, {})[key] = values
    else:
        counts[part] = values


def day_of(at: str, zone: ZoneInfo) -> str:
    """The shop's calendar day of a stored UTC time ("" if the time cannot be read)."""
    try:
        moment = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return ""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return moment.astimezone(zone).date().isoformat()


def counts_of(event: Mapping[str, Any]) -> Counts:
    """What one funnel event adds to its day's record (the maps of the module's docstring)."""
    kind = str(event.get("kind", ""))
    funnel = {kind: 1}
    if kind == "opted_in":
        funnel[f"opted_in:{event.get('channel') or 'email'}"] = 1
    counts: Counts = {"funnel": funnel}
    if kind == "started" and event.get("question"):
        counts["reached"] = {str(event["question"]): 1}
    elif kind == "answered" and event.get("question"):
        counts["answered"] = {str(event["question"]): 1}
        if event.get("next") and event["next"] != "results":
            counts["reached"] = {str(event["next"]): 1}
    elif kind == "completed":
        _completed(event, counts)
    elif kind == "clicked" and event.get("product"):
        counts["clicks"] = {str(event["product"]): 1}
    if kind in TRAFFIC_KINDS:
        counts["traffic"] = {name: {value: {kind: 1}} for name, value in dimensions(event).items()}
    return counts


def _completed(event: Mapping[str, Any], counts: Counts) -> None:
    products = event.get("products") or []
    counts["shown"] = {str(product): {str(rank): 1} for rank, product in enumerate(products, start=1)}
    answers = {
        question: [_option(value) for value in (given if isinstance(given, list) else [given])]
        for question, given in (event.get("answers") or {}).items()
        if given is not None and given != []
    }
    # One map per question, shared by every segment's copy of the answers: ``merge`` copies what it keeps.
    counted = {question: dict.fromkeys(options, 1) for question, options in answers.items()}
    counts["answer"] = counted
    counts["answer_runs"] = dict.fromkeys(answers, 1)
    segments = [f"answer:{question}={option}" for question, options in answers.items() for option in options]
    segments += [f"{name}:{value}" for name, value in dimensions(event).items() if name in SEGMENT_DIMENSIONS]
    counts["segment_runs"] = dict.fromkeys(segments, 1)
    own = {question: f"answer:{question}=" for question in answers}
    counts["segment"] = {
        segment: {
            question: options
            for question, options in counted.items()
            if not segment.startswith(own[question])  # a question is not cut by its own answer
        }
        for segment in segments
    }


def _option(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def dimensions(event: Mapping[str, Any]) -> dict[str, str]:
    """Where an event came from: the embedding site and page (without its query), product page, locale, campaign."""
    campaign = event.get("campaign") or {}
    found = {
        "site": str(event.get("site") or ""),
        "page": _bare_page(str(event.get("page") or "")),
        "product_page": str(event.get("product_page") or ""),
        "locale": str(event.get("locale") or ""),
        **{name: str(campaign.get(name) or "") for name in ("source", "medium", "campaign")},
    }
    # an event stored before its context was cleaned may hold a NUL, which a record's id cannot
    return {name: without_controls(value) for name, value in found.items() if value}


def _bare_page(url: str) -> str:
    """A page URL without its query and fragment: one row per page, not one per ad click's parameters."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme in ("http", "https") else ""


def merge(into: Counts, more: Mapping[str, Any]) -> Counts:
    """Add ``more`` into ``into``, map by map; a map already at ``MAX_VALUES`` keys counts new keys as ``OTHER``.

    What a stored day keeps (a page adds its days up with ``add_up``). A stored value of another
    shape than the one added (a record edited by hand) is replaced.
    """
    for key, value in more.items():
        found = into.get(key)
        if found is None:
            if len(into) >= MAX_VALUES:
                key, found = OTHER, into.get(OTHER)
            if found is None:
                into[key] = merge({}, value) if type(value) is dict else value
                continue
        if type(value) is dict:
            into[key] = merge(found if type(found) is dict else {}, value)
        else:
            into[key] = (found if type(found) in (int, float) else 0) + value
    return into


class Tally:
    """This process's counts since the last write: ``count`` on each event, ``flush`` each second."""

    def __init__(self, store: Store, zone: ZoneInfo) -> None:
        self.store = store
        self.zone = zone
        self._pending: dict[tuple[str, str], Counts] = {}
        self._lock = threading.Lock()  # events come from the event loop, flushes from a worker thread

    def count(self, event: Mapping[str, Any]) -> None:
        day = day_of(str(event.get("at", "")), self.zone)
        if not day or not event.get("quiz"):
            return
        with self._lock:
            merge(self._pending.setdefault((str(event["quiz"]), day), {}), counts_of(event))

    def flush(self) -> None:
        """Add the pending counts to the stored ones; what the store could not take waits for the next flush."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for done, ((quiz_id, day), counts) in enumerate(pending.items()):
            try:
                add_counts(self.store, quiz_id, day, counts)
            except (Unavailable, OSError):
                self._keep([*pending.items()][done:])
                raise
            except Exception:  # one day the store refuses (a record edited by hand) must not hold up the others
                log.exception("The counts of quiz %r on %s could not be written; kept for the next try", quiz_id, day)
                self._keep([((quiz_id, day), counts)])

    def _keep(self, unwritten: Iterable[tuple[tuple[str, str], Counts]]) -> None:
        with self._lock:
            for key, counts in unwritten:
                merge(self._pending.setdefault(key, {}), counts)


def add_counts(store: Store, quiz_id: str, day: str, counts: Counts) -> None:
    """Add to one quiz's day, in a transaction keyed by it: another process adding at once waits its turn."""
    with store.transaction(f"{quiz_id}|{day}") as writes:
        counts = _capped_segments(writes, quiz_id, day, counts)
        for part, values in parts_of(counts).items():
            record_id = rollup_id(quiz_id, day, part)
            stored = writes.get(ROLLUPS, record_id)
            record = _record(quiz_id, day, part, merge(stored_counts(stored), values))
            writes.put(ROLLUPS, record_id, record)


def _capped_segments(writes: Writes, quiz_id: str, day: str, counts: Counts) -> Counts:
    """Segments past the day's ``MAX_VALUES`` counted under ``OTHER``, as ``merge`` does within one record.

    A segment is a record of its own; ``segment_runs`` holds one key per segment, so its cap is theirs.
    """
    if not counts.get("segment_runs"):
        return counts
    stored = writes.get(ROLLUPS, rollup_id(quiz_id, day, "segment_runs"))
    known = dict(stored_counts(stored))
    kept = set(merge(known, counts["segment_runs"]))
    if kept >= set(counts["segment_runs"]):
        return counts
    runs: Counts = {}
    segments: Counts = {}
    for key, value in counts["segment_runs"].items():
        merge(runs, {key if key in kept else OTHER: value})
    for key, value in (counts.get("segment") or {}).items():
        merge(segments, {key if key in kept else OTHER: value})
    return {**counts, "segment_runs": runs, "segment": segments}


def _record(quiz_id: str, day: str, part: str, counts: Counts) -> Record:
    return {"quiz": quiz_id, "day": day, "part": part, "counts": counts}


def rebuild(store: Store, zone: ZoneInfo) -> int:
    """Count every stored event again, in ``zone``'s days; returns how many days were written.

    Run with the server stopped: events a server counts meanwhile would be counted twice.
    """
    days: dict[tuple[str, str], Counts] = {}
    for event in store.records("events"):
        day = day_of(str(event.get("at", "")), zone)
        if day and event.get("quiz"):
            merge(days.setdefault((str(event["quiz"]), day), {}), counts_of(event))
    store.remove(ROLLUPS)
    store.put_many(
        ROLLUPS, [record for (quiz, day), counts in days.items() for record in day_records(quiz, day, counts)]
    )
    return len(days)


def day_records(quiz_id: str, day: str, counts: Counts) -> list[Record]:
    """The records that keep one quiz's day of ``counts``, each with its ``id`` (for ``put_many``)."""
    return [
        {"id": rollup_id(quiz_id, day, part), **_record(quiz_id, day, part, values)}
        for part, values in parts_of(counts).items()
    ]

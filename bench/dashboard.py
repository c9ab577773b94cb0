"""How long the marketer's dashboard pages take as funnel events accumulate: 10,000, 1,000,000, 10,000,000.

The events are shoppers' runs of the three example quizzes over the last 60 days, each run made by
the real engine (its path through the branches, its recommendations) and shaped as the handlers
record them (viewed, started, answered..., completed, opted_in, clicked), with sites, product pages,
locales and campaigns drawn from pools. They are counted by the server's own code
(``quiz.web.tally.counts_of`` and ``merge``) into the day records the pages read; a run drawn
several times on one day is counted once and multiplied, which gives the same sums, so ten million
events take seconds to count. Up to ``--store-events`` (1,000,000 by default) the raw events are
also written to the store, as a server would have: the pages never read them, and the figures
show it.

Each page is asked 30 times (after 3 unmeasured) through uvicorn on loopback, signed in, one
request at a time, on the embedded store and on a PostgreSQL server started for the run. The
baseline, in the same run and on the same backend, is the same page on an empty store: what the
numbers cost beyond the page itself. Prints figures, asserts nothing.

    python bench/dashboard.py                        # the three sizes, both stores (a few minutes)
    python bench/dashboard.py --events 10000 1000000 --stores embedded
"""

from __future__ import annotations

import argparse
import http.client
import random
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from live import bound_socket, serving
from postgres_server import postgres_server

from quiz.app import create_app
from quiz.engine.flow import first_question, next_after
from quiz.engine.scoring import recommend
from quiz.format.questions import RESULTS, Info, MultipleChoice, Number, Scale, ShortText
from quiz.format.schema import Quiz
from quiz.marketer.sessions import Sessions
from quiz.settings import Settings
from quiz.store.base import Store
from quiz.web.library import QuizLibrary
from quiz.web.tally import ROLLUPS, Counts, counts_of, day_records, merge

ROOT = Path(__file__).resolve().parent.parent
QUIZZES = ROOT / "quizzes"
SIZES = (10_000, 1_000_000, 10_000_000)
DAYS = 60
TEMPLATES = 400  # distinct runs per quiz
RUNS_A_DAY_DRAWN = 300  # distinct runs drawn per quiz and day, each with its multiplicity
ASKS, WARMUP = 30, 3
BATCH = 10_000
SOURCES = ["instagram", "google", "newsletter", "line", "tiktok", "facebook", "affiliate", ""]
CAMPAIGNS = [f"campaign-{number}" for number in range(20)] + [""]
LOCALES = ["ja", "ja", "ja", "en"]
USER = "bench@example.com"


def answer(question: Any, rng: random.Random) -> Any:
    if isinstance(question, MultipleChoice):
        return [option.id for option in rng.sample(question.choices(), rng.randint(1, question.most()))]
    if isinstance(question, Scale):
        return rng.choice(question.values())
    if isinstance(question, Number):
        return rng.randint(int(question.min or 18), int(question.max or 80))
    return rng.choice(question.choices()).id


def run_events(quiz: Quiz, rng: random.Random) -> list[dict[str, Any]]:
    """One shopper's events, as the handlers record them (no time yet: the day is chosen later)."""
    source, site = rng.choice(SOURCES), rng.choice(["https://shop.example", "https://shop.example.jp"])
    context = {
        "quiz": quiz.id,
        "locale": rng.choice(LOCALES),
        "site": site,
        "page": f"{site}/products/item-{rng.randrange(300)}?utm_source={source}",
        "product_page": f"item-{rng.randrange(300)}",
        "campaign": {"source": source, "campaign": rng.choice(CAMPAIGNS)} if source else {},
    }
    events = [{"kind": "viewed", **context}]
    if rng.random() < 0.35:
        return events  # most views never start
    current = first_question(quiz).id
    events.append({"kind": "started", "question": current, **context})
    answers: dict[str, Any] = {}
    while current != RESULTS:
        if rng.random() < 0.06:
            return events  # left at this question
        question = quiz.question(current)
        given = None if isinstance(question, Info | ShortText) else answer(question, rng)
        answers[current] = given
        current = next_after(quiz, question, answers)
        events.append({"kind": "answered", "question": question.id, "answer": given, "next": current, **context})
    products = [item.product.id for item in recommend(quiz, answers).items]
    told = {key: value for key, value in answers.items() if value is not None}
    events.append({"kind": "completed", "products": products, "answers": told, **context})
    if rng.random() < 0.2:
        events.append({"kind": "opted_in", "channel": rng.choice(["email", "email", "line"]), **context})
    if products and rng.random() < 0.4:
        events.append({"kind": "clicked", "product": rng.choice(products), **context})
    return events


def scaled(counts: Counts, times: int) -> Counts:
    return {key: scaled(value, times) if isinstance(value, dict) else value * times for key, value in counts.items()}


def fill(store: Store, quizzes: list[Quiz], events: int, *, store_events: bool, seed: int = 7) -> float:
    """Count ``events`` events into day records (and store them raw if asked); returns the seconds it took."""
    started = time.perf_counter()
    rng = random.Random(seed)
    runs = {quiz.id: [run_events(quiz, rng) for _ in range(TEMPLATES)] for quiz in quizzes}
    folded = {quiz_id: [_folded(run) for run in found] for quiz_id, found in runs.items()}
    per_run = statistics.mean(len(run) for found in runs.values() for run in found)
    runs_a_day = max(1, round(events / per_run / DAYS / len(quizzes)))
    today = datetime.now(UTC).date()
    records, raw = [], []
    for offset in range(DAYS):
        day = today - timedelta(days=offset)
        for quiz in quizzes:
            drawn = Counter(rng.randrange(TEMPLATES) for _ in range(min(runs_a_day, RUNS_A_DAY_DRAWN)))
            shares = _spread(runs_a_day, drawn)
            counts: Counts = {}
            for template, times in shares.items():
                merge(counts, scaled(folded[quiz.id][template], times))
                if store_events:
                    at = f"{day.isoformat()}T{rng.randrange(24):02d}:00:00.000Z"
                    raw += [{**event, "at": at} for _ in range(times) for event in runs[quiz.id][template]]
            records += day_records(quiz.id, day.isoformat(), counts)
        while len(raw) >= BATCH:
            store.put_many("events", [{"id": f"e{time.perf_counter_ns()}{n}", **e} for n, e in enumerate(raw[:BATCH])])
            raw = raw[BATCH:]
    if raw:
        store.put_many("events", [{"id": f"e{time.perf_counter_ns()}{n}", **e} for n, e in enumerate(raw)])
    store.put_many(ROLLUPS, records)
    store.flush()
    return time.perf_counter() - started


def _folded(run: list[dict[str, Any]]) -> Counts:
    counts: Counts = {}
    for event in run:
        merge(counts, counts_of(event))
    return counts


def _spread(total: int, drawn: Counter[int]) -> dict[int, int]:
    """``total`` runs over the drawn templates, in proportion to how often each was drawn."""
    size = sum(drawn.values())
    shares = {template: total * count // size for template, count in drawn.items()}
    first = next(iter(shares))
    shares[first] += total - sum(shares.values())
    return {template: times for template, times in shares.items() if times}


def pages() -> dict[str, str]:
    today = datetime.now(UTC).date()
    year = f"range=custom&since={(today - timedelta(days=365)).isoformat()}&until={today.isoformat()}"
    return {
        "funnel, all quizzes, 30 days": "/admin?range=30d",
        "funnel, one quiz, 7 days": "/admin?quiz=serum-finder&range=7d",
        "funnel, all quizzes, 366 days": f"/admin?{year}",
        "drop-off, 30 days": "/admin/dropoff?quiz=serum-finder&range=30d",
        "answers, 30 days": "/admin/answers?quiz=serum-finder&range=30d",
        "answers of a segment, 30 days": "/admin/answers?quiz=serum-finder&range=30d&segment=source:instagram",
        "recommendations, 30 days": "/admin/recommendations?quiz=gift-finder&range=30d",
        "traffic by page, 30 days": "/admin/traffic?range=30d&by=page",
    }


def timings(port: int, cookie: str) -> dict[str, tuple[float, float]]:
    """p50 and p95 in milliseconds of each page, one request at a time on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    found = {}
    for name, path in pages().items():
        seconds = []
        for ask in range(WARMUP + ASKS):
            began = time.perf_counter()
            connection.request("GET", path, headers={"Cookie": f"quiz_admin={cookie}"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}")
            if ask >= WARMUP:
                seconds.append(time.perf_counter() - began)
        seconds.sort()
        found[name] = (statistics.median(seconds) * 1000, seconds[int(len(seconds) * 0.95) - 1] * 1000)
    connection.close()
    return found


def measured(folder: Path, store_url: str) -> dict[str, tuple[float, float]]:
    settings = Settings(quizzes_dir=QUIZZES, data_dir=folder, secret_keys=("bench",), store_url=store_url)
    app = create_app(settings)
    sessions: Sessions = app.state.dashboard.sessions
    if app.state.dashboard.users.get(USER) is None:
        app.state.dashboard.users.add(USER, "viewer", "a bench password")
    cookie, _ = sessions.begin(USER)
    sock = bound_socket()
    # Accepted connections inherit it: without, each keep-alive answer waited 40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with serving(app, sock):
        return timings(sock.getsockname()[1], cookie)


def backends(names: list[str]) -> Iterator[tuple[str, Any]]:
    """(name, a function making an empty store of that kind, and its URL for the app)."""
    if "embedded" in names:
        yield "embedded", None
    if "postgresql" in names:
        with postgres_server() as url:
            if url is not None:
                yield "postgresql", url


def fresh(kind: str, url: str | None, folder: Path) -> tuple[Store, str]:
    if url is None:
        from quiz.store.tiny import TinyStore

        return TinyStore(folder / "store"), ""
    import psycopg

    from quiz.store.postgres import PostgresStore

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS records, schema_migrations CASCADE")
    return PostgresStore(url), url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--stores", nargs="+", default=["embedded", "postgresql"], choices=["embedded", "postgresql"])
    parser.add_argument("--store-events", type=int, default=1_000_000, help="store the raw events up to this size")
    args = parser.parse_args()
    quizzes = QuizLibrary(QUIZZES).all()
    print(f"Dashboard pages, p50 / p95 ms of {ASKS} requests; baseline: the same page on an empty store\n")
    for kind, url in backends(args.stores):
        with tempfile.TemporaryDirectory() as temporary:
            store, store_url = fresh(kind, url, Path(temporary) / "empty")
            store.close()
            baseline = measured(Path(temporary) / "empty", store_url)
            for events in args.events:
                folder = Path(temporary) / f"n{events}"
                store, store_url = fresh(kind, url, folder)
                raw = events <= args.store_events
                took = fill(store, quizzes, events, store_events=raw)
                stored = store.count("events")
                store.close()
                figures = measured(folder, store_url)
                print(f"{kind}, {events:,} events ({stored:,} stored raw; counted and written in {took:.1f} s):")
                for name, (p50, p95) in figures.items():
                    base50, base95 = baseline[name]
                    print(f"  {name:32} {p50:7.1f} / {p95:7.1f}   baseline {base50:6.1f} / {base95:6.1f}")
                print()


if __name__ == "__main__":
    main()

"""Requests per second and latency of LINE's webhook under local load, next to the signature check alone.

The quiz server runs in its own process, one uvicorn worker on 127.0.0.1, its LINE API pointed at
the tests' local LINE Platform (tests/line_platform.py), which runs in this process and takes the
replies. The load comes from this process too: bench/load.py's asyncio HTTP/1.1 client keeping 16
connections busy (its "client cpu" here includes the platform's threads). Four kinds of
``POST /line/webhook``:

- unsigned: no ``x-line-signature``, refused with 401 before the body is parsed;
- signed, 1 event: a text message 「結果」 from a LINE user not seen before; the event is marked
  handled (a durable store write) and a reply is queued (a job in the store's outbox), which the
  queue's thread then sends to the platform;
- signed, 10 events: the same, ten to a delivery;
- redelivered: the 1-event deliveries again, as LINE redelivers them (same ``webhookEventId``),
  acknowledged with 200 and otherwise ignored.

The baseline, measured in the same run, is a bare Starlette endpoint that reads the body and checks
its signature with the app's own function, answering 200: the cost of the signature check alone,
for bodies the size of the 1-event and of the 10-event deliveries. The reply queue is left to empty
after each phase that fills it, so its sending does not slow the next phase. Prints figures, asserts
nothing; takes about 40 seconds.

    python bench/webhook.py
"""

from __future__ import annotations

import asyncio
import itertools
import os
import platform
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import load
import uvicorn
from load import CONNECTIONS, Figures, Next, Pace, Server, fetch_once, print_table, repeating, start_server, stop_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quiz.app import create_app
from quiz.line.webhook import signed_by_line
from quiz.settings import from_environment
from quiz.store.tiny import TinyStore

BENCH = Path(__file__).resolve().parent
QUIZZES = BENCH.parent / "quizzes"
sys.path.insert(0, str(BENCH.parent / "tests"))  # the tests' LINE Platform is a plain module there
from line_platform import LinePlatform  # noqa: E402

PACE = Pace(warmup_s=1.0, measure_s=4.0, max_requests=50_000)  # the bound also caps the replies queued per phase
DRAIN_TIMEOUT_S = 10.0  # for the reply queue to empty after a phase; past it, the bench goes on and says so

# The two apps, built inside their server processes by `uvicorn --factory`.


def quiz_app() -> Starlette:
    """The real app, configured as a merchant would with ``QUIZ_*`` variables (see ``quiz_environment``)."""
    return create_app(from_environment())


def baseline_app() -> Starlette:
    """``POST /line/webhook`` reading the body and checking its signature, and nothing else."""
    secret = os.environ["BENCH_CHANNEL_SECRET"]

    async def webhook(request: Request) -> Response:
        body = await request.body()
        signed = signed_by_line(body, request.headers.get("x-line-signature", ""), secret)
        return Response(status_code=200 if signed else 401)

    return Starlette(routes=[Route("/line/webhook", webhook, methods=["POST"])])


def quiz_environment(line: LinePlatform, folder: Path) -> dict[str, str]:
    return {
        "QUIZ_QUIZZES_DIR": str(QUIZZES),
        "QUIZ_DATA_DIR": str(folder / "quiz-data"),
        "QUIZ_SECRET_KEYS": "bench",
        "QUIZ_LINE_CHANNEL_SECRET": line.bot_secret,
        "QUIZ_LINE_CHANNEL_ACCESS_TOKEN": line.access_token,
        "QUIZ_LINE_ADD_FRIEND_URL": "https://line.me/R/ti/p/@123abcde",
        "QUIZ_LINE_API_URL": line.url,  # replies reach the local platform, never LINE
        "QUIZ_LINE_ACCESS_URL": line.url,
    }


# Servers: as bench/load.py starts them, with this module's factories.


@contextmanager
def running_servers(line: LinePlatform, folder: Path) -> Iterator[tuple[Server, Server]]:
    servers: list[Server] = []
    try:
        servers.append(start_server("quiz", "webhook:quiz_app", quiz_environment(line, folder), folder))
        secret = {"BENCH_CHANNEL_SECRET": line.bot_secret}
        servers.append(start_server("baseline", "webhook:baseline_app", secret, folder))
        yield servers[0], servers[1]
    finally:
        for server in servers:
            stop_server(server)


# The requests: deliveries as LINE sends them, each signed event new unless it is a redelivery.


def webhook_request(port: int, body: bytes, signature: str | None) -> bytes:
    signed = f"x-line-signature: {signature}\r\n" if signature is not None else ""
    head = (
        f"POST /line/webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"{signed}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Deliveries:
    """Signed deliveries of ``size`` new 「結果」 messages each, from users never seen; remembers the events."""

    def __init__(self, line: LinePlatform, port: int, size: int) -> None:
        self.line = line
        self.port = port
        self.size = size
        self.sent: list[dict[str, Any]] = []

    def __call__(self) -> bytes:
        # A new user each time: a known one would get their results, a heavier answer than the bench means.
        events = [self.line.message_event("結果", user_id="U" + secrets.token_hex(16)) for _ in range(self.size)]
        self.sent.extend(events)
        body = self.line.webhook_body(*events)
        return webhook_request(self.port, body, self.line.signature(body))

    def redeliveries(self) -> Next:
        """The deliveries sent so far, one event each, again and again, marked as LINE marks redeliveries."""
        again = [{**event, "deliveryContext": {"isRedelivery": True}} for event in self.sent]
        bodies = [self.line.webhook_body(event) for event in again]
        requests = [webhook_request(self.port, body, self.line.signature(body)) for body in bodies]
        return itertools.cycle(requests).__next__


def unsigned_request(line: LinePlatform, port: int) -> bytes:
    body = line.webhook_body(line.message_event("結果"))
    return webhook_request(port, body, None)


def body_size(request: bytes) -> int:
    return len(request.partition(b"\r\n\r\n")[2])


# The client: bench/load.py's, with a new request each time and the status each kind must get.


async def measure(name: str, port: int, next_request: Next, *, expected: int = 200, size: int) -> Figures:
    """bench/load.py's measurement at this bench's pace, once one request got the status it should."""
    reply = await fetch_once(port, next_request())
    if reply.status != expected:
        raise RuntimeError(f"{name}: expected HTTP {expected}, got HTTP {reply.status}: {reply.body[:200]!r}")
    return await load.measure(name, port, next_request, size, expected=expected, pace=PACE)


def queued_replies(store: Path) -> int:
    """The replies waiting in the quiz server's outbox, read beside it as ``quiz subject`` reads: no lock, no writes."""
    if not (store / "outbox").is_dir():
        return 0
    beside = TinyStore(store, read_only=True)  # opened anew each time: a reader keeps what it read first
    try:
        return len(beside.find("outbox", kind="line", status="queued"))
    finally:
        beside.close()


async def drain(store: Path, after: str) -> None:
    """Wait for the quiz server's reply queue to empty, and say how long it took."""
    waiting = queued_replies(store)
    start = time.perf_counter()
    while queued_replies(store):
        if time.perf_counter() - start > DRAIN_TIMEOUT_S:
            print(f"reply queue after {after}: still not empty after {DRAIN_TIMEOUT_S:g} s; going on")
            return
        await asyncio.sleep(0.25)  # each look reads the whole outbox: not too often beside the server
    print(f"reply queue after {after}: {waiting:,} replies waiting, sent in {time.perf_counter() - start:.1f} s")


# Measuring and printing.


def print_ratio(label: str, quiz: Figures, baseline: Figures) -> None:
    """bench/load.py's line, to three significant figures: a ratio here can be far below 0.01."""
    print(
        f"{label:<34} rps {quiz.rps / baseline.rps:>8.3g}x   p50 {quiz.p50_ms / baseline.p50_ms:>8.3g}x"
        f"   p99 {quiz.p99_ms / baseline.p99_ms:>8.3g}x"
    )


def header() -> str:
    return (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, uvicorn {uvicorn.__version__};"
        f" {CONNECTIONS} connections, {PACE.warmup_s:g} s warm-up + {PACE.measure_s:g} s per row; bytes: request body"
    )


async def run(line: LinePlatform, quiz: Server, baseline: Server, store: Path) -> None:
    single, tenfold = Deliveries(line, quiz.port, 1), Deliveries(line, quiz.port, 10)
    one_event, ten_events = Deliveries(line, baseline.port, 1)(), Deliveries(line, baseline.port, 10)()
    one_size, ten_size = body_size(one_event), body_size(ten_events)
    unsigned = unsigned_request(line, quiz.port)
    rows = [
        await measure("baseline, 1-event body", baseline.port, repeating(one_event), size=one_size),
        await measure("unsigned (401)", quiz.port, repeating(unsigned), expected=401, size=one_size),
        await measure("signed, 1 event", quiz.port, single, size=one_size),
    ]
    await drain(store, "1-event deliveries")
    rows.append(await measure("redelivered, 1 event", quiz.port, single.redeliveries(), size=one_size))
    rows.append(await measure("baseline, 10-event body", baseline.port, repeating(ten_events), size=ten_size))
    rows.append(await measure("signed, 10 events", quiz.port, tenfold, size=ten_size))
    await drain(store, "10-event deliveries")
    print()
    print_table(rows)
    print()
    print("quiz / baseline (same body size)")
    for row in rows[1:4]:
        print_ratio(row.name, row, rows[0])
    print_ratio(rows[5].name, rows[5], rows[4])
    print()
    print(f"events handled per second: 1 to a delivery {rows[2].rps:,.0f}, 10 to a delivery {rows[5].rps * 10:,.0f}")
    asked = len(single.sent) + len(tenfold.sent)
    print(f"replies the LINE Platform took: {len(line.replies):,}, for {asked:,} signed events asking for results")


def main() -> None:
    print(header())
    with tempfile.TemporaryDirectory() as name, LinePlatform() as line:
        folder = Path(name)
        with running_servers(line, folder) as (quiz, baseline):
            asyncio.run(run(line, quiz, baseline, folder / "quiz-data" / "store"))


if __name__ == "__main__":
    main()

"""Requests per second and latency of a quiz step under local load, next to a bare Starlette page.

Each app runs in its own process on 127.0.0.1; the load comes from this process, an asyncio
HTTP/1.1 client keeping 16 connections busy. Three set-ups, each next to a baseline with as many
workers: one uvicorn worker on the embedded store, then one and two workers on a PostgreSQL
server started for the run (fsync on; skipped, saying why, where PostgreSQL is missing). Two
steps of the example ``serum-finder`` quiz are measured:

- ``GET /q/serum-finder/step?t=…``: the full page of a question halfway through the quiz;
- ``POST /q/serum-finder/answer`` with ``HX-Request: true``: the htmx fragment answering the last
  question, so each request also runs the scoring and writes the reasons for the results.

The baseline, measured in the same run, is a bare Starlette app rendering a Jinja2 template into
an HTML body of the same byte count as each quiz response: what serving that page costs before
the quiz does any work. Prints figures, asserts nothing; takes about 110 seconds.

    python bench/load.py    # or `make bench`, with bench/scoring.py and bench/widget_weight.py
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.util
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import jinja2
import uvicorn
from postgres_server import postgres_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from quiz.app import create_app
from quiz.engine.flow import first_question, next_after, parse_answer
from quiz.format.conditions import Answer
from quiz.format.questions import RESULTS
from quiz.format.schema import Quiz
from quiz.settings import Settings
from quiz.web.library import QuizLibrary
from quiz.web.tokens import Progress, ProgressTokens

BENCH = Path(__file__).resolve().parent
QUIZZES = BENCH.parent / "quizzes"
QUIZ_ID = "serum-finder"
SECRET = "bench"
# One shopper's raw form values for every serum-finder question, as the browser would send them.
SHOPPER = {
    "skin_type": ["dry"],
    "concerns": ["dryness", "dullness"],
    "serum_tip": [],
    "sensitive": ["yes"],
    "fragrance": ["fragrance_free"],
    "age": ["34"],
    "texture": ["gel"],
}

CONNECTIONS = 16
WARMUP_S = 2.0
MEASURE_S = 6.0
MAX_REQUESTS = 200_000  # per phase: a bound on traffic should the servers get far faster than expected
REQUEST_TIMEOUT_S = 10.0
START_TIMEOUT_S = 20.0
LOG_TAIL = 30


# The two apps, built inside their server processes by `uvicorn --factory`.


def quiz_app() -> Starlette:
    """The real app on the example quizzes, with a fixed key so this process can sign the tokens."""
    data_dir = Path(os.environ["BENCH_DATA_DIR"])
    store_url = os.environ.get("BENCH_STORE_URL", "")
    return create_app(Settings(quizzes_dir=QUIZZES, data_dir=data_dir, secret_keys=(SECRET,), store_url=store_url))


BASELINE_TEMPLATE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Baseline</title></head>
<body>
<main>
{% for line in lines %}<p class="line">{{ line }}</p>
{% endfor %}</main>
</body>
</html>
"""
LINE_CHARS = 60


def baseline_app() -> Starlette:
    """One endpoint rendering a template to ``?bytes=N`` bytes: a page's cost with no quiz in it."""
    loader = jinja2.DictLoader({"page.html": BASELINE_TEMPLATE})
    templates = Jinja2Templates(env=jinja2.Environment(loader=loader, autoescape=True))

    async def page(request: Request) -> Response:
        lines = _filler_lines(int(request.query_params["bytes"]))
        response: Response = templates.TemplateResponse(request, "page.html", {"lines": lines})
        return response

    return Starlette(routes=[Route("/page", page, methods=["GET"])])


@functools.cache
def _filler_lines(size: int) -> list[str]:
    """ASCII lines that make the baseline template exactly ``size`` bytes (or its bare frame, if larger)."""
    environment = jinja2.Environment(autoescape=True)
    template = environment.from_string(BASELINE_TEMPLATE)
    frame = len(template.render(lines=[]))
    per_line = len(template.render(lines=[""])) - frame
    room = max(size - frame, 0)
    lines = ["x" * LINE_CHARS] * (room // (per_line + LINE_CHARS))
    left = room - len(lines) * (per_line + LINE_CHARS)
    if left >= per_line:
        lines.append("x" * (left - per_line))
    return lines


# Servers: one uvicorn worker each, in a process of its own.


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(name: str, factory: str, env: dict[str, str], folder: Path, *, workers: int = 1) -> Server:
    """``factory`` is ``module:function`` of a module in bench/, building the app in the server's process."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", factory, "--factory", "--app-dir", str(BENCH),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    if workers > 1:  # as `quiz serve --workers` runs them (quiz.cli.run_workers: TCP_NODELAY kept)
        launch = f"import sys; sys.path.insert(0, {str(BENCH)!r}); from quiz.cli import run_workers; "
        launch += f"run_workers({factory!r}, host='127.0.0.1', port={port}, workers={workers}, log_level='warning')"
        command = [sys.executable, "-c", launch]
    log = folder / f"{name}.log"
    # To a file, not the terminal: a server failing every request would print a traceback for each.
    with log.open("wb") as output:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT)
    server = Server(name, port, process, log)
    _wait_until_listening(server)
    return server


def _wait_until_listening(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the {server.name} server exited with code {server.process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the {server.name} server did not start within {START_TIMEOUT_S:.0f} s")


def stop_server(server: Server) -> None:
    server.process.kill()
    server.process.wait(timeout=10)
    lines = server.log.read_text(encoding="utf-8", errors="replace").splitlines()
    if lines:
        print(f"\n{server.name} server wrote {len(lines)} lines; the last {LOG_TAIL}:", file=sys.stderr)
        print("\n".join(lines[-LOG_TAIL:]), file=sys.stderr)


@contextmanager
def running_servers(folder: Path, *, store_url: str = "", workers: int = 1) -> Iterator[tuple[Server, Server]]:
    servers: list[Server] = []
    env = {"BENCH_DATA_DIR": str(folder), "BENCH_STORE_URL": store_url}
    try:
        servers.append(start_server("quiz", "load:quiz_app", env, folder, workers=workers))
        servers.append(start_server("baseline", "load:baseline_app", {}, folder, workers=workers))
        yield servers[0], servers[1]
    finally:
        for server in servers:
            stop_server(server)


# The requests: raw HTTP/1.1 bytes, built once and sent again and again.


def get_request(port: int, target: str) -> bytes:
    # No Accept-Encoding: both apps send plain bodies, so the byte counts compare like for like.
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def htmx_post_request(port: int, target: str, form: dict[str, str]) -> bytes:
    body = urlencode(form).encode()
    head = (
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHX-Request: true\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def shopper_path(quiz: Quiz) -> tuple[list[str], dict[str, Answer | None]]:
    """The questions SHOPPER walks through, in order, and the typed answers given on the way."""
    path: list[str] = []
    answers: dict[str, Answer | None] = {}
    target = first_question(quiz).id
    while target != RESULTS:
        question = quiz.question(target)
        path.append(question.id)
        answers[question.id] = parse_answer(question, SHOPPER[question.id])
        target = next_after(quiz, question, answers)
    return path, answers


def progress_token(quiz: Quiz, path: list[str], answers: dict[str, Answer | None], current: str) -> str:
    """A signed token for a shopper standing at ``current``, having answered every earlier question."""
    before = {question_id: answers[question_id] for question_id in path[: path.index(current)]}
    progress = Progress(quiz_id=quiz.id, current=current, answers=before)
    return ProgressTokens((SECRET,), max_age=7200).dump(progress)


@dataclass(frozen=True)
class QuizRequests:
    middle: str  # the question whose page is fetched
    last: str  # the question answered, which leads to the results
    step: bytes
    answer: bytes


def quiz_requests(port: int) -> QuizRequests:
    """The step page of the middle question and the htmx answer to the last one."""
    quiz = QuizLibrary(QUIZZES).get(QUIZ_ID)
    assert quiz is not None, f"no quiz {QUIZ_ID!r} in {QUIZZES}"
    path, answers = shopper_path(quiz)
    middle, last = path[len(path) // 2], path[-1]
    step = get_request(port, f"/q/{QUIZ_ID}/step?{urlencode({'t': progress_token(quiz, path, answers, middle)})}")
    form = {"t": progress_token(quiz, path, answers, last), "a": SHOPPER[last][0], "action": "next"}
    answer = htmx_post_request(port, f"/q/{QUIZ_ID}/answer", form)
    return QuizRequests(middle, last, step, answer)


# The client: plain asyncio streams, so the figures include no HTTP library's overhead.


@dataclass
class Reply:
    status: int
    body: bytes
    closing: bool  # the server said it closes the connection after this response


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> Reply:
    """Send one request and read its whole response, which must carry a Content-Length."""
    writer.write(request)
    status_line = await reader.readline()
    parts = status_line.split(maxsplit=2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ConnectionError(f"not an HTTP response: {status_line[:80]!r}")
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" not in headers:
        raise ConnectionError("response without Content-Length")
    body = await reader.readexactly(int(headers[b"content-length"]))
    return Reply(int(parts[1]), body, headers.get(b"connection", b"").lower() == b"close")


async def fetch_once(port: int, request: bytes) -> Reply:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await exchange(reader, writer, request)
    finally:
        writer.close()


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0


Next = Callable[[], bytes]  # gives the next request to send, as raw HTTP/1.1 bytes


def repeating(request: bytes) -> Next:
    return lambda: request


@dataclass(frozen=True)
class Pace:
    """How long a measurement warms up and runs, and the most requests it sends per phase."""

    warmup_s: float = WARMUP_S
    measure_s: float = MEASURE_S
    max_requests: int = MAX_REQUESTS


async def keep_busy(port: int, next_request: Next, until: float, tally: Tally, *, expected: int, most: int) -> None:
    """One keep-alive connection sending requests back to back until ``until``; ``expected`` is the good status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until and tally.sent < most:
            tally.sent += 1
            request = next_request()
            start = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    reply = await exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                # A broken connection is an error to report, not a reason to stop the run.
                tally.errors[type(error).__name__] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            if reply.status == expected:
                tally.latencies.append(time.perf_counter() - start)
            else:
                tally.errors[f"HTTP {reply.status}"] += 1
            if reply.closing:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def load(port: int, next_request: Next, seconds: float, *, expected: int, most: int) -> tuple[Tally, float]:
    """Requests from CONNECTIONS connections for ``seconds``; the tally and the wall time it took."""
    tally = Tally()
    start = time.perf_counter()
    until = start + seconds
    busy = (keep_busy(port, next_request, until, tally, expected=expected, most=most) for _ in range(CONNECTIONS))
    await asyncio.gather(*busy)
    return tally, time.perf_counter() - start


# Measuring and printing.


@dataclass(frozen=True)
class Figures:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    size: int
    client_cpu: float  # share of one core the load generator used: near 1.0, it and not the server was the limit
    errors: Counter[str]


async def measure(
    name: str, port: int, next_request: Next, size: int, *, expected: int = 200, pace: Pace = Pace()
) -> Figures:
    """Warm up, then load for ``pace.measure_s``; ``size`` is the byte count shown for the row."""
    shape = {"expected": expected, "most": pace.max_requests}
    await load(port, next_request, pace.warmup_s, **shape)  # fills caches and lets the server settle; not counted
    cpu_start = time.process_time()
    tally, elapsed = await load(port, next_request, pace.measure_s, **shape)
    client_cpu = (time.process_time() - cpu_start) / elapsed
    p50_ms, p99_ms = percentiles_ms(tally.latencies)
    return Figures(name, len(tally.latencies) / elapsed, p50_ms, p99_ms, size, client_cpu, tally.errors)


def percentiles_ms(latencies: list[float]) -> tuple[float, float]:
    if len(latencies) < 2:
        return math.nan, math.nan  # every request failed: the errors column says why
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


async def probe(port: int, request: bytes, marker: bytes, what: str) -> int:
    """The body size of one response, after checking it is the page meant (a bad token also gets 200)."""
    reply = await fetch_once(port, request)
    if reply.status != 200 or marker not in reply.body:
        raise RuntimeError(f"{what}: expected HTTP 200 containing {marker!r}, got HTTP {reply.status}")
    return len(reply.body)


async def baseline_request(port: int, size: int) -> tuple[bytes, int]:
    request = get_request(port, f"/page?{urlencode({'bytes': size})}")
    actual = await probe(port, request, b"<main>", "baseline page")
    if abs(actual - size) > size * 0.03:
        raise RuntimeError(f"baseline page is {actual} bytes, wanted {size}")
    return request, actual


def print_table(rows: list[Figures]) -> None:
    print(f"{'endpoint':<34} {'rps':>7} {'p50 ms':>8} {'p99 ms':>8} {'bytes':>7} {'client cpu':>11}  errors")
    for row in rows:
        errors = ", ".join(f"{kind}: {count}" for kind, count in row.errors.items()) or "0"
        print(
            f"{row.name:<34} {row.rps:>7.0f} {row.p50_ms:>8.2f} {row.p99_ms:>8.2f} {row.size:>7,}"
            f" {row.client_cpu:>10.0%}  {errors}"
        )


def print_ratio(label: str, quiz: Figures, baseline: Figures) -> None:
    print(
        f"{label:<34} rps {quiz.rps / baseline.rps:>5.2f}x   p50 {quiz.p50_ms / baseline.p50_ms:>5.2f}x"
        f"   p99 {quiz.p99_ms / baseline.p99_ms:>5.2f}x"
    )


def header() -> str:
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, uvicorn {uvicorn.__version__} ({http}, {loop});"
        f" {CONNECTIONS} connections, {WARMUP_S:g} s warm-up + {MEASURE_S:g} s per endpoint"
    )


async def run(quiz_server: Server, baseline_server: Server) -> None:
    quiz = quiz_requests(quiz_server.port)
    step_size = await probe(quiz_server.port, quiz.step, f'data-question="{quiz.middle}"'.encode(), "quiz step page")
    answer_size = await probe(quiz_server.port, quiz.answer, b"quiz-results", "quiz answer fragment")
    step_baseline, step_baseline_size = await baseline_request(baseline_server.port, step_size)
    answer_baseline, answer_baseline_size = await baseline_request(baseline_server.port, answer_size)
    rows = [
        await measure(f"quiz GET step ({quiz.middle})", quiz_server.port, repeating(quiz.step), step_size),
        await measure("baseline, same bytes", baseline_server.port, repeating(step_baseline), step_baseline_size),
        await measure(f"quiz POST answer ({quiz.last}, htmx)", quiz_server.port, repeating(quiz.answer), answer_size),
        await measure("baseline, same bytes", baseline_server.port, repeating(answer_baseline), answer_baseline_size),
    ]
    print_table(rows)
    print()
    print("quiz / baseline")
    print_ratio("GET step page", rows[0], rows[1])
    print_ratio("POST answer to results", rows[2], rows[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="+", default=["embedded", "postgresql"], choices=["embedded", "postgresql"])
    stores = parser.parse_args().stores
    print(header())
    if "embedded" in stores:
        print("\n== embedded store, 1 worker")
        with tempfile.TemporaryDirectory() as folder, running_servers(Path(folder)) as (quiz_server, baseline_server):
            asyncio.run(run(quiz_server, baseline_server))
    if "postgresql" not in stores:
        return
    with postgres_server() as url:
        for workers in (1, 2) if url else ():
            print(f"\n== PostgreSQL, {workers} worker{'s' if workers > 1 else ''}")
            with (
                tempfile.TemporaryDirectory() as folder,
                running_servers(Path(folder), store_url=url or "", workers=workers) as (quiz_server, baseline_server),
            ):
                asyncio.run(run(quiz_server, baseline_server))


if __name__ == "__main__":
    main()

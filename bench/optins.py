"""200 shoppers sending the opt-in form at the same moment, with 50,000 leads already stored.

For the embedded store (one worker) and a PostgreSQL server started for the run (fsync on; one and
two workers), the real server (`quiz serve`) is started on a store holding 50,000 leads; 200
shoppers complete the coffee quiz, wait as a person would, then all send their address at once,
each from its own client address. The baseline, in the same run and on the same server, is 200
shoppers opening the quiz's first page at once: what 200 requests at a time cost before any
store work. Prints p50, p99 and max of each; asserts nothing.

    python bench/optins.py    # about two minutes
"""

from __future__ import annotations

import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from postgres_server import postgres_server
from served import serve
from test_optin_crash import _client_headers, _free_port, _results_token

from quiz.leads import optin
from quiz.leads.records import lead_id
from quiz.store.base import Store
from quiz.store.postgres import PostgresStore
from quiz.store.tiny import TinyStore

ROOT = Path(__file__).resolve().parent.parent
SHOPPERS = 200
STORED = 50_000


def stored_lead(index: int) -> dict[str, object]:
    email = f"earlier{index}@example.com"
    at = "2026-11-01T10:00:00.000+00:00"
    return {
        "id": lead_id(email, "coffee-finder"),
        "email": email,
        "quiz": "coffee-finder",
        "answers": {"roast": "dark"},
        "products": [{"id": "house", "score": 3.0}],
        "response": f"{index:016x}",
        "created_at": at,
        "updated_at": at,
        "consent": {"status": "subscribed", "at": at, "version": "v1", "text_sha256": "0" * 64},
    }


def fill(store: Store) -> None:
    for start in range(0, STORED, 5_000):
        store.put_many("leads", [stored_lead(index) for index in range(start, start + 5_000)])
    store.close()


@contextmanager
def server(data: Path, *, store_url: str = "", workers: int = 1) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "QUIZ_DATA_DIR": str(data), "QUIZ_SECRET_KEYS": "bench", "QUIZ_PORT": str(port)}
    if store_url:
        env["QUIZ_STORE_URL"] = store_url
    process = serve(ROOT / "quizzes", env, data.parent / f"server-{port}.log", "--workers", str(workers))
    base = f"http://127.0.0.1:{port}"
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=60)  # it sends the queued mail it can and writes its events first


def all_at_once(count: int, one: Callable[[int], bool]) -> tuple[list[float], int]:
    """Latencies of ``count`` calls started together, and how many succeeded."""
    start = threading.Barrier(count)
    latencies: list[float] = []
    lock = threading.Lock()

    def timed(index: int) -> bool:
        start.wait()
        began = time.perf_counter()
        ok = one(index)
        with lock:
            latencies.append(time.perf_counter() - began)
        return ok

    with ThreadPoolExecutor(max_workers=count) as pool:
        done = list(pool.map(timed, range(count)))
    return latencies, sum(done)


def request(base: str, method: str, path: str, index: int, form: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request on a connection of its own, with the stdlib client: cheap enough that 200 at once
    measure the server, not the client (an httpx client per request costs milliseconds of CPU each)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = _client_headers(index)
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def first_page(base: str, index: int) -> bool:
    return request(base, "GET", "/q/coffee-finder", index)[0] == 200


def opt_in(base: str, index: int, token: str) -> bool:
    form = {"t": token, "email": f"burst{index}@example.com", "consent": "yes", "action": "send"}
    status, body = request(base, "POST", "/q/coffee-finder/optin", index, form)
    return status == 200 and b"quiz-optin-sent" in body


def row(name: str, latencies: list[float], ok: int) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    return (
        f"{name:<36} {statistics.median(latencies) * 1000:>8.0f} {cuts[98] * 1000:>8.0f}"
        f" {max(latencies) * 1000:>8.0f} {ok:>6}/{len(latencies)}"
    )


def measure(name: str, data: Path, *, store_url: str = "", workers: int = 1) -> None:
    with server(data, store_url=store_url, workers=workers) as base:
        tokens = [_results_token(base, index) for index in range(SHOPPERS)]
        time.sleep(optin.MIN_SECONDS_ON_FORM + 0.5)
        baseline = all_at_once(SHOPPERS, lambda index: first_page(base, index))

        burst = all_at_once(SHOPPERS, lambda index: opt_in(base, index, tokens[index]))
    print(f"\n== {name}, {STORED:,} leads stored\n{'':<36} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}     ok")
    print(row(f"baseline: {SHOPPERS} first pages at once", *baseline))
    print(row(f"{SHOPPERS} opt-ins at once", *burst))


def main() -> None:
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; {SHOPPERS} shoppers at once")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "embedded"
        fill(TinyStore(data / "store"))
        measure("embedded store, 1 worker", data)
        with postgres_server() as url:
            if url is None:
                return
            fill(PostgresStore(url))
            for workers in (1, 2):
                measure(f"PostgreSQL, {workers} worker{'s' if workers > 1 else ''}", Path(folder) / f"pg{workers}",
                        store_url=url, workers=workers)  # fmt: skip


if __name__ == "__main__":
    main()

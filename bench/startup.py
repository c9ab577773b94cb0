"""What starting the server costs as leads accumulate: seconds to its first answer, and peak memory.

For 1,000 and 1,000,000 stored leads, in the embedded store and in a PostgreSQL server started for
the run (fsync on), starts ``quiz serve`` in a separate process and times it from the spawn until it
answers its first HTTP request on loopback (a quiz's first page); the server then stops on SIGINT
and reports its own peak resident memory (VmHWM). The baseline, in the same run, is the same start
on an empty store. Each figure is the median of ``TRIES`` starts. Prints figures, asserts nothing.

The leads are written by a fast direct writer, not through the store (which would take minutes for
a million): 1,000 realistic leads from ``bench/export.py``, then copies of them each with its own
address, id and response, written as the embedded store's own segment files (the same bytes
``TinyStore`` writes, without the index, and without fsync) or by ``COPY`` into PostgreSQL's table.
So the first start on the embedded store is also the start of a data folder from before the
index: it builds the index once (shown as "first start"); the starts measured come after it.

    python bench/startup.py                 # 1,000 and 1,000,000 leads, both stores (several minutes)
    python bench/startup.py --rows 1000 100000 --stores embedded
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from export import PEAK, QUIZZES, fresh_database, lead, on_each_store

from quiz.format.schema import Quiz
from quiz.leads.records import lead_id
from quiz.store import segments
from quiz.store.postgres import PostgresStore

TRIES = 3
SERVE = "from quiz import cli\nsys.exit(cli.main(sys.argv[1:]))"
TIMEOUT = 600.0  # seconds: the old embedded store took about 17 s to start on 1,000,000 leads


KINDS = 1_000  # distinct leads made in full; the others are copies of them with their own address


def many_leads(size: int, quizzes: list[Quiz]) -> Iterator[dict[str, Any]]:
    """``size`` leads: ``KINDS`` realistic ones, then copies of them with their own address, id and response."""
    rng = random.Random(size)
    kinds = [lead(index, quizzes[index % len(quizzes)], rng) for index in range(min(size, KINDS))]
    for index in range(size):
        kind = kinds[index % len(kinds)]
        email = f"shopper{index}@example.com"
        yield {**kind, "id": lead_id(email, kind["quiz"]), "email": email, "response": f"{index:016x}"}


def write_segments(folder: Path, size: int, quizzes: list[Quiz]) -> None:
    """The leads as the embedded store's segment files of ``leads`` (TinyStore's bytes; no index, no fsync)."""
    collection = folder / "leads"
    collection.mkdir(parents=True)
    chunk: dict[str, dict[str, Any]] = {}
    number = 0
    for record in many_leads(size, quizzes):
        chunk[str(len(chunk) + 1)] = record
        if len(chunk) == segments.SEGMENT_SIZE:
            number += 1
            (collection / f"{number:06d}.json").write_bytes(_json({segments.TABLE: chunk}))
            chunk = {}
    if chunk:
        (collection / f"{number + 1:06d}.json").write_bytes(_json({segments.TABLE: chunk}))


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()  # as quiz.store.segments writes


def copy_rows(url: str, size: int, quizzes: list[Quiz]) -> None:
    """The leads into PostgreSQL's ``records`` table by ``COPY`` (the schema made by the store first)."""
    PostgresStore(url).close()
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        with cursor.copy("COPY records (collection, id, data) FROM STDIN") as copy:
            for record in many_leads(size, quizzes):
                copy.write_row(("leads", record["id"], json.dumps(record, ensure_ascii=False)))
        cursor.execute("ANALYZE records")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_once(env: dict[str, str], quiz_id: str) -> tuple[float, int]:
    """Seconds from spawning ``quiz serve`` to its first answer, and the peak resident bytes it reports."""
    port = free_port()
    command = [sys.executable, "-c", PEAK + SERVE, "serve", str(QUIZZES), "--port", str(port)]
    started = time.perf_counter()
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            if server.poll() is not None:
                raise SystemExit(f"quiz serve exited with {server.returncode}:\n{server.stderr.read()}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/q/{quiz_id}", timeout=5) as answer:
                    answer.read()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.perf_counter() - started > TIMEOUT:
                    raise SystemExit(f"quiz serve did not answer within {TIMEOUT:.0f} s") from None
                time.sleep(0.01)
        seconds = time.perf_counter() - started
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    peaks = [line.split()[1] for line in errors.splitlines() if line.startswith("peak ")]
    if not peaks:
        raise SystemExit(f"quiz serve reported no peak memory:\n{errors}")
    return seconds, int(peaks[-1])


def measured(env: dict[str, str], quiz_id: str) -> tuple[float, int]:
    """The median seconds and the median peak of ``TRIES`` starts."""
    runs = [start_once(env, quiz_id) for _ in range(TRIES)]
    return statistics.median(run[0] for run in runs), int(statistics.median(run[1] for run in runs))


def main() -> None:
    on_each_store(__doc__, measure_store)
    print(f"(median of {TRIES} starts each: spawning Python to the first answer of GET /q/<quiz>)")


def measure_store(name: str, sizes: list[int], quizzes: list[Quiz], url: str | None) -> None:
    columns = (
        f"{'leads':>10} {'written':>8} {'first start':>11} {'start':>8} {'peak RSS':>9}"
        f"   {'empty store: start':>18} {'peak RSS':>9}  ratio"
    )
    print(f"\n== {name}\n{columns}", flush=True)
    with tempfile.TemporaryDirectory() as temporary:
        for size in sizes:
            data, empty = Path(temporary) / f"data{size}", Path(temporary) / f"empty{size}"
            env = {**os.environ, "QUIZ_QUIZZES_DIR": str(QUIZZES), "QUIZ_SECRET_KEYS": "k"}
            started = time.perf_counter()
            if url is None:
                write_segments(data / "store", size, quizzes)
                full_env, empty_env = {**env, "QUIZ_DATA_DIR": str(data)}, {**env, "QUIZ_DATA_DIR": str(empty)}
            else:
                database, nothing = fresh_database(url, f"start_{size}"), fresh_database(url, f"start_empty_{size}")
                copy_rows(database, size, quizzes)
                full_env = {**env, "QUIZ_DATA_DIR": str(data), "QUIZ_STORE_URL": database}
                empty_env = {**env, "QUIZ_DATA_DIR": str(empty), "QUIZ_STORE_URL": nothing}
            written = time.perf_counter() - started
            # One start of each first, not counted: the embedded store builds its index (a folder from
            # before it), a fresh database is migrated, and the file cache is warmed.
            first, _ = start_once(full_env, quizzes[0].id)
            start_once(empty_env, quizzes[0].id)
            empty_seconds, empty_peak = measured(empty_env, quizzes[0].id)
            seconds, peak = measured(full_env, quizzes[0].id)
            print(
                f"{size:>10,} {written:>7.1f}s {first:>10.2f}s {seconds:>7.2f}s {peak / 1e6:>7.1f}MB"
                f"   {empty_seconds:>17.2f}s {empty_peak / 1e6:>7.1f}MB"
                f"  {seconds / empty_seconds:4.2f}x time, {peak / empty_peak:4.2f}x memory",
                flush=True,
            )


if __name__ == "__main__":
    main()

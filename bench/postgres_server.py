"""A throwaway PostgreSQL server on loopback for the benchmarks: the tests' cluster (tests/postgres.py), durable."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from postgres import Cluster, Unavailable, find_bindir, run_as


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """The URL of a fresh database with fsync on, or None (having said why) where PostgreSQL is missing."""
    try:
        cluster = Cluster(find_bindir(), run_as(), durable=True)
        url = cluster.start()
    except Unavailable as error:
        print(f"PostgreSQL figures skipped: {error}", file=sys.stderr)
        yield None
        return
    try:
        yield url
    finally:
        cluster.stop()

"""What exporting the leads costs as they accumulate: peak memory and rows per second of ``quiz export``.

For 1,000 and 1,000,000 stored leads (realistic records for the example quizzes, made up with a fixed
seed), in the embedded store and in a PostgreSQL server started for the run (fsync on), runs
``quiz export --consent any --output /dev/null`` in a separate process, which reports its own peak
resident memory (VmHWM) and, in a second run, its peak of Python objects (tracemalloc). The
baseline, in the same run and on the same store, is a process that only opens the store read-only
and reads every lead: what remains is the export's own cost. Prints figures, asserts nothing.

    python bench/export.py                 # 1,000 and 1,000,000 leads, both stores (about ten minutes)
    python bench/export.py --rows 1000 20000 --stores postgresql
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from postgres_server import postgres_server

from quiz.format.questions import Info, MultipleChoice, Number, Scale, ShortText
from quiz.format.schema import Quiz
from quiz.leads.records import lead_id
from quiz.marketer.export import by_id
from quiz.store.base import Store
from quiz.store.postgres import PostgresStore
from quiz.store.tiny import TinyStore
from quiz.web.library import QuizLibrary

ROOT = Path(__file__).parent.parent
QUIZZES = ROOT / "quizzes"
SIZES = (1_000, 1_000_000)
BATCH = 10_000
STATUSES = ("none", "pending", "subscribed", "subscribed", "unsubscribed")
READ_ONLY = (
    "from pathlib import Path; from quiz.store.tiny import TinyStore\n"
    "print(sum(1 for _ in TinyStore(Path(sys.argv[1]), read_only=True).records('leads')))"
)
READ_POSTGRESQL = (
    "from quiz.store.postgres import PostgresStore\n"
    "print(sum(1 for _ in PostgresStore(sys.argv[1], migrate=False).records('leads')))"
)


def answer(question: Any, rng: random.Random) -> Any:
    if isinstance(question, MultipleChoice):
        picks = rng.randint(max(question.min, 1), question.most())
        return [option.id for option in rng.sample(question.choices(), picks)]
    if isinstance(question, Scale):
        return rng.choice(question.values())
    if isinstance(question, Number):
        return rng.randint(int(question.min or 18), int(question.max or 80))
    if isinstance(question, ShortText):
        return rng.choice(["", "", "", "Gift for my sister, she loves travel", "no fragrance please"])
    return rng.choice(question.choices()).id


def lead(index: int, quiz: Quiz, rng: random.Random) -> dict[str, Any]:
    """A lead as quiz.leads.records documents it: answers to every question, three products, consent evidence."""
    email = f"shopper{index}@example.com"
    day = 1 + index % 28
    at = f"2025-{1 + index % 12:02d}-{day:02d}T{index % 24:02d}:{index % 60:02d}:00.000+00:00"
    answers = {question.id: answer(question, rng) for question in quiz.questions if not isinstance(question, Info)}
    products = [{"id": product.id, "score": round(rng.uniform(1, 12), 1)} for product in rng.sample(quiz.products, 3)]
    locale = rng.choice(quiz.all_locales())
    return {
        "id": lead_id(email, quiz.id),
        "email": email,
        "quiz": quiz.id,
        "quiz_version": "3f9a1c0b7d2e",
        "locale": locale,
        "answers": answers,
        "products": products,
        "response": f"{index:016x}",
        "context": {"locale": locale, "product": "toner-100", "page": "https://shop.example/products/toner-100"},
        "site": "https://shop.example",
        "created_at": at,
        "updated_at": at,
        "consent": {"status": rng.choice(STATUSES), "at": at, "version": "v2", "text_sha256": f"{index:064x}"},
    }


def fill(store: Store, size: int, quizzes: list[Quiz]) -> float:
    """Stores ``size`` leads a batch at a time (``put_many``); returns the seconds it took."""
    rng = random.Random(size)
    started = time.perf_counter()
    for start in range(0, size, BATCH):
        batch = range(start, min(start + BATCH, size))
        store.put_many("leads", [lead(index, quizzes[index % len(quizzes)], rng) for index in batch])
    store.close()
    return time.perf_counter() - started


def disk_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


PEAK = (
    "import atexit, sys\n"
    "def report():\n"
    "    status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
    "    print('peak', int(status.split()[0]) * 1024, file=sys.stderr)\n"
    "atexit.register(report)\n"
)
TRACED = (
    "import tracemalloc; tracemalloc.start()\n"
    "atexit.register(lambda: print('heap', tracemalloc.get_traced_memory()[1], file=sys.stderr))\n"
)
EXPORT = "from quiz import cli\n", "sys.exit(cli.main(sys.argv[1:]))"  # the heap is traced from between the two


def measured(code: str, arguments: list[str], env: dict[str, str]) -> tuple[float, dict[str, int]]:
    """Seconds of one child process and the figures it reports as it exits.

    The child reads its own peak resident memory (VmHWM) rather than the parent taking ``ru_maxrss``
    from ``wait4``: Linux carries the forking parent's peak across ``exec`` into the child's
    ``ru_maxrss``, so a child of this process (which just built a million leads) looked as big as it.
    """
    started = time.perf_counter()
    finished = subprocess.run([sys.executable, "-c", code, *arguments], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"{arguments} failed:\n{finished.stderr}")
    figures = (line.split() for line in finished.stderr.splitlines())
    return seconds, {words[0]: int(words[1]) for words in figures if len(words) == 2 and words[1].isdigit()}


def main() -> None:
    on_each_store(__doc__, measure_store)
    print("(rows/s include starting Python and opening the store; the Python heap is what tracemalloc counts)")


MeasureStore = Callable[[str, list[int], list[Quiz], str | None], None]


def on_each_store(doc: str | None, measure: MeasureStore) -> None:
    """``--rows`` and ``--stores`` from the command line, then ``measure`` on each store asked for: the
    embedded one (no URL), and PostgreSQL on a server started for the run (skipped, saying why, where none is)."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=list(SIZES), help="store sizes to measure")
    parser.add_argument("--stores", nargs="+", default=["embedded", "postgresql"], choices=["embedded", "postgresql"])
    arguments = parser.parse_args()
    quizzes = list(by_id(QuizLibrary(QUIZZES).all()).values())
    for kind in arguments.stores:
        if kind == "embedded":
            measure("embedded store", arguments.rows, quizzes, None)
            continue
        with postgres_server() as url:
            if url is not None:
                measure("PostgreSQL", arguments.rows, quizzes, url)


def measure_store(name: str, sizes: list[int], quizzes: list[Quiz], url: str | None) -> None:
    print(
        f"\n== {name}\n{'leads':>10} {'fill':>8} {'disk':>9} {'read only':>20} {'quiz export (CSV)':>22}"
        "  export/read  Python heap peak"
    )
    peaks, heaps = {}, {}
    with tempfile.TemporaryDirectory() as temporary:
        for size in sizes:
            data = Path(temporary) / f"data{size}"
            env = {**os.environ, "QUIZ_DATA_DIR": str(data), "QUIZ_QUIZZES_DIR": str(QUIZZES), "QUIZ_SECRET_KEYS": "k"}
            if url is None:
                filled = fill(TinyStore(data / "store"), size, quizzes)
                read_code, read_argument, disk = READ_ONLY, str(data / "store"), disk_bytes(data)
            else:
                database = fresh_database(url, f"export_{size}")
                filled = fill(PostgresStore(database), size, quizzes)
                read_code, read_argument, disk = READ_POSTGRESQL, database, database_bytes(database)
                env["QUIZ_STORE_URL"] = database
            read_seconds, read = measured(PEAK + read_code, [read_argument], env)
            read_peak = read["peak"]
            export = ["export", "--consent", "any", "--output", os.devnull]
            seconds, figures = measured(PEAK + "".join(EXPORT), export, env)
            peaks[size] = peak = figures["peak"]
            heaps[size] = measured(PEAK + EXPORT[0] + TRACED + EXPORT[1], export, env)[1]["heap"]
            print(
                f"{size:>10,} {filled:>7.1f}s {disk / 1e6:>7.1f}MB"
                f" {read_peak / 1e6:>7.1f}MB {size / read_seconds:>8,.0f} rows/s"
                f" {peak / 1e6:>7.1f}MB {size / seconds:>10,.0f} rows/s  {seconds / read_seconds:5.2f}x time"
                f"  {heaps[size] / 1e6:8.1f}MB"
            )
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        ratio = peaks[large] / peaks[small]
        print(f"peak resident memory of the export at {large:,} leads is {ratio:.2f}x its peak at {small:,}")
        print(f"peak Python heap of the export at {large:,} leads is {heaps[large] / heaps[small]:.2f}x at {small:,}")


def fresh_database(url: str, name: str) -> str:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")  # a name of ours, not input
    return url.rsplit("/", 1)[0] + "/" + name


def database_bytes(url: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


if __name__ == "__main__":
    main()

"""What exporting the leads costs as they accumulate: peak memory and rows per second of ``quiz export``.

For 1,000 and 1,000,000 stored leads (realistic records for the example quizzes, made up with a fixed
seed), runs ``quiz export --consent any --output /dev/null`` in a separate process and reads that
process's peak resident memory from ``os.wait4``. The baseline, in the same run and on the same
store, is a process that only opens the store read-only and reads every lead: what remains is the
export's own cost. Prints figures, asserts nothing.

    python bench/export.py                 # 1,000 and 1,000,000 leads (a few minutes, ~1 GB of disk)
    python bench/export.py --rows 1000 20000
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from quiz.export import by_id
from quiz.leads import lead_id
from quiz.library import QuizLibrary
from quiz.questions import Info, MultipleChoice, Number, Scale, ShortText
from quiz.schema import Quiz
from quiz.tinystore import TinyStore

ROOT = Path(__file__).parent.parent
QUIZZES = ROOT / "quizzes"
SIZES = (1_000, 1_000_000)
BATCH = 10_000
STATUSES = ("none", "pending", "subscribed", "subscribed", "unsubscribed")
READ_ONLY = (
    "import sys; from pathlib import Path; from quiz.tinystore import TinyStore\n"
    "print(sum(1 for _ in TinyStore(Path(sys.argv[1]), read_only=True).records('leads')))"
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
    """A lead as quiz.leads documents it: answers to every question, three products, consent evidence."""
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


def fill(folder: Path, size: int, quizzes: list[Quiz]) -> float:
    """Stores ``size`` leads through ``add_soon`` and a flush per batch; returns the seconds it took."""
    rng = random.Random(size)
    started = time.perf_counter()
    store = TinyStore(folder)
    for start in range(0, size, BATCH):
        for index in range(start, min(start + BATCH, size)):
            store.add_soon("leads", lead(index, quizzes[index % len(quizzes)], rng))
        store.flush()
    store.close()
    return time.perf_counter() - started


def disk_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def measured(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Seconds and peak resident memory (bytes) of one child process."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, not every child's maximum
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{command[2:]} failed:\n{errors.read().decode()}")
    return seconds, usage.ru_maxrss * 1024  # Linux reports kilobytes


TRACED = (
    "import sys, tracemalloc; from quiz import cli\n"
    "tracemalloc.start(); code = cli.main(sys.argv[1:])\n"
    "print(tracemalloc.get_traced_memory()[1], file=sys.stderr); sys.exit(code)"
)


def python_heap_peak(arguments: list[str], env: dict[str, str]) -> int:
    """The export's peak of Python objects (tracemalloc), which the C allocator's reuse does not blur."""
    finished = subprocess.run(
        [sys.executable, "-c", TRACED, *arguments], env=env, capture_output=True, text=True, check=True
    )
    return int(finished.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=list(SIZES), help="store sizes to measure")
    sizes = parser.parse_args().rows
    quizzes = list(by_id(QuizLibrary(QUIZZES).all()).values())
    print(
        f"{'leads':>10} {'fill':>8} {'disk':>9} {'read only':>20} {'quiz export (CSV)':>22}  export/read"
        "  Python heap peak"
    )
    peaks, heaps = {}, {}
    with tempfile.TemporaryDirectory() as temporary:
        for size in sizes:
            data = Path(temporary) / f"data{size}"
            filled = fill(data / "store", size, quizzes)
            env = {**os.environ, "QUIZ_DATA_DIR": str(data), "QUIZ_QUIZZES_DIR": str(QUIZZES), "QUIZ_SECRET_KEYS": "k"}
            read_seconds, read_peak = measured([sys.executable, "-c", READ_ONLY, str(data / "store")], env)
            export = [sys.executable, "-m", "quiz.cli", "export", "--consent", "any", "--output", os.devnull]
            seconds, peak = measured(export, env)
            peaks[size] = peak
            heaps[size] = python_heap_peak(export[3:], env)
            print(
                f"{size:>10,} {filled:>7.1f}s {disk_bytes(data) / 1e6:>7.1f}MB"
                f" {read_peak / 1e6:>7.1f}MB {size / read_seconds:>8,.0f} rows/s"
                f" {peak / 1e6:>7.1f}MB {size / seconds:>10,.0f} rows/s  {seconds / read_seconds:5.2f}x time"
                f"  {heaps[size] / 1e6:8.1f}MB"
            )
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        ratio = peaks[large] / peaks[small]
        print(f"\npeak resident memory of the export at {large:,} leads is {ratio:.2f}x its peak at {small:,}")
        print(f"peak Python heap of the export at {large:,} leads is {heaps[large] / heaps[small]:.2f}x at {small:,}")
    print("(rows/s include starting Python and opening the store. The Python heap is what the export holds;")
    print(" resident memory also counts what glibc's allocator keeps after parsing thousands of segment files)")


if __name__ == "__main__":
    main()

"""What storing one lead costs as leads accumulate: the embedded store against TinyDB's own storage.

For 1,000, 10,000 and 100,000 stored leads, times durable ``TinyStore.add`` calls (median of
``WRITES``), next to ``TinyDB.insert`` with TinyDB's default JSONStorage on the same number of
records, measured in the same run. The stores are filled in bulk first, which is not timed.
Prints figures, asserts nothing.

    python bench/store.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from tinydb import TinyDB

from quiz.store.tiny import TinyStore

SIZES = (1_000, 10_000, 100_000)
WRITES = 200
PLAIN_WRITES = 5  # TinyDB's own storage is slow enough at 100,000 that a few calls tell
BATCH = 5_000


def lead(index: int) -> dict[str, object]:
    return {
        "email": f"shopper{index}@example.com",
        "status": "subscribed",
        "quiz": "serum-finder",
        "answers": {"skin_type": "dry", "concerns": ["dryness", "dullness"], "age": 34},
        "created": "2026-11-23T10:00:00Z",
    }


def median_ms(action, count: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for index in range(count):
        started = time.perf_counter()
        action(index)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def tinystore_write_ms(folder: Path, size: int) -> float:
    store = TinyStore(folder)
    collection = store._collection("leads")  # bulk fill: one write per segment, not timed
    for start in range(0, size, BATCH):
        collection.insert([{**lead(index), "id": f"fill{index}"} for index in range(start, min(start + BATCH, size))])
    result = median_ms(lambda index: store.add("leads", lead(size + index)), WRITES)
    store.close()
    return result


def plain_tinydb_write_ms(path: Path, size: int) -> float:
    database = TinyDB(str(path))
    database.insert_multiple(lead(index) for index in range(size))
    result = median_ms(lambda index: database.insert(lead(size + index)), PLAIN_WRITES)
    database.close()
    return result


def main() -> None:
    print(f"{'stored leads':>12} {'TinyStore.add':>14} {'TinyDB.insert':>14}  ratio")
    first = None
    with tempfile.TemporaryDirectory() as folder:
        for size in SIZES:
            ours = tinystore_write_ms(Path(folder) / f"store{size}", size)
            plain = plain_tinydb_write_ms(Path(folder) / f"plain{size}.json", size)
            first = first or ours
            print(f"{size:>12,} {ours:>11.2f} ms {plain:>11.2f} ms  {plain / ours:5.1f}x slower")
    print(f"\nTinyStore.add at {SIZES[-1]:,} leads is {ours / first:.2f}x its cost at {SIZES[0]:,}")
    print("(each add is durable: a temporary file, fsync, rename over the segment, fsync of the folder)")


if __name__ == "__main__":
    main()

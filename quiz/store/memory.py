"""A store in this process's memory, for fast tests: the contract of ``quiz.store.base``, nothing durable."""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterator
from typing import Any

from quiz.store.base import Record, Writes, check_collection, matches, older
from quiz.store.batch import Batch, Changes, new_id


class MemoryStore:
    shared = False
    where = "memory"

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Record]] = {}  # dicts keep insertion order; replacing keeps the place
        self._lock = threading.RLock()

    def add(self, collection: str, record: Record) -> str:
        record_id = new_id()
        self.put(collection, record_id, record)
        return record_id

    def add_soon(self, collection: str, record: Record) -> None:
        self.put(collection, str(record.get("id") or new_id()), record)

    def put(self, collection: str, record_id: str, record: Record) -> None:
        with self._lock:
            self._collection(collection)[record_id] = _copy({**record, "id": record_id})

    def put_many(self, collection: str, records: list[Record]) -> None:
        with self._lock:
            for record in records:
                self.put(collection, str(record["id"]), record)

    def insert_new(self, collection: str, record_id: str, record: Record) -> bool:
        with self._lock:
            if record_id in self._collection(collection):
                return False
            self.put(collection, record_id, record)
            return True

    def get(self, collection: str, record_id: str) -> Record | None:
        with self._lock:
            found = self._collection(collection).get(record_id)
            return None if found is None else _copy(found)

    def get_many(self, collection: str, record_ids: list[str]) -> dict[str, Record]:
        found = (self.get(collection, record_id) for record_id in record_ids)
        return {record["id"]: record for record in found if record is not None}

    def update(self, collection: str, record_id: str, changes: Record) -> bool:
        with self._lock:
            current = self._collection(collection).get(record_id)
            if current is None:
                return False
            self.put(collection, record_id, {**current, **changes})
            return True

    def swap(self, collection: str, record_id: str, expected: Record, changes: Record) -> Record | None:
        with self._lock:
            current = self.get(collection, record_id)
            if current is None or not matches(current, expected):
                return None
            self.put(collection, record_id, {**current, **changes})
            return current

    def increment(self, collection: str, record_id: str, field: str, record: Record) -> int:
        with self._lock:
            current = self.get(collection, record_id) or record
            count = int(current.get(field, 0)) + 1
            self.put(collection, record_id, {**current, field: count})
            return count

    def find(self, collection: str, **equals: Any) -> list[Record]:
        with self._lock:
            return [_copy(record) for record in self._collection(collection).values() if matches(record, equals)]

    def remove(self, collection: str, **equals: Any) -> int:
        with self._lock:
            return self._delete(collection, [r["id"] for r in self.find(collection, **equals)])

    def remove_older(self, collection: str, field: str, before: float) -> int:
        with self._lock:
            records = self._collection(collection).values()
            return self._delete(collection, [r["id"] for r in records if older(r, field, before)])

    def records(self, collection: str) -> Iterator[Record]:
        with self._lock:
            snapshot = [_copy(record) for record in self._collection(collection).values()]
        yield from snapshot

    def count(self, collection: str) -> int:
        with self._lock:
            return len(self._collection(collection))

    def collections(self) -> list[str]:
        with self._lock:
            return sorted(name for name, records in self._data.items() if records)

    @contextlib.contextmanager
    def transaction(self, *keys: str) -> Iterator[Writes]:
        with self._lock:  # one lock for everything: every transaction runs alone
            batch = Batch(self)
            yield batch
            self.apply(batch.changes)

    def apply(self, changes: Changes) -> None:
        with self._lock:
            for (collection, record_id), record in changes.items():
                if record is None:
                    self._delete(collection, [record_id])
                else:
                    self.put(collection, record_id, record)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _collection(self, name: str) -> dict[str, Record]:
        if name not in self._data:
            self._data[check_collection(name)] = {}
        return self._data[name]

    def _delete(self, collection: str, ids: list[str]) -> int:
        records = self._collection(collection)
        return sum(records.pop(record_id, None) is not None for record_id in ids)


def _copy(record: Record) -> Record:
    # A deep copy: a caller changing a nested list must not change what is stored, as with a real store.
    return copy.deepcopy(record)

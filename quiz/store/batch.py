"""One transaction on a backend that has none of its own (memory, embedded files): gathered, then applied.

The backend holds its lock for the whole block, so nothing the block read can change before its
writes are applied; the block reads its own writes through the batch.
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol

from quiz.store.base import Record, check_collection, matches

Changes = dict[tuple[str, str], Record | None]  # (collection, id) -> the record as it will be, None: deleted


class Reader(Protocol):
    def get(self, collection: str, record_id: str) -> Record | None: ...

    def find(self, collection: str, **equals: Any) -> list[Record]: ...


class Batch:
    def __init__(self, store: Reader) -> None:
        self._store = store
        self.changes: Changes = {}

    def get(self, collection: str, record_id: str) -> Record | None:
        if (collection, record_id) in self.changes:
            changed = self.changes[(collection, record_id)]
            return None if changed is None else dict(changed)
        return self._store.get(collection, record_id)

    def find(self, collection: str, **equals: Any) -> list[Record]:
        found = []
        for record in self._store.find(collection, **equals):
            key = (collection, record["id"])
            if key not in self.changes:
                found.append(record)
        for (name, _), changed in self.changes.items():
            if name == collection and changed is not None and matches(changed, equals):
                found.append(dict(changed))
        return found

    def add(self, collection: str, record: Record) -> str:
        record_id = new_id()
        self.put(collection, record_id, record)
        return record_id

    def put(self, collection: str, record_id: str, record: Record) -> None:
        self.changes[(check_collection(collection), record_id)] = {**record, "id": record_id}

    def insert_new(self, collection: str, record_id: str, record: Record) -> bool:
        if self.get(collection, record_id) is not None:
            return False
        self.put(collection, record_id, record)
        return True

    def update(self, collection: str, record_id: str, changes: Record) -> bool:
        current = self.get(collection, record_id)
        if current is None:
            return False
        self.put(collection, record_id, {**current, **changes})
        return True

    def remove(self, collection: str, **equals: Any) -> int:
        found = self.find(collection, **equals)
        for record in found:
            self.changes[(collection, record["id"])] = None
        return len(found)


def new_id() -> str:
    return secrets.token_hex(8)

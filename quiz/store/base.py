"""Where leads, consent records, responses and funnel events are kept: the contract every backend keeps.

Records are plain JSON objects in named collections ("leads", "consent", "events"...), each under an
``id`` (a string). Backends: ``quiz.store.tiny`` (embedded files, one writer process, the default),
``quiz.store.postgres`` (many processes and machines), ``quiz.store.memory`` (tests). The contract
suite in ``tests/test_store_contract.py`` holds each of them to what is written here.

Semantics shared by every backend:

- A write is durable when it returns (it survives a crash of the process), except ``add_soon``.
- A record never carries an ``id`` of its own making: the id given (or assigned) is the record's
  ``id`` field when read back, whatever the written record said.
- ``records`` yields a collection oldest first (insertion order); replacing a record keeps its place.
- ``find`` and ``remove`` match by field equality on top-level fields (``id`` included); a record
  lacking a field does not match it. Values are compared as JSON values (``1`` is not ``"1"``).
- A missing id is not an error: ``get`` gives None, ``update`` and ``swap`` change nothing and say so.
- Nothing is kept only in memory, except what ``add_soon`` holds for at most a second (funnel
  events: no shopper has been shown them). Two processes sharing a store see each other's writes.
- A write that cannot be made raises ``StoreError`` (``Unavailable``: the shopper is asked to try
  again) or the ``OSError`` of a full disk, and leaves what was stored as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from quiz.errors import StoreError, StoreLocked

__all__ = [
    "COLLECTION_NAME",
    "Record",
    "Store",
    "StoreError",
    "StoreLocked",
    "Writes",
    "check_collection",
    "matches",
    "older",
]

Record = dict[str, Any]

COLLECTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


class Writes(Protocol):
    """What one transaction can do: read its own writes, and write them all or none."""

    def get(self, collection: str, record_id: str) -> Record | None: ...

    def find(self, collection: str, **equals: Any) -> list[Record]: ...

    def add(self, collection: str, record: Record) -> str:
        """Keep a new record under a new id; returns the id."""

    def put(self, collection: str, record_id: str, record: Record) -> None:
        """Keep ``record`` under ``record_id``, replacing (not merging) a record with that id."""

    def insert_new(self, collection: str, record_id: str, record: Record) -> bool:
        """Keep ``record`` only if no record has ``record_id``: True if it was new (seen-once)."""

    def update(self, collection: str, record_id: str, changes: Record) -> bool:
        """Set some top-level fields of a record (its id stays); False, and nothing written, if it is missing."""

    def remove(self, collection: str, **equals: Any) -> int:
        """Delete every record whose fields equal ``equals``; returns how many. No copy stays behind."""


class Store(Writes, Protocol):
    """Every method is blocking I/O: call it from a worker thread, never on the event loop."""

    shared: bool  # several processes or machines may use this store at once (PostgreSQL)
    where: str  # what to name in a message: a folder, or a URL without its password

    def add_soon(self, collection: str, record: Record) -> None:
        """Keep a funnel event within about a second, written with others; it keeps an ``id`` it brings.

        Only for records nobody is shown: a crash may lose the last second of them.
        """

    def get_many(self, collection: str, record_ids: list[str]) -> dict[str, Record]:
        """The records of those ids that exist, by id, in one read where the backend can (a dashboard page)."""

    def put_many(self, collection: str, records: list[Record]) -> None:
        """``put`` each record under its own ``id``, in order, faster than one by one (copying a store)."""

    def swap(self, collection: str, record_id: str, expected: Record, changes: Record) -> Record | None:
        """Compare and set: apply ``changes`` only if every field in ``expected`` still has that value.

        Returns the record as it was before the change, or None when it is missing or differs (so of
        two processes taking the same login state at once, exactly one gets it).
        """

    def increment(self, collection: str, record_id: str, field: str, record: Record) -> int:
        """Add one to a numeric ``field`` and return the new count, atomically (a shared rate limit).

        A missing record is made from ``record`` with the field at 1.
        """

    def remove_older(self, collection: str, field: str, before: float) -> int:
        """Delete records whose numeric ``field`` (seconds since the epoch) is below ``before``.

        A record lacking the field, or holding something else there, counts as older: pruning
        must not keep what it cannot date.
        """

    def records(self, collection: str) -> Iterator[Record]:
        """Every record of a collection, oldest first, read a piece at a time (an export of millions)."""

    def count(self, collection: str) -> int: ...

    def collections(self) -> list[str]:
        """The names of the collections that hold records, sorted."""

    def transaction(self, *keys: str) -> AbstractContextManager[Writes]:
        """Several writes as one: all are kept when the block ends, none if it raises.

        Transactions naming a common key run one after another, across processes on a shared store:
        ``with store.transaction(person_id):`` makes read-check-write on one person safe.
        """

    def flush(self) -> None:
        """Write what ``add_soon`` is holding."""

    def close(self) -> None: ...


def check_collection(name: str) -> str:
    """Collection names become folder and SQL names: lower-case letters, digits and underscores."""
    if not isinstance(name, str) or not COLLECTION_NAME.match(name):
        raise StoreError(f"{name!r} is not a collection name")
    return name


def matches(record: Record, equals: dict[str, Any]) -> bool:
    """Field equality as the contract defines it; backends without a query language use this."""
    return all(field in record and _same(record[field], value) for field, value in equals.items())


def _same(stored: Any, wanted: Any) -> bool:
    # As JSON compares: true is not 1 (Python says it is), 1 is 1.0, "1" is not 1.
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return stored is wanted
    if isinstance(stored, int | float) and isinstance(wanted, int | float):
        return stored == wanted
    return type(stored) is type(wanted) and bool(stored == wanted)


def older(record: Record, field: str, before: float) -> bool:
    value = record.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True
    return value < before

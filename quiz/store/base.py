"""Where leads, consent records, responses and funnel events are kept: a narrow interface.

Records are plain JSON objects in named collections ("leads", "consent", "events"...), each with
an ``id`` the store assigns. The embedded default is ``quiz.store.tiny``; a PostgreSQL store will
implement the same methods, and ``tests/test_store.py`` holds every store to them.

A write that cannot be made raises ``StoreError`` (or the ``OSError`` of a full disk) and leaves
what was stored as it was; both reach the one error handler as 503 ``Unavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from quiz.errors import StoreError, StoreLocked

__all__ = ["Record", "Store", "StoreError", "StoreLocked"]

Record = dict[str, Any]


class Store(Protocol):
    def add(self, collection: str, record: Record) -> str:
        """Keep ``record`` durably (it survives a crash once this returns) and return its id."""

    def add_soon(self, collection: str, record: Record) -> None:
        """Keep ``record`` within about a second, written with others (funnel events, responses).

        The record keeps an ``id`` it brings (the caller needs it before it is written), else gets one.
        """

    def put(self, collection: str, record_id: str, record: Record) -> None:
        """Durably keep ``record`` under ``record_id``, replacing a record with that id if there is one."""

    def get(self, collection: str, record_id: str) -> Record | None: ...

    def update(self, collection: str, record_id: str, changes: Record) -> None:
        """Durably set some fields of a record (its id stays)."""

    def records(self, collection: str) -> Iterator[Record]:
        """Every record of a collection, oldest first, read a piece at a time."""

    def remove(self, collection: str, matches: Callable[[Record], bool]) -> int:
        """Durably delete every matching record, leaving no copy behind; return how many."""

    def flush(self) -> None:
        """Write what ``add_soon`` is holding."""

    def close(self) -> None: ...

"""Which segment file holds a record, for one collection of the embedded store: derived data, on disk.

The records live in their segment files (``quiz.store.segments``); this index only says where to
look, so that a start does not read a million records to learn their ids, and memory does not hold
them. It is an SQLite file (``index.sqlite3`` in the collection's folder): a B-tree that finds and adds
an id in a few page reads, crash-safe by its own write-ahead log; the standard library has it. Kept
so that it can never hide a record:

- an id is added before the segment file that takes it is written: the index is a superset of the
  ids on disk, and every hit is checked by reading the segment it names (``Collection`` does that);
- after each segment write the file's size, modification time and inode are recorded beside it;
  at start a segment whose file no longer matches (written after the last index write that reached
  the disk, edited by hand, restored from a backup) is read again and its ids added, and one the
  index never saw is read in full; a file that matches is not read at all;
- a missing index, or one that SQLite cannot open, is rebuilt by reading every segment once (this is
  also how a data folder from before the index gets one). It holds nothing that the segments do not.

Writes are not fsynced (``synchronous=NORMAL``): a crash of the process loses none of them, and what
a power cut loses is found again at start, because the segment files written since then (fsynced)
no longer match what the index recorded about them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from quiz.store.base import StoreError

log = logging.getLogger(__name__)

NAME = "index.sqlite3"
VERSION = 1
_SCHEMA = (
    "CREATE TABLE ids (id TEXT PRIMARY KEY, segment INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE files (segment INTEGER PRIMARY KEY, seen TEXT NOT NULL)",
    f"PRAGMA user_version = {VERSION}",
)
_MANY = 500  # ids per query: under SQLite's limit of bound parameters
# What the disk did, not what the file is: a full or read-only disk, an I/O error, a lock.
_DISK = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY}
_DISK |= {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


class IndexDamaged(StoreError):
    """The index file is damaged. It was removed: the next start rebuilds it from the segment files."""


def seen(path: Path) -> str | None:
    """What the index remembers of a segment file: inode, size and modification time; None if it is gone."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return f"{status.st_ino}:{status.st_size}:{status.st_mtime_ns}"


class Index:
    """Record id -> segment number of one collection: in ``path``, or in memory (``None``, for a reader)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._damaged = ""
        self._open: sqlite3.Connection | None = self._opened()

    @property
    def _db(self) -> sqlite3.Connection:
        if self._damaged:  # an empty index made now would hide every record: nothing until a restart
            raise IndexDamaged(self._damaged)
        if self._open is None:  # used again after the store was closed (an app started twice in a test)
            self._open = self._opened()
        return self._open

    @contextlib.contextmanager
    def _used(self) -> Iterator[None]:
        """SQLite's errors as the store's: a disk's as ``OSError`` (the write is retried, or held), a
        damaged file's as ``IndexDamaged``, after removing the file so that the next start rebuilds it."""
        try:
            yield
        except sqlite3.Error as error:
            if getattr(error, "sqlite_errorcode", 0) & 0xFF in _DISK:
                raise OSError(f"{self.path}: {error}") from None
            self._damaged = (
                f"{self.path}: the index of record ids is damaged ({error}); it was removed, and the next start"
                " rebuilds it from the segment files: restart the server"
            )
            log.error("%s", self._damaged)
            self.close()
            if self.path is not None:
                remove_files(self.path)
            raise IndexDamaged(self._damaged) from None

    def _opened(self) -> sqlite3.Connection:
        if self.path is None:
            return _created(":memory:")
        if self.path.exists():
            try:
                db = sqlite3.connect(self.path, check_same_thread=False)  # used under the store's lock
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                row = db.execute("PRAGMA user_version").fetchone()
                if row is not None and row[0] == VERSION:
                    return db
                db.close()
                log.warning("%s: made by another version; rebuilt from the segment files", self.path)
            except sqlite3.DatabaseError as error:
                log.warning("%s: cannot be read (%s); rebuilt from the segment files", self.path, error)
            remove_files(self.path)
        return _created(str(self.path))

    def files(self) -> dict[int, str]:
        """What was recorded of each segment file after its last write (see ``seen``)."""
        with self._used():
            return {int(number): str(state) for number, state in self._db.execute("SELECT segment, seen FROM files")}

    def segment_of(self, record_id: str) -> int | None:
        with self._used():
            row = self._db.execute("SELECT segment FROM ids WHERE id = ?", [record_id]).fetchone()
        return None if row is None else int(row[0])

    def segments_of(self, record_ids: Iterable[str]) -> dict[str, int]:
        """The segment each of these ids may be in; ids the index does not hold are in no segment."""
        wanted = list(dict.fromkeys(record_ids))
        found: dict[str, int] = {}
        with self._used():
            for start in range(0, len(wanted), _MANY):
                part = wanted[start : start + _MANY]
                query = f"SELECT id, segment FROM ids WHERE id IN ({','.join('?' * len(part))})"
                found.update((str(record_id), int(number)) for record_id, number in self._db.execute(query, part))
        return found

    def add(self, record_ids: Iterable[str], segment: int) -> None:
        """Before ``segment`` is written with these ids: if they cannot be added, the segment is not written."""
        with self._used(), self._db:
            self._db.executemany("INSERT OR REPLACE INTO ids VALUES (?, ?)", [(i, segment) for i in record_ids])

    def add_segments(self, found: dict[int, tuple[list[str], str]]) -> None:
        """Segments read at start: the ids each holds, and what its file was when read."""
        with self._used(), self._db:
            for segment, (record_ids, state) in found.items():
                self._db.executemany("INSERT OR REPLACE INTO ids VALUES (?, ?)", [(i, segment) for i in record_ids])
                self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?)", [segment, state])

    def written(self, segment: int, state: str | None) -> None:
        """After ``segment`` was written: what its file is now. Not recording it only costs a read at start."""
        try:
            with self._used(), self._db:
                if state is None:
                    self._db.execute("DELETE FROM files WHERE segment = ?", [segment])
                else:
                    self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?)", [segment, state])
        except OSError as error:  # a full disk: the segment is written all the same
            log.warning(
                "%s: segment %d not recorded (%s); it is read again at the next start", self.path, segment, error
            )

    def forget(self, record_ids: Iterable[str]) -> None:
        """After these ids left their segments (an id left behind only costs a read that finds nothing)."""
        try:
            with self._used(), self._db:
                self._db.executemany("DELETE FROM ids WHERE id = ?", [(i,) for i in record_ids])
        except OSError as error:
            log.warning("%s: removed ids not forgotten (%s)", self.path, error)

    def close(self) -> None:
        if self._open is not None and self.path is not None:  # in memory, closing would lose it
            self._open.close()
            self._open = None


def remove_files(path: Path) -> None:
    """Derived data: nothing here that the segments do not hold."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _created(where: str) -> sqlite3.Connection:
    db = sqlite3.connect(where, check_same_thread=False)
    if where != ":memory:":
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
    with db:
        for statement in _SCHEMA:
            db.execute(statement)
    return db

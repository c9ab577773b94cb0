"""The embedded store: TinyDB's human-readable JSON files, used within TinyDB's limits.

TinyDB's own JSONStorage rewrites the whole file on every insert (slower as data grows), writes in
place (a crash mid-write leaves an unreadable file) and lets two processes lose each other's
records. So, per collection:

- records go into numbered segment files of at most a few hundred records (``quiz.store.segments``);
  only the newest takes inserts, so a write costs the same at 100 records as at 1,000,000;
- every write goes to a temporary file that is fsynced and then renamed over the segment (atomic on
  POSIX), then the folder is fsynced: after a crash each file is the old or the new version, whole;
- one process writes a data folder: a lock file held for the store's life makes a second server
  refuse to start with a message, instead of corrupting data;
- each collection's index of ids (``quiz.store.index``, derived data) lets a start read only the
  segment files written or changed since the index last recorded them (none after a clean stop), so
  starting costs the same at 100 records as at 1,000,000; a missing or damaged index is rebuilt by
  one scan, which is also how a data folder from before the index gets one;
- a damaged file is never replaced: one the start reads (see above) stops the start with its name;
  one the store wrote whole and that went bad since (a disk fault, an edit while the server runs) is
  named by the read or write that meets it, which fails and leaves it as it is;
- a transaction of several writes is first written whole to ``transaction.json``, then applied,
  then that file is deleted: a crash or a full disk half-way is finished from it (at the next write
  or start), so an opt-in's consent row never stays without its lead;
- temporary files a crash left behind (they may hold erased addresses) are deleted at start.

Funnel events given to ``add_soon`` are kept in memory and written at most ``FLUSH_SECONDS`` later
(a crash loses at most that much of them); everything else is durable on return.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from quiz.store.base import (
    COLLECTION_NAME,
    Record,
    StoreError,
    StoreLocked,
    Writes,
    check_collection,
    matches,
    older,
)
from quiz.store.batch import Batch, Changes, new_id
from quiz.store.files import fsync_folders, write_atomically
from quiz.store.segments import Collection

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
JOURNAL = "transaction.json"


@dataclass
class _Queued:
    collection: str
    record: Record
    only_if_new: bool = False  # insert_new: kept only if no record has the id
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    inserted: bool = False


class TinyStore:
    """The embedded store in ``folder`` (the settings' data folder), for one writer process."""

    shared = False

    def __init__(self, folder: Path, *, read_only: bool = False) -> None:
        """``read_only`` opens it next to the running server's writer (an export): no lock, no writes.

        A reader sees each file whole, old or new, because every write is an atomic rename.
        """
        self.folder = folder
        self.where = str(folder)
        self.read_only = read_only
        # Not thread-local: the server opens the store in one thread and may close it in another.
        self._lock = FileLock(str(folder / "writer.lock"), thread_local=False)
        if read_only:
            if not folder.is_dir():
                raise StoreError(f"{folder}: no data folder here (check QUIZ_DATA_DIR)")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            try:
                self._lock.acquire(timeout=0)
            except Timeout:
                raise StoreLocked(
                    f"{folder} is in use by another quiz server; give each server its own QUIZ_DATA_DIR, "
                    "or share a PostgreSQL store (QUIZ_STORE_URL) between them"
                ) from None
        self._guard = threading.RLock()
        self._collections: dict[str, Collection] = {}
        self._pending: dict[str, list[Record]] = {}
        self._waiting = threading.Lock()  # guards _pending only: add_soon never waits for a disk write
        self._queued: list[_Queued] = []  # durable puts waiting for the writer (group commit)
        self._unfinished = (folder / JOURNAL).exists()  # a transaction the journal must finish first
        self._queue_lock = threading.Lock()
        self._closed = threading.Event()
        try:
            self._open_collections()
            if not read_only:
                self._finish_transaction()  # one a crash or a full disk interrupted
        except BaseException:
            for collection in self._collections.values():
                collection.close()
            if not read_only:
                self._lock.release()
            raise
        self._flusher = threading.Thread(target=self._flush_every_second, name="store-flush", daemon=True)
        if not read_only:
            self._flusher.start()

    def _open_collections(self) -> None:
        for path in sorted(self.folder.iterdir()):
            if path.is_dir() and COLLECTION_NAME.match(path.name):
                if not self.read_only:
                    for temporary in path.glob(".*.tmp"):
                        temporary.unlink()  # a crash's half-written copy: it may hold an erased address
                # The writer's index is brought up to date now: the segments it has not seen are read,
                # and a damaged one among them stops the start, named. The others are read when used.
                self._collections[path.name] = Collection(path, indexed=not self.read_only)

    # --- single writes ------------------------------------------------------------------------------

    def add(self, collection: str, record: Record) -> str:
        record_id = new_id()
        self.put(collection, record_id, record)
        return record_id

    def add_soon(self, collection: str, record: Record) -> None:
        if self.read_only or collection not in self._collections:
            with self._guard:
                self._collection(collection, writing=True)  # a bad name fails now, in the request, not later
        with self._waiting:
            self._pending.setdefault(collection, []).append({"id": new_id(), **record})

    def put(self, collection: str, record_id: str, record: Record) -> None:
        """Durable on return, written together with the puts of other threads waiting meanwhile.

        Group commit: each caller queues its record, then takes the writer's lock; whoever holds it
        writes everything queued (one segment write and fsync for a burst of completed quizzes), so
        the others find theirs done.
        """
        self._commit_in_group(_Queued(collection, {**record, "id": record_id}))

    def _commit_in_group(self, mine: _Queued) -> _Queued:
        self._write_if_waiting(mine.collection, mine.record["id"])  # else the buffered copy, written later, would win
        self._collection(mine.collection, writing=True)  # a bad name or a reader fails here, alone
        with self._queue_lock:
            self._queued.append(mine)
        with self._guard:
            if not mine.done.is_set():
                self._write_queued()
        if mine.error is not None:
            raise mine.error
        return mine

    def put_many(self, collection: str, records: list[Record]) -> None:
        with self._guard:
            self._put_records(collection, records)

    def insert_new(self, collection: str, record_id: str, record: Record) -> bool:
        """Committed in a group with other puts too (webhook event ids arrive in bursts)."""
        queued = _Queued(collection, {**record, "id": record_id}, only_if_new=True)
        return self._commit_in_group(queued).inserted

    def get(self, collection: str, record_id: str) -> Record | None:
        waiting = self._waiting_record(collection, record_id)  # read your own writes, buffered or not
        if waiting is not None:
            return waiting
        with self._guard:
            return self._collection(collection).get(record_id)

    def get_many(self, collection: str, record_ids: list[str]) -> dict[str, Record]:
        wanted = set(record_ids)
        with self._waiting:  # read your own writes, buffered or not
            waiting = {r["id"]: dict(r) for r in self._pending.get(collection, ()) if r["id"] in wanted}
        with self._guard:
            stored = self._collection(collection).get_many([i for i in record_ids if i not in waiting])
        return {**stored, **waiting}

    def update(self, collection: str, record_id: str, changes: Record) -> bool:
        self._write_if_waiting(collection, record_id)
        with self._guard:
            try:
                self._collection(collection, writing=True).update(record_id, changes)
            except KeyError:
                return False
            return True

    def swap(self, collection: str, record_id: str, expected: Record, changes: Record) -> Record | None:
        with self._guard:  # one writer process: the lock makes compare-and-set whole
            current = self.get(collection, record_id)
            if current is None or not matches(current, expected):
                return None
            self.update(collection, record_id, changes)
            return current

    def increment(self, collection: str, record_id: str, field: str, record: Record) -> int:
        with self._guard:
            current = self.get(collection, record_id) or record
            count = int(current.get(field, 0)) + 1
            self.put(collection, record_id, {**current, field: count})
            return count

    def _write_queued(self) -> None:
        """Under the guard: write every queued put, a collection at a time, and tell each caller how it went."""
        with self._queue_lock:
            taken, self._queued = self._queued, []
        by_collection: dict[str, list[_Queued]] = {}
        for item in taken:
            by_collection.setdefault(item.collection, []).append(item)
        for collection, items in by_collection.items():
            error: BaseException | None = None
            try:
                target = self._collection(collection, writing=True)
                stored = target.present(item.record["id"] for item in items if item.only_if_new)
                kept: dict[str, _Queued] = {}
                for item in items:  # in the order they came: of two inserts of one id, the first is new
                    record_id = item.record["id"]
                    item.inserted = not item.only_if_new or (record_id not in stored and record_id not in kept)
                    if item.inserted:
                        kept[record_id] = item
                self._put_records(collection, [item.record for item in kept.values()])
            except BaseException as failed:  # each waiter raises it: none of their records is acknowledged
                error = failed
            for item in items:
                item.error = error
                item.done.set()

    def _put_records(self, collection: str, records: list[Record]) -> None:
        target = self._collection(collection, writing=True)
        by_id = {str(record["id"]): dict(record) for record in records}  # the last of one id wins
        stored = target.present(by_id)
        for record_id, record in by_id.items():
            if record_id in stored:
                target.put(record)
        target.insert([record for record_id, record in by_id.items() if record_id not in stored])

    def _waiting_record(self, collection: str, record_id: str) -> Record | None:
        with self._waiting:
            return next((dict(r) for r in self._pending.get(collection, ()) if r["id"] == record_id), None)

    def _write_if_waiting(self, collection: str, record_id: str) -> None:
        if self._waiting_record(collection, record_id) is not None:
            self.flush()

    # --- reading and removing many ------------------------------------------------------------------

    def find(self, collection: str, **equals: Any) -> list[Record]:
        if set(equals) == {"id"}:
            found = self.get(collection, equals["id"]) if isinstance(equals["id"], str) else None
            return [found] if found is not None else []
        return [record for record in self.records(collection) if matches(record, equals)]

    def records(self, collection: str) -> Iterator[Record]:
        if self.read_only and not (self.folder / collection).is_dir():
            return  # nothing written yet; a reader creates no folders
        with contextlib.suppress(OSError):  # a full disk must not stop reading what is already there
            self.flush(collection)  # its own buffered records only: the outbox is polled every second
        with self._guard:
            records = self._collection(collection)
            numbers = list(records.segments)
        for number in numbers:
            # One segment at a time under the lock: the flusher may insert while an export reads.
            with self._guard:
                batch = records.segment_records(number)
            yield from batch

    def count(self, collection: str) -> int:
        return sum(1 for _ in self.records(collection))

    def collections(self) -> list[str]:
        with self._guard:
            names = [path.name for path in self.folder.iterdir() if path.is_dir() and COLLECTION_NAME.match(path.name)]
        return sorted(name for name in names if next(iter(self.records(name)), None) is not None)

    def remove(self, collection: str, **equals: Any) -> int:
        self.flush()
        with self._guard:
            records = self._collection(collection, writing=True)
            if set(equals) == {"id"}:  # one record: its segment alone, found through the index
                return records.delete([equals["id"]]) if isinstance(equals["id"], str) else 0
            return records.remove(lambda record: matches(record, equals))

    def remove_older(self, collection: str, field: str, before: float) -> int:
        self.flush()
        with self._guard:
            return self._collection(collection, writing=True).remove(lambda record: older(record, field, before))

    # --- transactions -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, *keys: str) -> Iterator[Writes]:
        """Keys are not needed: one writer process, and this lock makes every transaction run alone."""
        if self.read_only:
            raise StoreError(f"{self.folder} was opened read-only; stop the server to change it")
        with self._guard:
            batch = Batch(self)
            yield batch
            self._commit(batch.changes)

    def _commit(self, changes: Changes) -> None:
        if not changes:
            return
        self._finish_transaction()  # an earlier one first: they apply in order
        if len(changes) > 1:
            # The whole transaction on disk first: applied half-way, it is finished from this file.
            entries = [[collection, record_id, record] for (collection, record_id), record in changes.items()]
            write_atomically(self.folder / JOURNAL, _json(entries))
        try:
            self._apply(changes)
        except BaseException:
            self._unfinished = len(changes) > 1  # the next write finishes it from the journal
            raise
        self._journal_done()

    def _finish_transaction(self) -> None:
        """Apply what a transaction cut short left in the journal: at start, and before any later write.

        Before any write, not only the next transaction: else a later plain write (a sent message's
        removal) would be undone when the journal is applied after it.
        """
        path = self.folder / JOURNAL
        try:
            entries = json.loads(path.read_bytes())
        except FileNotFoundError:
            self._unfinished = False
            return
        except (OSError, ValueError) as error:
            raise StoreError(f"{path}: cannot be read ({error}); it was left as it is, fix or move it") from None
        self._unfinished = False  # so the writes below do not come back here
        try:
            self._apply({(collection, record_id): record for collection, record_id, record in entries})
        except BaseException:
            self._unfinished = True
            raise
        self._journal_done()

    def _apply(self, changes: Changes) -> None:
        """Every change is a whole record or a deletion, so applying one again changes nothing."""
        for (collection, record_id), record in changes.items():
            if record is None:
                self._write_if_waiting(collection, record_id)  # a buffered copy, written later, would undo it
                self._collection(collection, writing=True).delete([record_id])
            else:
                self.put(collection, record_id, record)

    def _journal_done(self) -> None:
        path = self.folder / JOURNAL
        if path.exists():
            path.unlink()
            fsync_folders([self.folder])
        self._unfinished = False

    # --- the buffer and the end ---------------------------------------------------------------------

    def flush(self, collection: str | None = None) -> None:
        """Write the buffered records: of every collection, or of ``collection`` alone."""
        with self._guard:
            with self._waiting:
                if collection is None:
                    taken, self._pending = self._pending, {}
                else:
                    taken = {collection: self._pending.pop(collection)} if collection in self._pending else {}
            try:
                for name, records in taken.items():
                    target = self._collections[name]
                    stored = target.present(record["id"] for record in records)
                    for record in [record for record in records if record["id"] in stored]:
                        target.put(record)  # an id already stored (a response kept before): replaced, not doubled
                        records.remove(record)
                    target.insert(records)  # takes out of ``records`` what it wrote
            finally:
                self._requeue({name: records for name, records in taken.items() if records})

    def _requeue(self, unwritten: dict[str, list[Record]]) -> None:
        """Put back what a failed flush did not write, ahead of what came in meanwhile."""
        if not unwritten:
            return
        with self._waiting:
            for collection, records in self._pending.items():
                unwritten.setdefault(collection, []).extend(records)
            self._pending = unwritten

    def close(self) -> None:
        if self.read_only:
            return
        self._closed.set()
        self._flusher.join(timeout=5)
        self.flush()
        with self._guard:
            for collection in self._collections.values():
                collection.close()
        self._lock.release()

    def _collection(self, name: str, *, writing: bool = False) -> Collection:
        if writing and self.read_only:
            raise StoreError(f"{self.folder} was opened read-only; stop the server to change it")
        if writing and self._unfinished:
            with self._guard:
                self._finish_transaction()
        if name not in self._collections:
            with self._guard:  # once: the writer's opens the collection's index file
                if name not in self._collections:
                    self._collections[check_collection(name)] = Collection(
                        self.folder / name, indexed=not self.read_only
                    )
        return self._collections[name]

    def _flush_every_second(self) -> None:
        said = ""
        while not self._closed.wait(FLUSH_SECONDS):
            # A full or read-only disk: the events stay pending and the next flush retries. A damaged
            # file is named here (and to the requests that meet it) until it is mended.
            try:
                self.flush()
            except OSError:
                pass
            except StoreError as error:
                if str(error) != said:  # once, not every second
                    log.error("buffered records not written: %s", error)
                said = str(error)
            else:
                said = ""


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

"""One collection of the embedded store on disk: numbered TinyDB segment files, each replaced whole.

TinyDB's own JSONStorage rewrites the whole file on every insert and writes in place; here a
collection is a folder of segment files of at most ``SEGMENT_SIZE`` records, only the newest taking
inserts, and every write replaces a file atomically (``quiz.store.files``). ``quiz.store.tiny``
builds the store on these, with its locks, buffer and transactions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document

from quiz.store.base import Record, StoreError
from quiz.store.files import fsync_folders, write_atomically

SEGMENT_SIZE = 500
# Collections written one record at a time on a shopper's path (a completed quiz, a queued message):
# each write rewrites a segment, so theirs are smaller (measured: 2.6 ms a put at 500, 1.2 ms at 100).
# The dashboard's day records are large and each read decodes its whole segment: theirs hold 8.
SMALL_SEGMENTS = {"outbox": 16, "responses": 100, "line_codes": 100, "rollups": 8}
TABLE = "records"
_SEGMENT_NAME = re.compile(r"^(\d{6})\.json$")


class AtomicJSONStorage(Storage):
    """TinyDB storage that replaces its file atomically and keeps the last state in memory."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._state: dict[str, dict[str, Any]] | None = None

    def read(self) -> dict[str, dict[str, Any]] | None:
        if self._state is None:
            self._state = _load_segment(self.path)
        return self._state

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        try:
            write_atomically(self.path, _json(data))
        except BaseException:
            self._state = None  # TinyDB changed the cached state; the file did not: read it again
            raise
        self._state = data


def _load_segment(path: Path) -> dict[str, dict[str, Any]] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None  # not written yet, or emptied and deleted by the writer since a reader listed it
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StoreError(f"{path}: cannot be read ({error}); it was left as it is, fix or move it") from None
    if not isinstance(data, dict) or not all(isinstance(table, dict) for table in data.values()):
        raise StoreError(f"{path}: is not a TinyDB file; it was left as it is, fix or move it")
    return data


class Collection:
    """One collection's segment files; the newest is open for inserts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        names = (_SEGMENT_NAME.match(path.name) for path in folder.iterdir())
        self.segments = sorted(int(match[1]) for match in names if match)
        self._where: dict[str, int] | None = None
        if not self.segments:
            self.segments.append(1)
        self._newest = self._database(self.segments[-1])

    @property
    def where(self) -> dict[str, int]:
        """Record id -> segment number, built on first use: an export that only streams never needs it."""
        if self._where is None:
            self.load_index()
        assert self._where is not None
        return self._where

    def load_index(self) -> None:
        self._where = {}
        for number in self.segments:
            for record in self._table(number).all():
                self._where[record["id"]] = number

    def _database(self, number: int) -> TinyDB:
        return TinyDB(str(self.folder / f"{number:06d}.json"), storage=AtomicJSONStorage)

    def _table(self, number: int) -> Any:
        return self._database(number).table(TABLE, cache_size=0)

    def insert(self, records: list[Record]) -> None:
        """Write ``records``, removing each batch from the list once it is on disk (a retry resumes there)."""
        while records:
            table = self._newest.table(TABLE, cache_size=0)
            size = SMALL_SEGMENTS.get(self.folder.name, SEGMENT_SIZE)
            room = size - len(table)
            if room <= 0:
                self.segments.append(self.segments[-1] + 1)
                self._newest = self._database(self.segments[-1])
                table, room = self._newest.table(TABLE, cache_size=0), size
            batch = records[:room]
            table.insert_multiple(batch)
            for record in batch:
                self.where[record["id"]] = self.segments[-1]
            del records[:room]

    def get(self, record_id: str) -> Record | None:
        number = self.where.get(record_id)
        if number is None:
            return None
        found = self._table_for(number).get(lambda record: record["id"] == record_id)
        return dict(found) if isinstance(found, Document) else None

    def get_many(self, record_ids: list[str]) -> dict[str, Record]:
        """The records of those ids, each segment file read once however many of its records are asked."""
        by_segment: dict[int, set[str]] = {}
        for record_id in record_ids:
            number = self.where.get(record_id)
            if number is not None:
                by_segment.setdefault(number, set()).add(record_id)
        found: dict[str, Record] = {}
        for number, wanted in by_segment.items():
            for document in self._table_for(number).search(_one_of(wanted)):
                found[document["id"]] = dict(document)
        return found

    def put(self, record: Record) -> None:
        number = self.where.get(record["id"])
        if number is None:
            self.insert([record])
            return
        table = self._table_for(number)
        (document,) = table.search(lambda stored: stored["id"] == record["id"])

        def replace(stored: dict[str, Any]) -> None:
            stored.clear()
            stored.update(record)

        table.update(replace, doc_ids=[document.doc_id])

    def update(self, record_id: str, changes: Record) -> None:
        number = self.where.get(record_id)
        if number is None:
            raise KeyError(record_id)
        table = self._table_for(number)
        (document,) = table.search(lambda stored: stored["id"] == record_id)
        table.update({**changes, "id": record_id}, doc_ids=[document.doc_id])

    def delete(self, ids: list[str]) -> int:
        """Delete these records, reading only the segments that hold them."""
        by_segment: dict[int, list[str]] = {}
        for record_id in ids:
            if record_id in self.where:
                by_segment.setdefault(self.where[record_id], []).append(record_id)
        removed = 0
        for number, found in by_segment.items():
            removed += self._remove_from(number, _one_of(set(found)))
        return removed

    def segment_records(self, number: int) -> list[Record]:
        return [dict(document) for document in self._table_for(number).all()]

    def remove(self, matches: Callable[[Record], bool]) -> int:
        return sum(self._remove_from(number, matches) for number in list(self.segments))

    def _remove_from(self, number: int, matches: Callable[[Record], bool]) -> int:
        table = self._table_for(number)
        found = [document for document in table.all() if matches(dict(document))]
        if not found:
            return 0
        for document in found:
            self.where.pop(document["id"], None)
        table.remove(doc_ids=[document.doc_id for document in found])  # rewritten whole: no old copy
        if len(table) == 0 and number != self.segments[-1]:
            self._delete_segment(number)  # pruned collections would otherwise leave empty files behind
        return len(found)

    def _delete_segment(self, number: int) -> None:
        (self.folder / f"{number:06d}.json").unlink()
        fsync_folders([self.folder])
        self.segments.remove(number)

    def _table_for(self, number: int) -> Any:
        if number == self.segments[-1]:
            return self._newest.table(TABLE, cache_size=0)
        return self._table(number)


def _one_of(ids: set[str]) -> Callable[[Record], bool]:
    return lambda record: record["id"] in ids


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

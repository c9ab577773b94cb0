"""One collection of the embedded store on disk: numbered TinyDB segment files, each replaced whole.

TinyDB's own JSONStorage rewrites the whole file on every insert and writes in place; here a
collection is a folder of segment files of at most ``SEGMENT_SIZE`` records, only the newest taking
inserts, and every write replaces a file atomically (``quiz.store.files``). ``quiz.store.tiny``
builds the store on these, with its locks, buffer and transactions.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document

from quiz.store.base import Record, StoreError
from quiz.store.decoding import loads
from quiz.store.files import fsync_folders, write_atomically
from quiz.store.index import NAME as INDEX
from quiz.store.index import Index, IndexDamaged, seen

log = logging.getLogger(__name__)

SEGMENT_SIZE = 500
# Collections written one record at a time on a shopper's path (a completed quiz, a queued message):
# each write rewrites a segment, so theirs are smaller (measured: 2.6 ms a put at 500, 1.2 ms at 100).
# The dashboard's day records are large and each read decodes its whole segment: theirs hold 8.
SMALL_SEGMENTS = {"outbox": 16, "responses": 100, "line_codes": 100, "rollups": 8}
TABLE = "records"
_READ_AT_ONCE = 50  # segment files read into the index per commit, when it has not seen them
_SEGMENT_NAME = re.compile(r"^(\d{6})\.json$")


class AtomicJSONStorage(Storage):
    """TinyDB storage that replaces its file atomically and keeps the last state in memory.

    ``written`` is told the path after each write (the index records what the file is now).
    """

    def __init__(self, path: str, written: Callable[[Path], None] | None = None) -> None:
        self.path = Path(path)
        self._state: dict[str, dict[str, Any]] | None = None
        self._written = written

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
        if self._written is not None:
            self._written(self.path)


def _load_segment(path: Path) -> dict[str, dict[str, Any]] | None:
    try:
        data = loads(path.read_bytes())
    except FileNotFoundError:
        return None  # not written yet, or emptied and deleted by the writer since a reader listed it
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StoreError(f"{path}: cannot be read ({error}); it was left as it is, fix or move it") from None
    if not isinstance(data, dict) or not all(isinstance(table, dict) for table in data.values()):
        raise StoreError(f"{path}: is not a TinyDB file; it was left as it is, fix or move it")
    return data


class Collection:
    """One collection's segment files; the newest is open for inserts.

    ``indexed``: keep the index of ids in the folder and bring it up to date now (the writer); else it
    is made in memory by reading every segment, the first time an id is looked up (a reader, which
    writes nothing, and mostly only streams).
    """

    def __init__(self, folder: Path, *, indexed: bool = False) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        names = (_SEGMENT_NAME.match(path.name) for path in folder.iterdir())
        self.segments = sorted(int(match[1]) for match in names if match)
        if not self.segments:
            self.segments.append(1)
        self._newest = self._database(self.segments[-1])
        self._index: Index | None = None
        if indexed:
            self._index = self._opened_index(folder / INDEX)

    @property
    def index(self) -> Index:
        if self._index is None:
            self._index = self._brought_up_to_date(Index(None))
        return self._index

    def _opened_index(self, path: Path) -> Index:
        """The writer's index, up to date; one found damaged now is rebuilt at once, by one scan."""
        try:
            return self._brought_up_to_date(Index(path))
        except IndexDamaged:  # it removed its files
            log.warning("%s: rebuilding the index of record ids from the segment files", self.folder)
            return self._brought_up_to_date(Index(path))

    def _brought_up_to_date(self, index: Index) -> Index:
        """Read the segments the index has not seen as they are now: none after a clean stop, all if it is new.

        A damaged one among them stops the start with its name (``StoreError``); it is not replaced.
        """
        recorded = index.files()
        now = {number: seen(self._path(number)) for number in self.segments}
        changed = [number for number, state in now.items() if state is not None and recorded.get(number) != state]
        for start in range(0, len(changed), _READ_AT_ONCE):
            found = {
                number: ([str(record["id"]) for record in self.segment_records(number)], str(now[number]))
                for number in changed[start : start + _READ_AT_ONCE]
            }
            index.add_segments(found)  # one commit for many: a rebuild adds a million ids
        for number in set(recorded) - set(self.segments):
            index.written(number, None)  # deleted (emptied by a removal, or by hand): its ids find nothing
        if len(changed) > 1:
            log.info("%s: read %d segment files the index had not seen", self.folder, len(changed))
        return index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()

    def _path(self, number: int) -> Path:
        return self.folder / f"{number:06d}.json"

    def _database(self, number: int) -> TinyDB:
        return TinyDB(str(self._path(number)), storage=AtomicJSONStorage, written=self._written)

    def _written(self, path: Path) -> None:
        if self._index is not None:  # a reader writes nothing
            self._index.written(int(path.stem), seen(path))

    def _table(self, number: int) -> Any:
        return self._database(number).table(TABLE, cache_size=0)

    def present(self, record_ids: Iterable[str]) -> set[str]:
        """Which of these ids are stored: the index's hits, each checked in its segment (read once)."""
        found: set[str] = set()
        for number, wanted in self._by_segment(record_ids).items():
            found |= wanted & {str(document["id"]) for document in self._table_for(number).all()}
        return found

    def _by_segment(self, record_ids: Iterable[str]) -> dict[int, set[str]]:
        """The ids the index places in a segment that exists, by segment (each hit is still to be checked there)."""
        by_segment: dict[int, set[str]] = {}
        for record_id, number in self.index.segments_of(record_ids).items():
            if number in self.segments:
                by_segment.setdefault(number, set()).add(record_id)
        return by_segment

    def insert(self, records: list[Record]) -> None:
        """Write new ``records``, removing each batch from the list once it is on disk (a retry resumes there)."""
        while records:
            table = self._newest.table(TABLE, cache_size=0)
            size = SMALL_SEGMENTS.get(self.folder.name, SEGMENT_SIZE)
            room = size - len(table)
            if room <= 0:
                self.segments.append(self.segments[-1] + 1)
                self._newest = self._database(self.segments[-1])
                table, room = self._newest.table(TABLE, cache_size=0), size
            batch = records[:room]
            if self._index is not None:  # before the segment: the index never misses an id on disk
                self._index.add([record["id"] for record in batch], self.segments[-1])
            table.insert_multiple(batch)
            del records[:room]

    def _located(self, record_id: str) -> tuple[Any, Document] | None:
        """The table and document of ``record_id``, where the index says it is and it really is."""
        number = self.index.segment_of(record_id)
        if number is None or number not in self.segments:
            return None
        table = self._table_for(number)
        found = table.get(lambda record: record["id"] == record_id)
        return (table, found) if isinstance(found, Document) else None

    def get(self, record_id: str) -> Record | None:
        located = self._located(record_id)
        return dict(located[1]) if located is not None else None

    def get_many(self, record_ids: list[str]) -> dict[str, Record]:
        """The records of those ids, each segment file read once however many of its records are asked."""
        found: dict[str, Record] = {}
        for number, wanted in self._by_segment(record_ids).items():
            for document in self._table_for(number).search(_one_of(wanted)):
                found[document["id"]] = dict(document)
        return found

    def put(self, record: Record) -> None:
        located = self._located(record["id"])
        if located is None:
            self.insert([record])
            return
        table, document = located

        def replace(stored: dict[str, Any]) -> None:
            stored.clear()
            stored.update(record)

        table.update(replace, doc_ids=[document.doc_id])

    def update(self, record_id: str, changes: Record) -> None:
        located = self._located(record_id)
        if located is None:
            raise KeyError(record_id)
        table, document = located
        table.update({**changes, "id": record_id}, doc_ids=[document.doc_id])

    def delete(self, ids: list[str]) -> int:
        """Delete these records, reading only the segments that hold them."""
        return sum(self._remove_from(number, _one_of(found)) for number, found in self._by_segment(ids).items())

    def segment_records(self, number: int) -> list[Record]:
        """One segment's records, decoded from its file without TinyDB's objects (an export reads millions)."""
        data = _load_segment(self._path(number)) or {}
        return list(data.get(TABLE, {}).values())

    def remove(self, matches: Callable[[Record], bool]) -> int:
        return sum(self._remove_from(number, matches) for number in list(self.segments))

    def _remove_from(self, number: int, matches: Callable[[Record], bool]) -> int:
        table = self._table_for(number)
        found = [document for document in table.all() if matches(dict(document))]
        if not found:
            return 0
        table.remove(doc_ids=[document.doc_id for document in found])  # rewritten whole: no old copy
        if self._index is not None:
            self._index.forget(str(document["id"]) for document in found)
        if len(table) == 0 and number != self.segments[-1]:
            self._delete_segment(number)  # pruned collections would otherwise leave empty files behind
        return len(found)

    def _delete_segment(self, number: int) -> None:
        self._path(number).unlink()
        fsync_folders([self.folder])
        self.segments.remove(number)
        self._written(self._path(number))

    def _table_for(self, number: int) -> Any:
        if number == self.segments[-1]:
            return self._newest.table(TABLE, cache_size=0)
        return self._table(number)


def _one_of(ids: set[str]) -> Callable[[Record], bool]:
    return lambda record: record["id"] in ids


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

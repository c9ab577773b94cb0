"""The embedded store's index of ids: a superset written first, checked on each hit, rebuilt when lost."""

import json
import sqlite3

import pytest

from quiz.store import files, segments
from quiz.store.base import StoreError
from quiz.store.index import NAME
from quiz.store.tiny import TinyStore


def filled(folder, count):
    """A store folder with ``count`` leads, written a segment at a time, and the store closed."""
    store = TinyStore(folder)
    store.put_many("leads", [{"id": f"lead{number}", "email": f"{number}@example.com"} for number in range(count)])
    store.close()


def reads_of_segments(monkeypatch):
    """The segment files read whole from now on, by number."""
    read = []
    original = segments.Collection.segment_records

    def counted(self, number):
        read.append(number)
        return original(self, number)

    monkeypatch.setattr(segments.Collection, "segment_records", counted)
    return read


def test_a_start_after_a_clean_stop_reads_no_segment(tmp_path, monkeypatch):
    filled(tmp_path, 2_000)
    read = reads_of_segments(monkeypatch)
    store = TinyStore(tmp_path)
    assert read == []
    assert store.get("leads", "lead1234")["email"] == "1234@example.com"
    store.close()


def test_insert_new_after_a_restart_at_scale_knows_every_stored_id(tmp_path, monkeypatch):
    filled(tmp_path, 20_000)  # 40 segment files
    read = reads_of_segments(monkeypatch)
    store = TinyStore(tmp_path)
    assert not store.insert_new("leads", "lead7", {"email": "again@example.com"})
    assert not store.insert_new("leads", "lead19999", {"email": "again@example.com"})
    assert store.insert_new("leads", "lead20000", {"email": "new@example.com"})
    assert read == []  # hits are checked in their own segment file; a miss reads none
    store.close()
    store = TinyStore(tmp_path)
    assert store.get("leads", "lead7")["email"] == "7@example.com"
    assert store.get("leads", "lead20000")["email"] == "new@example.com"
    assert store.count("leads") == 20_001
    store.close()


def test_a_crash_between_the_index_and_the_segment_write_hides_nothing_and_invents_nothing(tmp_path, monkeypatch):
    filled(tmp_path, 10)
    store = TinyStore(tmp_path)

    def crash(path, data):
        raise OSError(28, "No space left on device")  # as a kill after the index took the id: no segment write

    monkeypatch.setattr(segments, "write_atomically", crash)
    with pytest.raises(OSError):
        store.put("leads", "lost", {"email": "lost@example.com"})
    monkeypatch.setattr(segments, "write_atomically", files.write_atomically)
    store.close()
    store = TinyStore(tmp_path)
    assert store.get("leads", "lost") is None  # the index names a segment; the segment does not hold it
    assert store.find("leads", email="lost@example.com") == []
    assert store.update("leads", "lost", {"email": "x"}) is False
    assert store.remove("leads", id="lost") == 0
    assert store.insert_new("leads", "lost", {"email": "found@example.com"})
    assert store.get("leads", "lost")["email"] == "found@example.com"
    store.close()


def test_a_segment_written_after_the_index_last_reached_the_disk_is_read_again_at_start(tmp_path, monkeypatch):
    filled(tmp_path, 1_200)  # 3 segments
    with sqlite3.connect(tmp_path / "leads" / NAME) as index:  # as if a power cut lost the index's last writes
        index.execute("DELETE FROM ids WHERE segment = 3")
        index.execute("DELETE FROM files WHERE segment = 3")
    read = reads_of_segments(monkeypatch)
    store = TinyStore(tmp_path)
    assert read == [3]
    assert not store.insert_new("leads", "lead1100", {"email": "again@example.com"})
    assert store.get("leads", "lead1100")["email"] == "1100@example.com"
    store.close()


def test_a_segment_edited_by_hand_is_read_again_at_start(tmp_path):
    filled(tmp_path, 600)
    path = tmp_path / "leads" / "000001.json"
    data = json.loads(path.read_text())
    data["records"]["9999"] = {"id": "restored", "email": "restored@example.com"}
    path.write_text(json.dumps(data))
    store = TinyStore(tmp_path)
    assert store.get("leads", "restored")["email"] == "restored@example.com"
    store.close()


@pytest.mark.parametrize("damage", ["missing", "garbage", "empty", "other version", "no table", "pages"])
def test_a_missing_or_damaged_index_is_rebuilt_from_the_segments(tmp_path, monkeypatch, damage):
    filled(tmp_path, 1_200)
    index = tmp_path / "leads" / NAME
    if damage == "missing":
        index.unlink()
    elif damage == "garbage":
        index.write_bytes(b"not a database at all" * 100)
    elif damage == "empty":
        index.write_bytes(b"")
    elif damage == "other version":
        with sqlite3.connect(index) as db:
            db.execute("PRAGMA user_version = 99")
    elif damage == "no table":
        with sqlite3.connect(index) as db:
            db.execute("DROP TABLE files")
    else:  # its header whole, its pages garbage: SQLite opens it and fails on the first read
        whole = index.read_bytes()
        index.write_bytes(whole[:100] + b"\xff" * (len(whole) - 100))
    read = reads_of_segments(monkeypatch)
    store = TinyStore(tmp_path)
    assert sorted(read) == [1, 2, 3]  # one scan
    assert not store.insert_new("leads", "lead42", {"email": "again@example.com"})
    assert store.get("leads", "lead1199")["email"] == "1199@example.com"
    store.close()
    read.clear()
    TinyStore(tmp_path).close()
    assert read == []  # and kept from then on


def test_a_damaged_segment_the_index_has_not_seen_stops_the_start_named(tmp_path):
    filled(tmp_path, 1_200)
    (tmp_path / "leads" / NAME).unlink()
    segment = tmp_path / "leads" / "000002.json"
    damaged = segment.read_bytes()[:-10]
    segment.write_bytes(damaged)
    with pytest.raises(StoreError, match=r"000002\.json: cannot be read"):
        TinyStore(tmp_path)
    assert segment.read_bytes() == damaged  # left for the merchant to repair
    TinyStore(tmp_path / "elsewhere").close()


def test_a_damaged_segment_the_index_saw_whole_is_named_when_it_is_read(tmp_path):
    filled(tmp_path, 1_200)
    segment = tmp_path / "leads" / "000002.json"
    whole = segment.read_bytes()
    store = TinyStore(tmp_path)
    segment.write_bytes(whole[:-10])  # damaged behind the running store's back (a disk fault)
    with pytest.raises(StoreError, match=r"000002\.json: cannot be read"):
        store.get("leads", "lead700")
    with pytest.raises(StoreError, match=r"000002\.json: cannot be read"):
        store.put("leads", "lead700", {"email": "changed@example.com"})
    assert segment.read_bytes() == whole[:-10]  # never replaced
    store.close()


def test_ids_removed_are_forgotten_and_an_emptied_segment_leaves_the_index(tmp_path, monkeypatch):
    monkeypatch.setattr(segments, "SEGMENT_SIZE", 2)
    store = TinyStore(tmp_path)
    for number in range(5):
        store.put("leads", f"lead{number}", {"email": f"{number}@example.com"})
    assert store.remove("leads", id="lead0") == 1 and store.remove("leads", id="lead1") == 1
    store.close()
    with sqlite3.connect(tmp_path / "leads" / NAME) as index:
        assert {row[0] for row in index.execute("SELECT id FROM ids")} == {"lead2", "lead3", "lead4"}
        assert {row[0] for row in index.execute("SELECT segment FROM files")} == {2, 3}
    store = TinyStore(tmp_path)
    assert [record["id"] for record in store.records("leads")] == ["lead2", "lead3", "lead4"]
    store.close()


def test_a_reader_writes_no_index_and_finds_records_by_id(tmp_path):
    filled(tmp_path, 700)
    (tmp_path / "leads" / NAME).unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / "leads" / f"{NAME}{suffix}").unlink(missing_ok=True)
    reader = TinyStore(tmp_path, read_only=True)
    assert reader.get("leads", "lead650")["email"] == "650@example.com"
    reader.close()
    assert not (tmp_path / "leads" / NAME).exists()


class FailingConnection:
    """An index connection whose every statement fails as SQLite would, with ``code``."""

    def __init__(self, code):
        self.code = code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass

    def _fail(self, *args):
        error = sqlite3.OperationalError("database or disk is full" if self.code == 13 else "malformed")
        error.sqlite_errorcode = self.code
        raise error

    execute = executemany = _fail


def test_a_full_disk_under_the_index_fails_the_write_as_the_store_fails_any_write(tmp_path):
    filled(tmp_path, 10)
    store = TinyStore(tmp_path)
    store.get("leads", "lead1")
    store._collections["leads"].index._open = FailingConnection(sqlite3.SQLITE_FULL)
    with pytest.raises(OSError, match="disk is full"):
        store.put("leads", "new", {"email": "new@example.com"})
    store._collections["leads"].index._open = None  # the disk has room again
    store.put("leads", "new", {"email": "new@example.com"})
    assert store.get("leads", "new")["email"] == "new@example.com"
    store.close()


def test_an_index_found_damaged_while_serving_refuses_until_a_restart_rebuilds_it(tmp_path, caplog):
    filled(tmp_path, 1_200)
    store = TinyStore(tmp_path)
    index = store._collections["leads"].index
    index._open = FailingConnection(sqlite3.SQLITE_CORRUPT)
    with pytest.raises(StoreError, match=r"damaged.*restart the server"):
        store.get("leads", "lead7")
    with pytest.raises(StoreError, match="damaged"):  # not an empty index that would hide every lead
        store.insert_new("leads", "lead7", {"email": "twice@example.com"})
    assert not (tmp_path / "leads" / NAME).exists()
    store.close()
    store = TinyStore(tmp_path)
    assert store.get("leads", "lead7")["email"] == "7@example.com"
    assert not store.insert_new("leads", "lead7", {"email": "twice@example.com"})
    store.close()

"""The embedded store on real files: durable adds, flat segments, crashes, two processes, bad files."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from quiz.store import segments
from quiz.store import tiny as tinystore
from quiz.store.base import StoreError, StoreLocked
from quiz.store.tiny import TinyStore


@pytest.fixture
def store(tmp_path):
    opened = TinyStore(tmp_path / "data")
    yield opened
    opened.close()


def test_added_records_come_back_with_their_ids(store):
    first = store.add("leads", {"email": "a@example.com"})
    second = store.add("leads", {"email": "b@example.com"})
    assert first != second
    assert [record["email"] for record in store.records("leads")] == ["a@example.com", "b@example.com"]
    assert store.get("leads", first) == {"email": "a@example.com", "id": first}
    assert store.get("leads", "nope") is None


def test_update_sets_fields_and_keeps_the_id(store):
    lead = store.add("leads", {"email": "a@example.com", "status": "pending"})
    store.update("leads", lead, {"status": "subscribed", "id": "forged"})
    assert store.get("leads", lead) == {"email": "a@example.com", "status": "subscribed", "id": lead}


def test_put_inserts_then_replaces_in_place(store, monkeypatch):
    monkeypatch.setattr(segments, "SEGMENT_SIZE", 2)
    store.put("leads", "lead-a", {"email": "a@example.com", "status": "pending", "extra": 1})
    store.add("leads", {"email": "b@example.com"})
    store.add("leads", {"email": "c@example.com"})  # lead-a's segment is no longer the newest
    store.put("leads", "lead-a", {"email": "a@example.com", "status": "subscribed"})
    assert store.get("leads", "lead-a") == {"email": "a@example.com", "status": "subscribed", "id": "lead-a"}
    assert [record["email"] for record in store.records("leads")] == ["a@example.com", "b@example.com", "c@example.com"]


def test_buffered_records_keep_an_id_they_bring(store):
    store.add_soon("responses", {"id": "run-1", "quiz": "coffee"})
    store.add_soon("responses", {"quiz": "coffee"})
    store.flush()
    ids = [record["id"] for record in store.records("responses")]
    assert ids[0] == "run-1" and ids[1] != "run-1"
    assert store.get("responses", "run-1") == {"id": "run-1", "quiz": "coffee"}


def test_a_bulk_flush_fills_many_segments(store, monkeypatch):
    monkeypatch.setattr(segments, "SEGMENT_SIZE", 2)
    for index in range(2_500):  # once recursion: 1,250 segments passed Python's recursion limit
        store.add_soon("events", {"n": index})
    store.flush()
    assert sum(1 for _ in store.records("events")) == 2_500


def test_remove_deletes_everywhere_and_counts(store, monkeypatch, tmp_path):
    monkeypatch.setattr(segments, "SEGMENT_SIZE", 3)
    for index in range(8):
        store.add("leads", {"email": f"{'gone' if index % 2 else 'kept'}@example.com", "n": index})
    assert store.remove("leads", email="gone@example.com") == 4
    assert [record["n"] for record in store.records("leads")] == [0, 2, 4, 6]
    on_disk = "".join(path.read_text() for path in (tmp_path / "data" / "leads").glob("*.json"))
    assert "gone@example.com" not in on_disk and "kept@example.com" in on_disk


def test_segments_emptied_by_remove_are_deleted_but_the_newest_stays(monkeypatch, tmp_path):
    monkeypatch.setattr(segments, "SEGMENT_SIZE", 2)
    store = TinyStore(tmp_path / "data")
    for index in range(5):
        store.add("events", {"n": index, "at": float(index)})
    assert store.remove_older("events", "at", 4) == 4
    files = sorted(path.name for path in (tmp_path / "data" / "events").glob("*.json"))
    assert files == ["000003.json"]
    store.add("events", {"n": 5, "at": 5.0})
    store.add("events", {"n": 6, "at": 6.0})
    assert [record["n"] for record in store.records("events")] == [4, 5, 6]
    assert store.remove_older("events", "at", 100) == 3
    assert sorted(path.name for path in (tmp_path / "data" / "events").glob("*.json")) == ["000004.json"]
    store.close()
    again = TinyStore(tmp_path / "data")
    again.add("events", {"n": 7})
    assert [record["n"] for record in again.records("events")] == [7]
    again.close()


def test_records_roll_over_into_bounded_segments(store, monkeypatch, tmp_path):
    monkeypatch.setattr(segments, "SEGMENT_SIZE", 4)
    for index in range(10):
        store.add("events", {"n": index})
    files = sorted((tmp_path / "data" / "events").glob("*.json"))
    assert [path.name for path in files] == ["000001.json", "000002.json", "000003.json"]
    assert [len(json.loads(path.read_text())["records"]) for path in files] == [4, 4, 2]
    assert [record["n"] for record in store.records("events")] == list(range(10))


def test_data_survives_a_restart(tmp_path):
    first = TinyStore(tmp_path)
    lead = first.add("leads", {"email": "a@example.com"})
    first.add_soon("events", {"kind": "viewed"})
    first.close()
    again = TinyStore(tmp_path)
    assert again.get("leads", lead)["email"] == "a@example.com"
    assert [record["kind"] for record in again.records("events")] == ["viewed"]
    again.close()


def test_buffered_events_are_written_within_a_second(store, tmp_path):
    store.add_soon("events", {"kind": "started"})
    deadline = time.monotonic() + 5
    while not list((tmp_path / "data" / "events").glob("*.json")):
        assert time.monotonic() < deadline, "events were not flushed"
        time.sleep(0.05)


def test_a_second_process_on_the_same_folder_is_refused(store, tmp_path):
    with pytest.raises(StoreLocked, match="in use by another quiz server"):
        TinyStore(tmp_path / "data")


def test_a_reader_opens_next_to_the_writer_and_cannot_write(store, tmp_path):
    store.add("leads", {"email": "a@example.com"})
    reader = TinyStore(tmp_path / "data", read_only=True)
    assert [record["email"] for record in reader.records("leads")] == ["a@example.com"]
    assert list(reader.records("never_written")) == []
    assert not (tmp_path / "data" / "never_written").exists()
    with pytest.raises(StoreError, match="read-only"):
        reader.add("leads", {"email": "b@example.com"})
    reader.close()
    store.add("leads", {"email": "c@example.com"})  # the writer's lock was never touched


def test_closing_from_another_thread_frees_the_folder(tmp_path):
    import threading

    opened = TinyStore(tmp_path / "data")
    closer = threading.Thread(target=opened.close)  # the server's lifespan runs where it runs
    closer.start()
    closer.join()
    TinyStore(tmp_path / "data").close()


def test_a_corrupt_file_stops_the_store_and_is_kept(tmp_path):
    store = TinyStore(tmp_path)
    store.add("leads", {"email": "a@example.com"})
    store.close()
    segment = tmp_path / "leads" / "000001.json"
    segment.write_text(segment.read_text()[:-10])  # truncated, as by a crash of another tool
    with pytest.raises(StoreError, match=r"000001\.json: cannot be read"):
        TinyStore(tmp_path)
    assert segment.read_text().startswith('{"records"')  # left for the merchant to repair
    TinyStore(tmp_path / "elsewhere").close()  # and the lock was released by the failed start


@pytest.mark.parametrize("name", ["../escape", "Leads", "", "a" * 60, "leads/x"])
def test_bad_collection_names_are_refused(store, name):
    with pytest.raises(StoreError):
        store.add(name, {"x": 1})


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from quiz.store import segments, tiny as tinystore
    segments.SEGMENT_SIZE = 50  # so the kill lands around segment roll-overs too
    store = tinystore.TinyStore(Path(sys.argv[1]))
    for index in range(100000):
        store.add("leads", {"n": index})
        print(index, flush=True)  # acknowledged: add() has returned
    """
)


def test_every_acknowledged_record_survives_kill_9(tmp_path):
    for attempt in range(3):
        folder = tmp_path / f"run{attempt}"
        command = [sys.executable, "-c", WRITER, str(folder)]
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1) as writer:
            acknowledged = -1
            assert writer.stdout is not None
            for line in writer.stdout:
                acknowledged = int(line)
                if acknowledged >= 150 + 97 * attempt:  # a different moment each time, across segments
                    break
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait(timeout=10)
        reopened = TinyStore(folder)
        stored = {record["n"] for record in reopened.records("leads")}
        reopened.close()
        assert set(range(acknowledged + 1)) <= stored


def test_reading_while_events_are_flushed(store, monkeypatch):
    import threading

    monkeypatch.setattr(segments, "SEGMENT_SIZE", 20)
    for index in range(100):
        store.add("events", {"n": index})
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            store.add_soon("events", {"n": -1})
            store.flush()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(30):
            seen = [record["n"] for record in store.records("events")]
            assert seen[:100] == list(range(100))
    finally:
        stop.set()
        thread.join()


def test_a_buffered_record_can_be_read_changed_and_replaced_before_the_flusher_writes_it(tmp_path):
    store = TinyStore(tmp_path / "store")
    try:
        store.add_soon("codes", {"id": "ABCD-EFGH", "response": "r1"})
        assert store.get("codes", "ABCD-EFGH") == {"id": "ABCD-EFGH", "response": "r1"}
        store.update("codes", "ABCD-EFGH", {"used": True})
        assert store.get("codes", "ABCD-EFGH") == {"id": "ABCD-EFGH", "response": "r1", "used": True}
        store.add_soon("codes", {"id": "KLMN-PQRS", "response": "r2"})
        store.put("codes", "KLMN-PQRS", {"response": "r3"})
        store.flush()
        assert sorted((record["id"], record["response"]) for record in store.records("codes")) == [
            ("ABCD-EFGH", "r1"),
            ("KLMN-PQRS", "r3"),
        ]
    finally:
        store.close()


def test_a_transaction_cut_half_way_is_finished_from_its_journal(tmp_path, monkeypatch):
    store = TinyStore(tmp_path / "data")
    real_put, calls = TinyStore.put, []

    def disk_fills_after_one_write(self, collection, record_id, record):
        calls.append(collection)
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        real_put(self, collection, record_id, record)

    monkeypatch.setattr(TinyStore, "put", disk_fills_after_one_write)
    with pytest.raises(OSError), store.transaction("p") as writes:
        writes.add("consent", {"email": "a@example.com"})
        writes.put("leads", "l1", {"email": "a@example.com"})
    assert store.count("consent") == 1 and store.get("leads", "l1") is None  # half applied, journal kept
    monkeypatch.setattr(TinyStore, "put", real_put)
    store.close()
    assert (tmp_path / "data" / tinystore.JOURNAL).exists()
    again = TinyStore(tmp_path / "data")  # the start finishes it: the consent row has its lead
    assert again.count("consent") == 1 and again.get("leads", "l1") == {"email": "a@example.com", "id": "l1"}
    assert not (tmp_path / "data" / tinystore.JOURNAL).exists()
    again.close()


def test_temporary_files_a_crash_left_are_deleted_at_start(tmp_path):
    store = TinyStore(tmp_path / "data")
    store.add("leads", {"email": "a@example.com"})
    store.close()
    orphan = tmp_path / "data" / "leads" / ".000001.json.1a2b3c4d.tmp"
    orphan.write_text('{"records": {"1": {"email": "erased@example.com"}}}')
    TinyStore(tmp_path / "data", read_only=True).close()
    assert orphan.exists()  # a reader beside the server must not delete the writer's files
    TinyStore(tmp_path / "data").close()
    assert not orphan.exists()


def test_a_write_after_a_cut_transaction_is_not_undone_by_its_journal(tmp_path, monkeypatch):
    store = TinyStore(tmp_path / "data")
    real_put, calls = TinyStore.put, []

    def disk_fills_after_one_write(self, collection, record_id, record):
        calls.append(collection)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_put(self, collection, record_id, record)

    monkeypatch.setattr(TinyStore, "put", disk_fills_after_one_write)
    with pytest.raises(OSError), store.transaction("p") as writes:
        writes.put("outbox", "job", {"status": "queued"})
        writes.put("leads", "l1", {"email": "a@example.com"})
    monkeypatch.setattr(TinyStore, "put", real_put)
    assert store.remove("outbox", id="job") == 1  # the mailer sent it: the journal is finished first
    store.close()
    again = TinyStore(tmp_path / "data")
    assert again.get("outbox", "job") is None and again.get("leads", "l1") == {"email": "a@example.com", "id": "l1"}
    again.close()

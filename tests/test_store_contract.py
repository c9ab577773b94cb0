"""The store contract (quiz.store.base), held by every backend: memory, embedded files, PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from together import together

from quiz.store.base import Store, StoreError
from quiz.store.memory import MemoryStore
from quiz.store.tiny import TinyStore

BACKENDS = ["memory", "tiny", "postgres"]


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> Iterator[Store]:
    opened: Any
    if request.param == "memory":
        opened = MemoryStore()
    elif request.param == "tiny":
        opened = TinyStore(tmp_path / "data")
    else:
        from quiz.store.postgres import PostgresStore

        opened = PostgresStore(request.getfixturevalue("postgres_database"))
    yield opened
    opened.close()


def test_added_records_come_back_under_their_own_ids(store):
    first = store.add("leads", {"email": "a@example.com", "id": "forged"})
    second = store.add("leads", {"email": "b@example.com"})
    assert first != second and "forged" not in (first, second)
    assert store.get("leads", first) == {"email": "a@example.com", "id": first}
    assert store.get("leads", "nope") is None
    assert store.get("nothing_yet", "nope") is None


def test_put_replaces_whole_and_keeps_the_place(store):
    store.put("leads", "a", {"email": "a@example.com", "extra": 1})
    store.add("leads", {"email": "b@example.com"})
    store.put("leads", "a", {"email": "a@example.com", "status": "subscribed"})
    assert store.get("leads", "a") == {"email": "a@example.com", "status": "subscribed", "id": "a"}
    assert [record["email"] for record in store.records("leads")] == ["a@example.com", "b@example.com"]


def test_insert_new_says_whether_the_id_was_new(store):
    assert store.insert_new("line_events", "e1", {"seen": 1.0}) is True
    assert store.insert_new("line_events", "e1", {"seen": 2.0}) is False
    assert store.get("line_events", "e1") == {"seen": 1.0, "id": "e1"}


def test_update_merges_top_level_fields_and_a_missing_id_changes_nothing(store):
    lead = store.add("leads", {"email": "a@example.com", "consent": {"status": "pending", "nonce": "n"}})
    assert store.update("leads", lead, {"consent": {"status": "subscribed"}, "id": "forged"}) is True
    assert store.get("leads", lead) == {"email": "a@example.com", "consent": {"status": "subscribed"}, "id": lead}
    assert store.update("leads", "missing", {"x": 1}) is False
    assert store.get("leads", "missing") is None


def test_swap_changes_only_what_still_holds_the_expected_values(store):
    store.put("line_logins", "s", {"used": False, "nonce": "n"})
    before = store.swap("line_logins", "s", {"used": False}, {"used": True, "nonce": ""})
    assert before == {"used": False, "nonce": "n", "id": "s"}
    assert store.get("line_logins", "s") == {"used": True, "nonce": "", "id": "s"}
    assert store.swap("line_logins", "s", {"used": False}, {"used": True}) is None
    assert store.swap("line_logins", "missing", {"used": False}, {"used": True}) is None
    assert store.swap("line_logins", "s", {"absent": None}, {"used": False}) is None  # a missing field never equals


def test_of_threads_taking_one_record_at_once_exactly_one_gets_it(store):
    store.put("line_codes", "c", {"used": False})
    winners: list[bool] = []
    start = threading.Barrier(8)

    def take() -> None:
        start.wait()
        winners.append(store.swap("line_codes", "c", {"used": False}, {"used": True}) is not None)

    together(take, [()] * 8)
    assert sorted(winners) == [False] * 7 + [True]


def test_find_and_remove_match_by_field_equality_as_json_compares(store):
    store.put("consent", "1", {"email": "a@example.com", "checkbox": True, "n": 1})
    store.put("consent", "2", {"email": "a@example.com", "checkbox": False, "n": 1.0})
    store.put("consent", "3", {"email": "b@example.com", "checkbox": True, "n": "1"})
    store.put("consent", "4", {"line_user": "U1"})
    assert [r["id"] for r in store.find("consent", email="a@example.com")] == ["1", "2"]
    assert [r["id"] for r in store.find("consent", checkbox=True)] == ["1", "3"]
    assert [r["id"] for r in store.find("consent", n=1)] == ["1", "2"]  # 1 is 1.0, "1" is not 1, True is not 1
    assert [r["id"] for r in store.find("consent", id="3")] == ["3"]
    assert store.find("consent", email="a@example.com", checkbox=False)[0]["id"] == "2"
    assert store.find("consent", email="nobody@example.com") == []
    assert store.remove("consent", email="a@example.com") == 2
    assert [r["id"] for r in store.records("consent")] == ["3", "4"]
    assert store.remove("consent", email="a@example.com") == 0
    assert store.remove("consent", id="4") == 1


def test_remove_older_deletes_what_it_cannot_date_too(store):
    store.put("line_codes", "old", {"issued": 10.0})
    store.put("line_codes", "new", {"issued": 1000})
    store.put("line_codes", "undated", {"used": True})
    store.put("line_codes", "odd", {"issued": "yesterday"})
    assert store.remove_older("line_codes", "issued", 500) == 3
    assert [r["id"] for r in store.records("line_codes")] == ["new"]


def test_records_stream_in_insertion_order_and_counts_agree(store):
    ids = [store.add("events", {"n": index}) for index in range(25)]
    assert [record["id"] for record in store.records("events")] == ids
    assert store.count("events") == 25
    assert store.count("never_written") == 0
    assert "events" in store.collections()


def test_a_transaction_keeps_all_its_writes_and_reads_its_own(store):
    with store.transaction("person") as writes:
        consent = writes.add("consent", {"email": "a@example.com"})
        writes.put("leads", "l1", {"email": "a@example.com", "status": "pending"})
        assert writes.get("leads", "l1") == {"email": "a@example.com", "status": "pending", "id": "l1"}
        assert writes.update("leads", "l1", {"status": "subscribed"}) is True
        assert writes.insert_new("people", "p1", {"leads": ["l1"]}) is True
        assert writes.insert_new("people", "p1", {"leads": []}) is False
        assert [r["id"] for r in writes.find("leads", email="a@example.com")] == ["l1"]
    assert store.get("leads", "l1")["status"] == "subscribed"
    assert store.get("consent", consent)["email"] == "a@example.com"
    assert store.get("people", "p1")["leads"] == ["l1"]


def test_a_transaction_that_raises_keeps_nothing(store):
    store.put("leads", "kept", {"email": "a@example.com"})
    with pytest.raises(RuntimeError), store.transaction("person") as writes:
        writes.add("consent", {"email": "a@example.com"})
        writes.put("leads", "new", {"email": "b@example.com"})
        assert writes.remove("leads", id="kept") == 1
        assert writes.get("leads", "kept") is None
        raise RuntimeError("half-way")
    assert store.count("consent") == 0
    assert store.get("leads", "new") is None
    assert store.get("leads", "kept") == {"email": "a@example.com", "id": "kept"}


def test_transactions_on_one_key_run_one_after_another(store):
    store.put("people", "p", {"n": 0})

    def bump() -> None:
        for _ in range(10):
            with store.transaction("p") as writes:
                current = writes.get("people", "p")
                assert current is not None
                writes.put("people", "p", {"n": current["n"] + 1})

    together(bump, [()] * 4)
    assert store.get("people", "p")["n"] == 40


def test_buffered_events_are_kept_with_an_id_they_bring(store):
    store.add_soon("events", {"id": "run-1", "kind": "viewed"})
    store.add_soon("events", {"kind": "started"})
    store.flush()
    kept = list(store.records("events"))
    assert kept[0] == {"id": "run-1", "kind": "viewed"} and kept[1]["kind"] == "started"


@pytest.mark.parametrize("name", ["", "Leads", "../leads", "a b", "x" * 60, "drop table;"])
def test_bad_collection_names_are_refused(store, name):
    with pytest.raises(StoreError):
        store.add(name, {"x": 1})


def test_increments_from_many_threads_add_up(store):
    def bump() -> None:
        for _ in range(25):
            store.increment("rate_limits", "client:1", "count", {"expires": 10.0})

    together(bump, [()] * 4)
    assert store.get("rate_limits", "client:1") == {"expires": 10.0, "count": 100, "id": "client:1"}
    assert store.increment("rate_limits", "client:2", "count", {}) == 1


def test_put_many_keeps_order_replaces_by_id_and_can_be_repeated(store):
    store.put("events", "b", {"n": 0})
    batch = [{"id": "a", "n": 1}, {"id": "b", "n": 2}, {"id": "c", "n": 3}]
    store.put_many("events", batch)
    store.put_many("events", batch)
    assert [(r["id"], r["n"]) for r in store.records("events")] == [("b", 2), ("a", 1), ("c", 3)]


def test_a_buffered_record_under_a_kept_id_replaces_it_and_erasure_finds_buffered_ones(store):
    store.put("responses", "r1", {"quiz": "serum"})
    store.add_soon("responses", {"id": "r1", "quiz": "serum", "again": True})
    store.add_soon("responses", {"id": "r2", "quiz": "serum"})
    with store.transaction("person") as writes:
        assert writes.remove("responses", id="r2") == 1  # still in add_soon's buffer a moment ago
    store.flush()
    assert [record["id"] for record in store.records("responses")] == ["r1"]
    assert store.get("responses", "r1") == {"id": "r1", "quiz": "serum", "again": True}


def test_find_by_a_value_that_no_id_can_be_matches_nothing(store):
    store.put("leads", "5", {"email": "a@example.com"})
    assert store.find("leads", id=5) == [] and store.remove("leads", id=5) == 0


def test_of_threads_inserting_one_id_at_once_exactly_one_is_new(store):
    start = threading.Barrier(8)
    new: list[bool] = []

    def insert(number: int) -> None:
        start.wait()
        new.append(store.insert_new("line_events", "event-1", {"seen": float(number)}))

    together(insert, [(number,) for number in range(8)])
    assert sorted(new) == [False] * 7 + [True]
    assert store.count("line_events") == 1


def test_get_many_returns_the_records_that_exist_by_id(store):
    for number in range(5):
        store.put("rollups", f"r{number}", {"n": number})
    found = store.get_many("rollups", ["r4", "missing", "r1", "r1"])
    assert found == {"r4": {"id": "r4", "n": 4}, "r1": {"id": "r1", "n": 1}}
    assert store.get_many("rollups", []) == {}

"""`quiz copy-store`: a shop's embedded data into PostgreSQL and back, the same records in the same order."""

from __future__ import annotations

import pytest

from quiz import cli
from quiz.store.postgres import PostgresStore
from quiz.store.tiny import TinyStore


def _shop(folder):
    store = TinyStore(folder / "store")
    for index in range(1234):
        store.add("events", {"kind": "viewed", "n": index})
    store.put("leads", "l1", {"email": "a@example.com", "consent": {"status": "subscribed"}})
    store.put("people", "p1", {"email": "a@example.com", "leads": ["l1"]})
    store.add("consent", {"email": "a@example.com", "text": "同意します"})
    store.close()


def _everything(store):
    return {name: list(store.records(name)) for name in store.collections()}


def test_a_data_folder_goes_into_postgresql_and_back_whole_and_in_order(tmp_path, postgres_database, capsys):
    _shop(tmp_path / "shop")
    assert cli.main(["copy-store", str(tmp_path / "shop"), postgres_database]) == 0
    out = capsys.readouterr().out
    assert "events                 1234 ->       1234" in out and "the counts agree" in out
    assert cli.main(["copy-store", str(tmp_path / "shop"), postgres_database]) == 0  # again: nothing doubles
    assert cli.main(["copy-store", postgres_database, str(tmp_path / "back")]) == 0
    original, back = TinyStore(tmp_path / "shop" / "store", read_only=True), TinyStore(tmp_path / "back" / "store")
    shared = PostgresStore(postgres_database)
    try:
        assert _everything(original) == _everything(shared) == _everything(back)
    finally:
        back.close()
        shared.close()


def test_a_copy_cut_short_is_finished_by_running_it_again(tmp_path, postgres_database, capsys):
    _shop(tmp_path / "shop")
    source = TinyStore(tmp_path / "shop" / "store", read_only=True)
    target = PostgresStore(postgres_database)
    target.put_many("events", list(source.records("events"))[:500])  # what an interrupted run had copied
    target.close()
    assert cli.main(["copy-store", str(tmp_path / "shop"), postgres_database]) == 0
    shared = PostgresStore(postgres_database)
    try:
        assert [r["n"] for r in shared.records("events")] == list(range(1234))
    finally:
        shared.close()


def test_a_target_with_records_of_its_own_is_reported_not_hidden(tmp_path, postgres_database, capsys):
    _shop(tmp_path / "shop")
    other = PostgresStore(postgres_database)
    other.add("leads", {"email": "someone-else@example.com"})
    other.close()
    assert cli.main(["copy-store", str(tmp_path / "shop"), postgres_database]) == 1
    captured = capsys.readouterr()
    assert "leads" in captured.err and "hold a different number of records" in captured.err


@pytest.mark.parametrize("source", ["/nonexistent/folder", "postgresql://quiz@127.0.0.1:1/none"])
def test_a_source_that_is_not_there_is_a_sentence_and_status_2(tmp_path, capsys, source):
    assert cli.main(["copy-store", source, str(tmp_path / "target")]) == 2
    assert "quiz copy-store:" in capsys.readouterr().err


def test_an_embedded_target_a_server_holds_is_refused(tmp_path, capsys):
    _shop(tmp_path / "shop")
    running = TinyStore(tmp_path / "busy" / "store")
    try:
        assert cli.main(["copy-store", str(tmp_path / "shop"), str(tmp_path / "busy")]) == 2
        assert "in use by another quiz server" in capsys.readouterr().err
    finally:
        running.close()

"""PostgreSQL's own: each way of failing to start has its sentence, the schema migrates once, connections heal."""

from __future__ import annotations

import socket
import threading

import psycopg
import pytest
from together import together

from quiz.store.base import StoreError
from quiz.store.postgres import PostgresStore, latest_version, safe_url


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_server_that_is_not_there_is_named_without_its_password():
    url = f"postgresql://shop:s3cret-pw@127.0.0.1:{_free_port()}/quiz"
    with pytest.raises(StoreError) as refused:
        PostgresStore(url)
    message = str(refused.value)
    assert "cannot reach PostgreSQL at postgresql://shop@127.0.0.1:" in message
    assert "s3cret-pw" not in message and "is the server running" in message


def test_a_missing_database_says_how_to_create_it(postgres_url):
    with pytest.raises(StoreError, match=r"there is no database 'nope'; create it \(createdb nope\)"):
        PostgresStore(postgres_url.rsplit("/", 1)[0] + "/nope")


def test_an_unknown_user_is_its_own_sentence(postgres_database):
    url = postgres_database.replace("quiz@", "intruder@")
    with pytest.raises(StoreError, match="has no such user"):
        PostgresStore(url)


@pytest.mark.parametrize("url", ["postgresql://[::1", "postgresql://h/db?sslmode=sometimes", "host=x port=nan"])
def test_an_unreadable_url_is_refused_in_a_sentence(url):
    with pytest.raises(StoreError) as refused:
        PostgresStore(url)
    assert "PostgreSQL" in str(refused.value) or "QUIZ_STORE_URL" in str(refused.value)


def test_a_schema_newer_than_the_code_stops_the_start(postgres_database):
    PostgresStore(postgres_database).close()
    with psycopg.connect(postgres_database, autocommit=True) as connection:
        connection.execute("INSERT INTO schema_migrations VALUES (%s, now())", [latest_version() + 1])
    with pytest.raises(StoreError, match="newer than this server knows"):
        PostgresStore(postgres_database)


def test_a_reader_that_does_not_migrate_says_to_run_quiz_migrate(postgres_database):
    with pytest.raises(StoreError, match="run `quiz migrate`"):
        PostgresStore(postgres_database, migrate=False)


def test_servers_starting_together_apply_each_migration_once(postgres_database):
    opened, failures = [], []
    start = threading.Barrier(4)

    def open_store() -> None:
        start.wait()
        try:
            opened.append(PostgresStore(postgres_database))
        except Exception as error:
            failures.append(error)

    together(open_store, [()] * 4)
    assert failures == [] and len(opened) == 4
    with psycopg.connect(postgres_database) as connection:
        versions = [row[0] for row in connection.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == list(range(1, latest_version() + 1))
    for store in opened:
        store.close()


def test_connections_the_server_dropped_are_replaced(postgres_database):
    store = PostgresStore(postgres_database, pool_size=2)
    store.put("leads", "a", {"email": "a@example.com"})
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
    assert store.get("leads", "a") == {"email": "a@example.com", "id": "a"}
    store.close()


def test_the_url_in_messages_keeps_host_port_user_and_database_only():
    assert safe_url("postgresql://u:pw@db.internal:6543/shop?sslmode=require") == "postgresql://u@db.internal:6543/shop"


def test_a_nul_in_a_shopper_s_text_is_kept_as_a_replacement_character(postgres_database):
    store = PostgresStore(postgres_database)
    try:
        store.put("responses", "r", {"answers": {"note": "a\x00b"}, "literal": "\\u0000 stays", "ok": "c"})
        store.add_soon("events", {"kind": "viewed", "product_page": "\x00"})
        store.flush()
        assert store.get("responses", "r") == {
            "answers": {"note": "a\ufffdb"},
            "literal": "\\u0000 stays",
            "ok": "c",
            "id": "r",
        }
        assert [event["product_page"] for event in store.records("events")] == ["\ufffd"]
    finally:
        store.close()


def test_a_url_that_cannot_be_read_is_refused_without_repeating_any_of_it():
    with pytest.raises(StoreError) as refused:
        PostgresStore("postgresql://quiz:s3cr%zzet@127.0.0.1/quiz")
    assert "cannot be read as a PostgreSQL URL" in str(refused.value) and "s3cr" not in str(refused.value)

"""The throwaway PostgreSQL of tests/postgres.py: a working database per test, each its own, on loopback only."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import psycopg
import pytest

seen: list[str] = []  # the databases the parametrized test below was given, in the order it ran


def test_a_database_takes_a_table_and_gives_back_its_rows(postgres_database: str) -> None:
    with psycopg.connect(postgres_database) as connection:
        connection.execute("CREATE TABLE answer (id serial PRIMARY KEY, choice text NOT NULL, at timestamptz)")
        connection.execute(
            "INSERT INTO answer (choice, at) VALUES (%s, %s), (%s, %s)",
            ("dry skin", "2025-01-02 03:04:05", "oily skin", "2025-01-02 03:04:05+09"),
        )
        connection.commit()
        rows = connection.execute("SELECT choice, at::text FROM answer ORDER BY id").fetchall()
        settings = connection.execute("SELECT pg_client_encoding(), current_setting('TimeZone')").fetchone()
    # The same everywhere: a timestamp without a zone reads as UTC, whatever the machine's zone.
    assert rows == [("dry skin", "2025-01-02 03:04:05+00"), ("oily skin", "2025-01-01 18:04:05+00")]
    assert settings == ("UTF8", "UTC")


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_its_own_empty_database_dropped_after(
    postgres_database: str, postgres_url: str, run: int
) -> None:
    name = urlsplit(postgres_database).path.lstrip("/")
    with psycopg.connect(postgres_database) as connection:
        tables = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        connection.execute("CREATE TABLE left_behind (n int)")  # the other run must not see it
        connection.commit()
    with psycopg.connect(postgres_url) as connection:
        databases = {row[0] for row in connection.execute("SELECT datname FROM pg_database").fetchall()}
    assert tables == (0,)
    assert name.startswith("test_") and name in databases
    assert name not in seen
    assert not databases & set(seen), "an earlier test's database was not dropped"
    seen.append(name)


def test_the_server_listens_on_loopback_ipv4_only(postgres_url: str) -> None:
    port = urlsplit(postgres_url).port
    assert port is not None
    with psycopg.connect(postgres_url) as connection:
        query = "SELECT current_setting(%s), current_setting(%s), host(inet_server_addr())"
        row = connection.execute(query, ("listen_addresses", "unix_socket_directories")).fetchone()
    assert row is not None
    listen, sockets, address = row
    assert (listen, address) == ("127.0.0.1", "127.0.0.1")
    assert sockets.startswith("/") and "quiz-pg-" in sockets  # its own folder, not the system's /var/run
    with pytest.raises(OSError):  # refused, or no IPv6 at all
        socket.create_connection(("::1", port), timeout=2).close()

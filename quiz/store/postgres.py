"""The shared store: PostgreSQL through psycopg 3 and a connection pool, for many processes and machines.

Records live in one table, ``records (collection, id, seq, data jsonb)``; ``seq`` is the insertion
order, and indexes serve what is looked up (field equality through JSONB containment, a person's
email, a LINE user, a quiz and time). The contract's guarantees are PostgreSQL's own:

- insert-if-absent is ``INSERT ... ON CONFLICT DO NOTHING``; compare-and-set is one ``UPDATE``
  whose ``WHERE`` holds the expected values, so of two processes exactly one changes the row;
- a transaction is a PostgreSQL transaction; its keys take transaction-scoped advisory locks
  (in sorted order, so two transactions cannot deadlock: one waits for the other);
- ``records`` streams through a server-side cursor, a thousand rows at a time.

The schema is versioned SQL files (``quiz/store/migrations``), applied once each under an advisory
lock by whichever process comes first (``quiz migrate`` or a server's start). A lost connection is
``StoreError``, which the shopper sees as "try again"; the pool reconnects when the server is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
from collections.abc import Iterator
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb, set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from quiz.store.base import Record, StoreError, Writes, check_collection
from quiz.store.batch import new_id
from quiz.store.decoding import loads

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
POOL_SIZE = 10  # connections per process; PostgreSQL's default max_connections (100) allows about ten
WAIT_SECONDS = 5.0  # a request waits this long for a connection, then answers "try again"
LOOP_WAIT_SECONDS = 0.2  # ... unless it waits on the event loop itself, holding up every other request
MIGRATION_LOCK = 7_361_905_113  # any constant: the advisory lock every process takes to migrate
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class PostgresStore:
    shared = True

    def __init__(self, url: str, *, migrate: bool = True, check: bool = True, pool_size: int = POOL_SIZE) -> None:
        """Connect (a clear ``StoreError`` if that cannot be done) and bring the schema up to date.

        ``migrate=False``: only check that the schema is current (a command beside the servers);
        ``check=False`` as well: neither (``quiz migrate`` itself).
        """
        self.where = safe_url(url)
        check_reachable(url, self.where)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=WAIT_SECONDS,
            check=ConnectionPool.check_connection,  # a connection the server dropped is replaced, not used
            configure=_configured,
            name="quiz-store",
        )
        try:
            with _errors(self.where):
                self._pool.open(wait=True, timeout=WAIT_SECONDS * 2)
            if migrate:
                self.migrate()
            elif check:
                self._check_schema()
        except BaseException:
            self._pool.close()
            raise
        self._pending: list[tuple[str, Record]] = []
        self._waiting = threading.Lock()
        self._closed = threading.Event()
        self._flusher = threading.Thread(target=self._flush_every_second, name="store-flush", daemon=True)
        self._flusher.start()

    # --- the schema ---------------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply the SQL files not applied yet, each once, under one advisory lock; returns their versions."""
        applied = []
        with self._connection() as connection, connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, applied_at timestamptz)"
            )
            current = self._schema_version(connection)
            for version, text in migrations():
                if version > current:
                    connection.execute(text.encode())  # a file of ours, not input
                    connection.execute("INSERT INTO schema_migrations VALUES (%s, now())", [version])
                    applied.append(version)
        if applied:
            log.info("PostgreSQL store at %s: schema migrated to version %d", self.where, applied[-1])
        return applied

    def _check_schema(self) -> None:
        with self._connection() as connection:
            exists = connection.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
            current = self._schema_version(connection) if exists and exists[0] else 0
        known = latest_version()
        if current < known:
            raise StoreError(f"PostgreSQL at {self.where}: the schema is at version {current}; run `quiz migrate`")

    def _schema_version(self, connection: psycopg.Connection[Any]) -> int:
        row = connection.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        current = int(row[0]) if row else 0
        known = latest_version()
        if current > known:
            raise StoreError(
                f"PostgreSQL at {self.where}: the schema is at version {current}, newer than this server "
                f"knows ({known}); upgrade the server, or point it at another database"
            )
        return current

    # --- the contract, each call on a pooled connection ---------------------------------------------

    def add(self, collection: str, record: Record) -> str:
        with self._sql() as run:
            return run.add(collection, record)

    def add_soon(self, collection: str, record: Record) -> None:
        check_collection(collection)
        with self._waiting:
            self._pending.append((collection, {**record, "id": str(record.get("id") or new_id())}))

    def put(self, collection: str, record_id: str, record: Record) -> None:
        with self._sql() as run:
            run.put(collection, record_id, record)

    def put_many(self, collection: str, records: list[Record]) -> None:
        check_collection(collection)
        with self._connection() as connection, connection.transaction():
            _Sql(connection).put_many([(collection, record) for record in records])

    def insert_new(self, collection: str, record_id: str, record: Record) -> bool:
        with self._sql() as run:
            return run.insert_new(collection, record_id, record)

    def get(self, collection: str, record_id: str) -> Record | None:
        with self._sql() as run:
            return run.get(collection, record_id)

    def get_many(self, collection: str, record_ids: list[str]) -> dict[str, Record]:
        with self._sql() as run:
            return run.get_many(collection, record_ids)

    def update(self, collection: str, record_id: str, changes: Record) -> bool:
        with self._sql() as run:
            return run.update(collection, record_id, changes)

    def swap(self, collection: str, record_id: str, expected: Record, changes: Record) -> Record | None:
        with self._sql() as run:
            return run.swap(collection, record_id, expected, changes)

    def find(self, collection: str, **equals: Any) -> list[Record]:
        with self._sql() as run:
            return run.find(collection, **equals)

    def remove(self, collection: str, **equals: Any) -> int:
        with self._sql() as run:
            return run.remove(collection, **equals)

    def increment(self, collection: str, record_id: str, field: str, record: Record) -> int:
        with self._sql() as run:
            return run.increment(collection, record_id, field, record)

    def remove_older(self, collection: str, field: str, before: float) -> int:
        with self._sql() as run:
            return run.remove_older(collection, field, before)

    def count(self, collection: str) -> int:
        with self._sql() as run:
            return run.count(collection)

    def collections(self) -> list[str]:
        with self._connection() as connection:
            rows = connection.execute("SELECT DISTINCT collection FROM records ORDER BY collection").fetchall()
        return [str(row[0]) for row in rows]

    def records(self, collection: str) -> Iterator[Record]:
        check_collection(collection)
        self.flush()
        query = "SELECT id, data FROM records WHERE collection = %s ORDER BY seq"
        with (
            self._connection() as connection,
            connection.transaction(),
            connection.cursor(name="quiz_records") as cursor,  # server-side: memory stays flat
        ):
            cursor.itersize = 1000
            cursor.execute(query, [collection])
            for record_id, data in cursor:
                data["id"] = record_id  # decoded for this row alone: no copy needed (an export reads millions)
                yield data

    @contextlib.contextmanager
    def transaction(self, *keys: str) -> Iterator[Writes]:
        self.flush()  # the buffered events first: an erasure must find what add_soon still holds
        with self._connection() as connection, _errors(self.where), connection.transaction():
            for key in sorted(set(keys)):
                connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
            yield _Sql(connection)

    # --- the buffer and the end ---------------------------------------------------------------------

    def flush(self) -> None:
        with self._waiting:
            taken, self._pending = self._pending, []
        if not taken:
            return
        try:
            with self._sql() as run:
                run.put_many(taken)
        except BaseException:
            with self._waiting:
                self._pending = taken + self._pending  # kept, in order, for the next try
            raise

    def close(self) -> None:
        self._closed.set()
        self._flusher.join(timeout=5)
        with contextlib.suppress(StoreError):
            self.flush()
        self._pool.close()

    def _flush_every_second(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except StoreError as error:  # the server is away: the events stay pending, and the pool reconnects
                log.warning("funnel events not written yet (%d waiting): %s", len(self._pending), error)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        # A read made on the event loop (a results step asking LINE's status) stalls every request of
        # the process while it waits: there it waits briefly, and the caller does without.
        wait = LOOP_WAIT_SECONDS if _on_event_loop() else WAIT_SECONDS
        with _errors(self.where), self._pool.connection(timeout=wait) as connection:
            yield connection

    @contextlib.contextmanager
    def _sql(self) -> Iterator[_Sql]:
        with self._connection() as connection:
            yield _Sql(connection)


class _Sql:
    """The contract's operations as SQL on one connection: alone (each its own transaction) or in one."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection
        self._run = connection.execute

    def get(self, collection: str, record_id: str) -> Record | None:
        row = self._run(
            "SELECT data FROM records WHERE collection = %s AND id = %s", [check_collection(collection), record_id]
        ).fetchone()
        return None if row is None else {**row[0], "id": record_id}

    def get_many(self, collection: str, record_ids: list[str]) -> dict[str, Record]:
        query = "SELECT id, data FROM records WHERE collection = %s AND id = ANY(%s)"
        rows = self._run(query, [check_collection(collection), list(record_ids)]).fetchall()
        return {record_id: {**data, "id": record_id} for record_id, data in rows}

    def find(self, collection: str, **equals: Any) -> list[Record]:
        where, values = _equal(check_collection(collection), equals)
        query = sql.SQL("SELECT id, data FROM records WHERE {} ORDER BY seq").format(where)
        return [{**data, "id": record_id} for record_id, data in self._run(query, values).fetchall()]

    def add(self, collection: str, record: Record) -> str:
        record_id = new_id()
        self.put(collection, record_id, record)
        return record_id

    def put(self, collection: str, record_id: str, record: Record) -> None:
        self.put_many([(check_collection(collection), {**record, "id": record_id})])

    def put_many(self, records: list[tuple[str, Record]]) -> None:
        rows = [(collection, str(record["id"]), _data(record)) for collection, record in records]
        with self._connection.cursor() as cursor:
            # Replacing keeps ``seq``: a replaced record keeps its place in the order.
            cursor.executemany(
                "INSERT INTO records (collection, id, data) VALUES (%s, %s, %s)"
                " ON CONFLICT (collection, id) DO UPDATE SET data = excluded.data",
                rows,
            )

    def insert_new(self, collection: str, record_id: str, record: Record) -> bool:
        done = self._run(
            "INSERT INTO records (collection, id, data) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            [check_collection(collection), record_id, _data(record)],
        )
        return done.rowcount == 1

    def update(self, collection: str, record_id: str, changes: Record) -> bool:
        return self.swap(collection, record_id, {}, changes) is not None

    def swap(self, collection: str, record_id: str, expected: Record, changes: Record) -> Record | None:
        where, values = _equal(check_collection(collection), {**expected, "id": record_id})
        # FOR UPDATE in the CTE: a second process waits for the first, then sees the row changed and no
        # longer matching, so exactly one of them gets it (PostgreSQL re-checks WHERE on the new row).
        query = sql.SQL(
            "WITH old AS (SELECT id, data FROM records WHERE {} FOR UPDATE)"
            " UPDATE records SET data = records.data || %s FROM old"
            " WHERE records.collection = %s AND records.id = old.id RETURNING old.data"
        ).format(where)
        row = self._run(query, [*values, _data(changes), collection]).fetchone()
        return None if row is None else {**row[0], "id": record_id}

    def increment(self, collection: str, record_id: str, field: str, record: Record) -> int:
        # One statement: the row lock of ON CONFLICT DO UPDATE makes concurrent increments add up.
        row = self._run(
            "INSERT INTO records (collection, id, data) VALUES (%s, %s, %s) ON CONFLICT (collection, id) DO UPDATE"
            " SET data = jsonb_set(records.data, ARRAY[%s], to_jsonb(coalesce((records.data ->> %s)::bigint, 0) + 1))"
            " RETURNING (data ->> %s)::bigint",
            [check_collection(collection), record_id, _data({**record, field: 1}), field, field, field],
        ).fetchone()
        return int(row[0]) if row else 0

    def remove(self, collection: str, **equals: Any) -> int:
        where, values = _equal(check_collection(collection), equals)
        return self._run(sql.SQL("DELETE FROM records WHERE {}").format(where), values).rowcount

    def remove_older(self, collection: str, field: str, before: float) -> int:
        done = self._run(
            "DELETE FROM records WHERE collection = %s AND CASE WHEN jsonb_typeof(data -> %s) = 'number'"
            " THEN (data ->> %s)::float8 < %s ELSE true END",
            [check_collection(collection), field, field, before],
        )
        return done.rowcount

    def count(self, collection: str) -> int:
        row = self._run("SELECT count(*) FROM records WHERE collection = %s", [check_collection(collection)]).fetchone()
        return int(row[0]) if row else 0


def _equal(collection: str, equals: dict[str, Any]) -> tuple[sql.Composable, list[Any]]:
    """The WHERE clause of field equality: containment for plain values (the GIN index), ``=`` for the rest."""
    parts: list[sql.Composable] = [sql.SQL("collection = %s")]
    values: list[Any] = [collection]
    plain = {}
    for field, value in equals.items():
        if field == "id":
            if isinstance(value, str):
                parts.append(sql.SQL("id = %s"))
                values.append(value)
            else:
                parts.append(sql.SQL("false"))  # ids are strings: nothing matches another type
        elif value is None or isinstance(value, str | int | float | bool):
            plain[field] = value
        else:
            parts.append(sql.SQL("data -> %s = %s"))  # containment would take [1] for [1, 2]
            values += [field, Jsonb(value, dumps=_dumps)]
    if plain:
        parts.append(sql.SQL("data @> %s"))
        values.append(Jsonb(plain, dumps=_dumps))
    return sql.SQL(" AND ").join(parts), values


def _configured(connection: psycopg.Connection[Any]) -> None:
    set_json_loads(loads, connection)  # jsonb read by msgspec: an export reads a million rows


def _data(record: Record) -> Jsonb:
    return Jsonb({key: value for key, value in record.items() if key != "id"}, dumps=_dumps)


_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")  # an escaped NUL, not an escaped backslash before "u0000"


def _dumps(value: Any) -> str:
    """JSON for jsonb, which cannot hold a NUL character: a shopper's text with one is kept with U+FFFD there."""
    text = json.dumps(value)
    return _NUL.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


@contextlib.contextmanager
def _errors(where: str) -> Iterator[None]:
    """psycopg's failures as the store's: "try again" for the shopper, a sentence for the log."""
    try:
        yield
    except PoolTimeout:
        raise StoreError(f"PostgreSQL at {where}: no connection within {WAIT_SECONDS:.0f} s") from None
    except psycopg.OperationalError as error:
        raise StoreError(f"PostgreSQL at {where} cannot be reached: {_first_line(error)}") from None
    except psycopg.Error as error:
        raise StoreError(f"PostgreSQL at {where} refused a write: {_first_line(error)}") from None


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def migrations() -> list[tuple[int, str]]:
    found = []
    for entry in resources.files("quiz.store.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match[1]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def latest_version() -> int:
    return max(version for version, _ in migrations())


def safe_url(url: str) -> str:
    """The URL to name in messages: user, host, port and database, never the password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unreadable URL (QUIZ_STORE_URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname', '')}"


def check_reachable(url: str, where: str) -> None:
    """One direct connection first, so each way of failing gets its own sentence (the pool only retries)."""
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        # libpq's reason may quote the part it could not read, the password among them: not repeated.
        raise StoreError("QUIZ_STORE_URL cannot be read as a PostgreSQL URL (check its form and %-escapes)") from None
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        raise StoreError(_why_not(where, str(error))) from None


def _why_not(where: str, error: str) -> str:
    database = re.search(r'database "([^"]+)" does not exist', error)
    if database:
        return f"PostgreSQL at {where}: there is no database {database[1]!r}; create it (createdb {database[1]})"
    if "password authentication failed" in error or "no password supplied" in error:
        return f"PostgreSQL at {where} refused the user name or password in QUIZ_STORE_URL"
    if re.search(r'role "[^"]+" does not exist', error):
        return f"PostgreSQL at {where} has no such user; check the user name in QUIZ_STORE_URL"
    return f"cannot reach PostgreSQL at {where}: {_first_line(error)} (is the server running, is the address right?)"


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

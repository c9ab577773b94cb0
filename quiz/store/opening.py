"""Which store a server's settings name: PostgreSQL for a ``QUIZ_STORE_URL``, else the embedded one."""

from __future__ import annotations

from quiz.settings import Settings
from quiz.store.base import Store


def open_store(settings: Settings, *, writer: bool = True) -> Store:
    """The server's store. ``writer=False``: a command beside a running server (an export, an access request).

    The embedded store then opens read-only, without the writer's lock; PostgreSQL is shared anyway,
    but a command does not migrate its schema (a server, or ``quiz migrate``, does).
    """
    if settings.store_url:
        from quiz.store.postgres import PostgresStore  # psycopg loads only where it is used

        return PostgresStore(settings.store_url, migrate=writer)
    from quiz.store.tiny import TinyStore

    return TinyStore(settings.data_dir / "store", read_only=not writer)

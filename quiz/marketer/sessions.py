"""Dashboard sessions, kept in the store: signing out, or removing a user, ends them on every machine.

The cookie holds a random token; the store keeps only its SHA-256, so someone reading the store
cannot sign in with what they read. A session ends after ``IDLE_SECONDS`` without a request and
after ``MAX_SECONDS`` in all, whatever its use. Each has its own CSRF token for the forms it posts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from quiz.store.base import Store

COLLECTION = "sessions"
IDLE_SECONDS = 2 * 60 * 60
MAX_SECONDS = 12 * 60 * 60
TOUCH_EVERY = 60  # seconds: how often a session in use has its last request written down
MAX_TOKEN_CHARS = 100


@dataclass(frozen=True)
class Session:
    key: str  # the SHA-256 of the cookie's token: the record's id
    user: str
    csrf: str
    created: float
    seen: float

    def allows(self, csrf: str) -> bool:
        return hmac.compare_digest(csrf.encode(), self.csrf.encode())


class Sessions:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock

    def begin(self, user: str) -> tuple[str, Session]:
        """A new session for ``user``: the token for the cookie, and the session."""
        token = secrets.token_urlsafe(32)
        moment = self._clock()
        session = Session(_key(token), user, secrets.token_urlsafe(24), moment, moment)
        self.store.put(COLLECTION, session.key, _record(session))
        return token, session

    def find(self, token: str) -> Session | None:
        """The live session of a cookie's token, or None (unknown, idle too long, or too old)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        key = _key(token)
        record = self.store.get(COLLECTION, key)
        if record is None:
            return None
        moment = self._clock()
        try:
            session = Session(
                key, str(record["user"]), str(record["csrf"]), float(record["created"]), float(record["seen"])
            )
        except (KeyError, TypeError, ValueError):
            return None
        if moment - session.seen > IDLE_SECONDS or moment - session.created > MAX_SECONDS:
            self.store.remove(COLLECTION, key=key)
            return None
        if moment - session.seen > TOUCH_EVERY:
            session = Session(key, session.user, session.csrf, session.created, moment)
            self.store.update(COLLECTION, key, {"seen": moment, "expires": _expires(session)})
        return session

    def end(self, session: Session) -> None:
        self.store.remove(COLLECTION, key=session.key)

    def end_all(self, user: str) -> int:
        """End every session of a user (removed, or their password changed)."""
        return self.store.remove(COLLECTION, user=user)

    def prune(self, now: float) -> int:
        return self.store.remove_older(COLLECTION, "expires", now)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _expires(session: Session) -> float:
    return min(session.seen + IDLE_SECONDS, session.created + MAX_SECONDS)


def _record(session: Session) -> dict[str, object]:
    return {
        "key": session.key,
        "user": session.user,
        "csrf": session.csrf,
        "created": session.created,
        "seen": session.seen,
        "expires": _expires(session),
    }

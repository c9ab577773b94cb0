"""How many opt-ins a client, a quiz or an address may send, and chat codes a LINE user may try.

With the embedded store (one server process) the counts are kept in memory: a restart forgetting
them only lets a few more forms through. With a shared store they are counted in it, so N
processes allow what one does, not N times as much (``limiter_for`` chooses).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from quiz.store.base import Store

COLLECTION = "rate_limits"


@dataclass(frozen=True)
class Limit:
    attempts: int
    seconds: float


class Limiter(Protocol):
    def allow(self, key: str) -> bool:
        """Count an attempt for ``key`` unless it is over its limit; True if it may go ahead."""


class RateLimiter:
    """Sliding-window limits; at most ``max_keys`` keys are remembered, the least recently seen go first."""

    def __init__(self, limit: Limit, *, max_keys: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._max_keys = max_keys
        self._clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        """Count an attempt for ``key`` unless it is over its limit; True if it may go ahead."""
        moment = self._clock()
        recent = self._seen.pop(key, None) or deque()
        while recent and recent[0] <= moment - self.limit.seconds:
            recent.popleft()
        allowed = len(recent) < self.limit.attempts
        if allowed:
            recent.append(moment)
        self._seen[key] = recent
        if len(self._seen) > self._max_keys:
            self._seen.popitem(last=False)
        return allowed


class SharedRateLimiter:
    """Counts in the store, in fixed windows weighed into a sliding one (the previous window's share).

    Keys are kept as keyed hashes (an address is never stored here); records go when the prune runs.
    """

    def __init__(self, store: Store, name: str, limit: Limit, *, salt: str, clock: Callable[[], float] = time.time):
        self.store = store
        self.name = name
        self.limit = limit
        self._salt = salt.encode()
        self._clock = clock

    def allow(self, key: str) -> bool:
        now, seconds = self._clock(), self.limit.seconds
        window = int(now // seconds)
        hashed = hmac.new(self._salt, f"{self.name}:{key}".encode(), hashlib.sha256).hexdigest()[:32]
        expires = (window + 2) * seconds  # the next window still weighs this one
        count = self.store.increment(COLLECTION, f"{hashed}:{window}", "count", {"expires": expires})
        before = self.store.get(COLLECTION, f"{hashed}:{window - 1}")
        share = 1 - (now - window * seconds) / seconds  # of the previous window, still inside the sliding one
        return count - 1 + (int(before["count"]) if before else 0) * share < self.limit.attempts


def limiter_for(store: Store, name: str, limit: Limit, *, salt: str) -> Limiter:
    """Shared counts when processes share the store, else this process's memory (no store writes)."""
    if store.shared:
        return SharedRateLimiter(store, name, limit, salt=salt)
    return RateLimiter(limit)


def prune_limits(store: Store, *, now: float) -> int:
    return store.remove_older(COLLECTION, "expires", now)

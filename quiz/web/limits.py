"""Fixed-size memory of recent attempts per key: how many opt-ins a client, a quiz or an address may send.

In memory and per process on purpose: one server process writes a data folder (see quiz.store.tiny),
and a restart forgetting the counts only lets a few more forms through.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    attempts: int
    seconds: float


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

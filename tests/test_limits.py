"""Rate limits: in memory for one process, counted in the store when processes share it."""

from __future__ import annotations

from quiz.store.memory import MemoryStore
from quiz.web.limits import Limit, RateLimiter, SharedRateLimiter, limiter_for, prune_limits


class Clock:
    def __init__(self) -> None:
        self.now = 3_600_000.0  # the start of a window of 600 s

    def __call__(self) -> float:
        return self.now


def test_two_processes_sharing_a_store_allow_what_one_does_not_twice_as_much():
    store, clock = MemoryStore(), Clock()
    first = SharedRateLimiter(store, "optin_client", Limit(attempts=10, seconds=600), salt="k", clock=clock)
    second = SharedRateLimiter(store, "optin_client", Limit(attempts=10, seconds=600), salt="k", clock=clock)
    allowed = [(first if index % 2 else second).allow("10.0.0.1") for index in range(30)]
    assert allowed == [True] * 10 + [False] * 20
    assert first.allow("10.0.0.2")  # another client has its own count


def test_the_previous_window_weighs_in_as_a_sliding_window_and_then_lets_go():
    store, clock = MemoryStore(), Clock()
    limiter = SharedRateLimiter(store, "per_address", Limit(attempts=3, seconds=600), salt="k", clock=clock)
    assert [limiter.allow("a@example.com") for _ in range(3)] == [True, True, True]
    clock.now += 600 + 60  # into the next window: 90% of the last one still counts (2.7 attempts)
    assert limiter.allow("a@example.com") is True and limiter.allow("a@example.com") is False
    clock.now += 1200
    assert limiter.allow("a@example.com") is True


def test_counts_hold_no_address_and_are_pruned_once_spent():
    store, clock = MemoryStore(), Clock()
    limiter = SharedRateLimiter(store, "per_address", Limit(attempts=3, seconds=600), salt="k", clock=clock)
    limiter.allow("shopper@example.com")
    assert "shopper@example.com" not in repr(list(store.records("rate_limits")))
    assert prune_limits(store, now=clock.now) == 0
    assert prune_limits(store, now=clock.now + 1201) == 1


def test_the_embedded_store_keeps_counts_in_memory_and_a_shared_one_in_the_store():
    assert isinstance(limiter_for(MemoryStore(), "x", Limit(1, 1), salt="k"), RateLimiter)
    shared = MemoryStore()
    shared.shared = True  # type: ignore[misc]
    assert isinstance(limiter_for(shared, "x", Limit(1, 1), salt="k"), SharedRateLimiter)

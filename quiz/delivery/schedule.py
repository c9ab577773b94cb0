"""Scheduled work that runs once per period across every process sharing a store (the hourly prune).

A record per job in the store's ``schedule`` collection holds when it is next due; the process that
moves that time forward by compare-and-set is the one that runs it, so two machines never both do.
"""

from __future__ import annotations

from quiz.store.base import Store

COLLECTION = "schedule"


def my_turn(store: Store, job: str, *, every: float, now: float) -> bool:
    """True for exactly one caller per ``every`` seconds, whichever process asks first."""
    due = store.get(COLLECTION, job)
    if due is None:
        return store.insert_new(COLLECTION, job, {"next": now + every})
    if float(due["next"]) > now:
        return False
    return store.swap(COLLECTION, job, {"next": due["next"]}, {"next": now + every}) is not None

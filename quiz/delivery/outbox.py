"""All outbound work in the store's ``outbox`` collection: results and confirmation mail, LINE pushes and replies.

A job is enqueued inside the transaction of the change that causes it (an opt-in and its email are
kept together or not at all), under an idempotency key as its id, so enqueuing it twice keeps one.
Any process may deliver: a sender *takes* each due job, just before sending it, by compare-and-set
on its lease, so of two workers exactly one takes a job, and a job whose sender died is taken again
when its lease ends.
Erasure and access requests reach the jobs of every machine, since they are in the shared store.

A job record::

    kind        "mail" or "line"
    recipient   the address (case-folded) or LINE user id it goes to: what erasure looks for
    payload     what the sender needs (the message, a retry key...)
    status      "queued", or "failed" once given up on (kept for an access request, until erased)
    queued_at, next_at, attempts, last_error, lease (seconds since the epoch the claim lasts until)
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from quiz.delivery.backoff import GIVE_UP_AFTER, retry_delay
from quiz.store.base import Record, Store, Writes

COLLECTION = "outbox"
LEASE_SECONDS = 120.0  # longer than any one delivery takes (SMTP and LINE time out after 10 s)
CLAIM_AT_ONCE = 20  # jobs ``claim`` leases at once
DUE_AT_ONCE = 200  # jobs one delivery pass looks at; each is leased only as its turn comes


class Outbox:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self._passes: dict[str, threading.Lock] = {}  # one delivery pass per kind at a time, in this process
        self._passes_lock = threading.Lock()

    def deliver_due(self, kind: str, attempt: Callable[[Record], int], *, stopping: Callable[[], bool]) -> int:
        """One pass over the due jobs of ``kind``, oldest first: each taken, then ``attempt``-ed; how many went.

        When it returns, what was due has been tried: a second pass asked meanwhile in this process waits.
        """
        with self._passes_lock:
            passes = self._passes.setdefault(kind, threading.Lock())
        with passes:
            sent = 0
            for due in self.due(kind):
                if stopping():
                    break
                job = self.take(due)
                if job is not None:  # else another worker took it
                    sent += attempt(job)
            return sent

    def enqueue(
        self, kind: str, payload: dict[str, Any], *, recipient: str, key: str = "", writes: Writes | None = None
    ) -> str:
        """Queue a job (in ``writes``, the caller's transaction, if given); returns its id, the key if one is given."""
        now = self._clock()
        job_id = key or f"{int(now * 1000):013d}-{secrets.token_hex(6)}"
        job = {
            "kind": kind,
            "recipient": recipient,
            "payload": payload,
            "status": "queued",
            "queued_at": now,
            "next_at": 0.0,
            "attempts": 0,
            "last_error": None,
            "lease": 0.0,
        }
        (writes or self.store).insert_new(COLLECTION, job_id, job)
        return job_id

    def claim(self, kind: str, *, limit: int = CLAIM_AT_ONCE) -> list[Record]:
        """Due jobs of ``kind``, oldest first, each now leased to this caller alone."""
        return [taken for job in self.due(kind, limit=limit) if (taken := self.take(job)) is not None]

    def due(self, kind: str, *, limit: int = DUE_AT_ONCE) -> list[Record]:
        """Jobs of ``kind`` whose time has come and that nobody holds, oldest first (not yet taken)."""
        now = self._clock()
        due = [
            job
            for job in self.store.find(COLLECTION, kind=kind, status="queued")
            if float(job["next_at"]) <= now and float(job["lease"]) <= now
        ]
        return sorted(due, key=lambda job: (job["queued_at"], job["id"]))[:limit]

    def take(self, job: Record) -> Record | None:
        """Lease one due job just before working on it: the job as leased, or None if another took it first."""
        mine = self._clock() + LEASE_SECONDS + secrets.randbelow(1000) / 1e6  # unique: the lease is the claim
        # All that a retry or another claim changes: a stale copy of the job takes nothing.
        seen = {field: job[field] for field in ("lease", "status", "next_at", "attempts")}
        if self.store.swap(COLLECTION, job["id"], seen, {"lease": mine}) is None:
            return None
        return {**job, "lease": mine}

    def still_there(self, job: Record) -> bool:
        """Still this caller's: not erased, and its lease not passed to another (asked just before sending)."""
        current = self.store.get(COLLECTION, job["id"])
        return current is not None and current["lease"] == job["lease"] and current["lease"] > self._clock()

    def done(self, job: Record) -> None:
        """Sent: the job goes (and with it the only copy of the message), unless another has taken it since."""
        self.store.remove(COLLECTION, id=job["id"], lease=job["lease"])

    def retry(self, job: Record, error: str) -> bool:
        """Try again later with backoff; False (and the job given up on) once it has failed for three days."""
        attempts = int(job["attempts"]) + 1
        if self._clock() - float(job["queued_at"]) >= GIVE_UP_AFTER:
            self.give_up(job, f"still failing after {attempts} attempts: {error}", attempts=attempts)
            return False
        changes = {"attempts": attempts, "last_error": error[:500], "next_at": self._clock() + retry_delay(attempts)}
        self.store.swap(COLLECTION, job["id"], {"lease": job["lease"]}, {**changes, "lease": 0.0})
        return True

    def give_up(self, job: Record, error: str, *, attempts: int | None = None) -> None:
        changes = {"status": "failed", "last_error": error[:500], "lease": 0.0}
        changes["attempts"] = int(job["attempts"]) + 1 if attempts is None else attempts
        self.store.swap(COLLECTION, job["id"], {"lease": job["lease"]}, changes)

    def change(self, job: Record, payload: dict[str, Any]) -> Record:
        """Replace a claimed job's payload (a LINE reply turned into a push); returns the job as it now is."""
        self.store.swap(COLLECTION, job["id"], {"lease": job["lease"]}, {"payload": payload})
        return {**job, "payload": payload}

    def forget(self, recipient: str, *, writes: Writes | None = None) -> int:
        """Erase every queued and failed job to ``recipient``; returns how many went."""
        return (writes or self.store).remove(COLLECTION, recipient=recipient)

    def pending(self, recipient: str) -> list[Record]:
        return self.store.find(COLLECTION, recipient=recipient)

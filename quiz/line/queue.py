"""Messages to LINE users, waiting in the store's outbox (``quiz.delivery.outbox``), sent by a background thread.

A push carries a retry key (``X-Line-Retry-Key``) fixed when it is queued, so a retry after a
timeout, or by another worker after a crash, never shows the shopper the same results twice.
Before every push the queue asks whether the user may still receive it: someone who blocked the
account or withdrew meanwhile gets nothing. A reply whose token LINE no longer takes becomes a
push, under the same rule. What LINE refuses for good is kept as failed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from quiz.delivery.backoff import DeliveryThread
from quiz.delivery.outbox import Outbox
from quiz.line.api import LineApi, LineError
from quiz.store.base import Record, Writes

log = logging.getLogger(__name__)


class LineQueue:
    def __init__(self, outbox: Outbox, api: LineApi, may_push: Callable[[str], bool]) -> None:
        self.outbox = outbox
        self.api = api
        self.may_push = may_push
        self._delivery = DeliveryThread("quiz-line", self.deliver_due, log)

    def push(self, to: str, messages: list[dict[str, Any]], *, about: str = "", writes: Writes | None = None) -> str:
        """Queue a push to ``to`` (``about``: the response it carries, for the caller's records)."""
        return self._enqueue({"kind": "push", "to": to, "messages": messages, "about": about}, writes)

    def reply(self, reply_token: str, to: str, messages: list[dict[str, Any]], *, about: str = "") -> str:
        job = {"kind": "reply", "reply_token": reply_token, "to": to, "messages": messages, "about": about}
        return self._enqueue(job, None)

    def deliver_due(self) -> int:
        """One pass over the messages whose time has come, oldest first; returns how many LINE took."""
        return self.outbox.deliver_due("line", self._attempt, stopping=lambda: self._delivery.stopping)

    def start(self) -> None:
        self._delivery.start()

    def close(self, *, timeout: float = 15) -> None:
        self._delivery.close(timeout=timeout)

    def forget(self, user_id: str, *, writes: Writes | None = None) -> int:
        """Erase every queued and failed message to ``user_id``; returns how many went."""
        return self.outbox.forget(user_id, writes=writes)

    def pending(self, user_id: str) -> list[dict[str, Any]]:
        return pending_messages(self.outbox, user_id)

    def _enqueue(self, payload: dict[str, Any], writes: Writes | None) -> str:
        payload["retry_key"] = str(uuid.uuid4())
        job_id = self.outbox.enqueue("line", payload, recipient=payload["to"], writes=writes)
        self._delivery.wake()
        return job_id

    def _attempt(self, job: Record) -> int:
        message = job["payload"]
        if not isinstance(message, dict) or not {"kind", "to", "messages"} <= set(message):
            self.outbox.give_up(job, "the queued message is damaged; it cannot be sent")
            log.warning("Gave up on LINE message %s: its queued copy is damaged", job["id"])
            return 0
        if message["kind"] == "push" and not self.may_push(message["to"]):
            log.info("LINE message %s dropped: the user blocked the account or withdrew", job["id"])
            self.outbox.done(job)
            return 0
        try:
            if message["kind"] == "reply":
                self.api.reply(message["reply_token"], message["messages"])
            else:
                self.api.push(message["to"], message["messages"], retry_key=message["retry_key"])
        except LineError as error:
            if message["kind"] == "reply" and not error.retry:
                # The reply token expired or was used: the results still go, as a push (if allowed).
                return self._attempt(self.outbox.change(job, {**message, "kind": "push", "reply_token": ""}))
            if error.retry and self.outbox.retry(job, str(error)):
                attempt = job["attempts"] + 1
                log.info("LINE message %s not sent (attempt %d), retrying later: %s", job["id"], attempt, error)
                return 0
            if not error.retry:  # else retry() gave up: three days of failures
                self.outbox.give_up(job, str(error))
            log.warning("Gave up on LINE message %s: %s", job["id"], error)
            return 0
        self.outbox.done(job)
        return 1


def pending_messages(outbox: Outbox, user_id: str) -> list[dict[str, Any]]:
    """Summaries of the messages waiting for (or given up on) ``user_id``, for an access request."""
    return [
        {"id": job["id"], "status": job["status"], "kind": job["payload"].get("kind"), "attempts": job["attempts"]}
        for job in outbox.pending(user_id)
    ]

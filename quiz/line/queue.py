"""Messages to LINE users that survive restarts: one JSON file per message, sent by a background thread.

``DATA_DIR/line/queue/<id>.json`` holds the message and its delivery state; ``failed/`` keeps what
LINE refused for good. A push carries a retry key (``X-Line-Retry-Key``), so a retry after a
timeout never shows the shopper the same results twice. Before every push the queue asks whether
the user may still receive it: someone who blocked the account or withdrew meanwhile gets nothing.
A reply whose token LINE no longer takes becomes a push, under the same rule.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from quiz.delivery.backoff import GIVE_UP_AFTER, DeliveryThread, retry_delay
from quiz.line.api import LineApi, LineError
from quiz.store.files import fsync_folders, write_atomically

log = logging.getLogger(__name__)

Job = dict[str, Any]


class LineQueue:
    def __init__(
        self,
        folder: Path,
        api: LineApi,
        may_push: Callable[[str], bool],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.may_push = may_push
        self._queued = folder / "queue"
        self._failed = folder / "failed"
        self._clock = clock
        self._sending = threading.Lock()  # one pass at a time; forget() waits for a message in flight
        self._delivery = DeliveryThread("quiz-line", self.deliver_due, log)
        self._queued.mkdir(parents=True, exist_ok=True)
        self._failed.mkdir(parents=True, exist_ok=True)

    def push(self, to: str, messages: list[dict[str, Any]], *, about: str = "") -> str:
        """Queue a push to ``to`` (``about``: the response it carries, for the caller's records)."""
        return self._enqueue({"kind": "push", "to": to, "messages": messages, "about": about})

    def reply(self, reply_token: str, to: str, messages: list[dict[str, Any]], *, about: str = "") -> str:
        return self._enqueue(
            {"kind": "reply", "reply_token": reply_token, "to": to, "messages": messages, "about": about}
        )

    def deliver_due(self) -> int:
        """One pass over the messages whose time has come, oldest first; returns how many LINE took."""
        sent = 0
        with self._sending:
            for path, job in sorted(self._jobs(self._queued), key=lambda pair: (pair[1]["queued_at"], pair[0].name)):
                if self._delivery.stopping:
                    break
                if job["next_at"] <= self._clock():
                    sent += self._attempt(path, job)
        return sent

    def start(self) -> None:
        self._delivery.start()

    def close(self, *, timeout: float = 15) -> None:
        self._delivery.close(timeout=timeout)

    def forget(self, user_id: str) -> int:
        """Erase every queued and failed message to ``user_id``; returns how many went."""
        with self._sending:
            return erase_messages(self._queued.parent, user_id)

    def pending(self, user_id: str) -> list[dict[str, Any]]:
        return pending_messages(self._queued.parent, user_id)

    def _enqueue(self, job: Job) -> str:
        now = self._clock()
        job.update(retry_key=str(uuid.uuid4()), queued_at=now, attempts=0, next_at=0.0, last_error=None)
        message_id = f"{int(now * 1000):013d}-{secrets.token_hex(4)}"
        write_atomically(self._queued / f"{message_id}.json", json.dumps(job, ensure_ascii=False).encode())
        self._delivery.wake()
        return message_id

    def _attempt(self, path: Path, job: Job) -> int:
        if job["kind"] == "push" and not self.may_push(job["to"]):
            log.info("LINE message %s dropped: the user blocked the account or withdrew", path.stem)
            self._remove(path)
            return 0
        try:
            if job["kind"] == "reply":
                self.api.reply(job["reply_token"], job["messages"])
            else:
                self.api.push(job["to"], job["messages"], retry_key=job["retry_key"])
        except LineError as error:
            if job["kind"] == "reply" and not error.retry:
                # The reply token expired or was used: the results still go, as a push (if allowed).
                job.update(kind="push", reply_token="", last_error=str(error)[:500])
                write_atomically(path, json.dumps(job, ensure_ascii=False).encode())
                return self._attempt(path, job)
            self._failed_attempt(path, job, error)
            return 0
        self._remove(path)
        return 1

    def _failed_attempt(self, path: Path, job: Job, error: LineError) -> None:
        job["attempts"] += 1
        job["last_error"] = str(error)[:500]
        if not error.retry or self._clock() - job["queued_at"] >= GIVE_UP_AFTER:
            write_atomically(self._failed / path.name, json.dumps(job, ensure_ascii=False).encode())
            self._remove(path)
            log.warning("Gave up on LINE message %s: %s", path.stem, job["last_error"])
            return
        job["next_at"] = self._clock() + retry_delay(job["attempts"])
        write_atomically(path, json.dumps(job, ensure_ascii=False).encode())
        log.info("LINE message %s not sent (attempt %d), retrying later: %s", path.stem, job["attempts"], error)

    def _remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        fsync_folders([path.parent])

    def _jobs(self, folder: Path) -> Iterator[tuple[Path, Job]]:
        for path in sorted(folder.glob("*.json")):
            try:
                yield path, json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue  # sent or forgotten meanwhile
            except ValueError as error:
                log.warning("LINE message %s is unreadable (%s); moved to %s", path.stem, error, self._failed)
                os.replace(path, self._failed / f"{path.stem}.damaged")


def erase_messages(folder: Path, user_id: str) -> int:
    """Erase the queued and failed messages to ``user_id`` in a LINE queue folder (also with no server running)."""
    erased = 0
    for kept in (folder / "queue", folder / "failed"):
        for path, job in _readable(kept):
            if job.get("to") == user_id:
                path.unlink(missing_ok=True)
                erased += 1
    fsync_folders([kept for kept in (folder / "queue", folder / "failed") if kept.is_dir()])
    return erased


def pending_messages(folder: Path, user_id: str) -> list[dict[str, Any]]:
    """Summaries of the messages waiting for (or given up on) ``user_id``, for an access request."""
    found = []
    for status in ("queue", "failed"):
        for path, job in _readable(folder / status):
            if job.get("to") == user_id:
                found.append(
                    {"id": path.stem, "status": status, "kind": job.get("kind"), "attempts": job.get("attempts")}
                )
    return found


def _readable(folder: Path) -> Iterator[tuple[Path, Job]]:
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            yield path, json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue

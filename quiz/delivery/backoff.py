"""When queued messages are tried: the retry schedule and the thread, shared by the mail and LINE queues."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from quiz.errors import Unavailable

FIRST_RETRY = 30.0  # seconds; doubles after each failed attempt
LONGEST_RETRY = 60 * 60.0  # seconds: one hour
GIVE_UP_AFTER = 3 * 24 * 60 * 60.0  # seconds: three days, as mail servers do
POLL_EVERY = 1.0  # seconds between delivery passes when nothing wakes a queue's thread


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: 30 s, 60 s, 120 s ... up to an hour."""
    return float(min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY))


class DeliveryThread:
    """Runs a queue's ``deliver_due`` in a daemon thread: every ``POLL_EVERY`` seconds, and at once when woken."""

    def __init__(self, name: str, deliver_due: Callable[[], int], log: logging.Logger) -> None:
        self.name = name
        self._deliver_due = deliver_due
        self._log = log
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """Set by ``close``: a pass in progress stops before its next message."""
        return self._stopping.is_set()

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def close(self, *, timeout: float) -> None:
        """Stop the thread; a message being sent finishes (or times out) first."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._deliver_due()
            except Unavailable as error:  # the store is away (a database restart): said once a pass, briefly
                self._log.warning("%s: nothing delivered this pass: %s", self.name, error)
            except Exception:  # a full disk must not end delivery for good
                self._log.exception("%s: a delivery pass failed; trying again shortly", self.name)
            self._wake.wait(POLL_EVERY)
            self._wake.clear()

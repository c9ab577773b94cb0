"""Outgoing mail that survives restarts: a queue of files on disk, delivered by one background thread.

Layout of the queue folder (``DATA_DIR/mail``)::

    queue/<id>.eml    the message, exactly as it will be sent
    queue/<id>.json   its delivery state: queued_at, attempts, next_at, last_error
    failed/<id>.*     messages given up on (refused for good, or still failing after three days)

Every file is written to a temporary ``.<name>.tmp``, fsynced and renamed, then the folder is fsynced:
after a crash a message is either queued whole or not at all. The ``.eml`` file is the message's
existence; recipients are read from its headers, so a damaged ``.json`` costs only the retry schedule.
"""

from __future__ import annotations

import email.policy
import json
import logging
import os
import re
import secrets
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

from quiz.consent import iso_time
from quiz.delivery.backoff import GIVE_UP_AFTER, DeliveryThread, retry_delay
from quiz.settings import Settings, Smtp
from quiz.store.files import fsync_folders, write_atomically

log = logging.getLogger(__name__)


class PermanentFailure(Exception):
    """The mail server refused the message for good (a 5xx reply): retrying cannot help."""


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver or raise: PermanentFailure for a final refusal, any other exception to retry later."""


class SMTPTransport:
    """Delivers through a mail server, one connection per message (the queue sends a handful a minute)."""

    def __init__(self, smtp: Smtp, *, timeout: float = 10) -> None:
        self.smtp = smtp
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        try:
            with self._connect() as client:
                if self.smtp.user:
                    client.login(self.smtp.user, self.smtp.password)
                refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            if all(code >= 500 for code, _ in error.recipients.values()):
                raise PermanentFailure(f"every recipient refused: {_replies(error.recipients)}") from None
            raise
        except smtplib.SMTPDataError as error:
            if error.smtp_code >= 500:
                raise PermanentFailure(f"message refused: {error.smtp_code} {_text(error.smtp_error)}") from None
            raise
        if refused:  # some recipients took it; retrying would send them a second copy
            log.warning("Mail server refused %d of the recipients: %s", len(refused), _replies(refused))

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self.smtp.host, self.smtp.port, self.timeout
        if self.smtp.tls == "tls":
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        client = smtplib.SMTP(host, port, timeout=timeout)
        if self.smtp.tls == "starttls":
            try:
                client.starttls(context=ssl.create_default_context())
            except BaseException:
                client.close()
                raise
        return client


def _replies(recipients: dict[str, tuple[int, bytes]]) -> str:
    """The server's replies without the addresses, which logs and state files must not keep."""
    return ", ".join(f"{code} {_without(_text(reply), address)}" for address, (code, reply) in recipients.items())


def _without(text: str, *addresses: str) -> str:
    """``text`` with each of ``addresses`` (any letter case) replaced by a placeholder."""
    for address in addresses:
        text = re.sub(re.escape(address), "<recipient>", text, flags=re.IGNORECASE)
    return text


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


class FolderTransport:
    """Writes each message as a ``.eml`` file, for a developer running the server without a mail server."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.folder / f"{stamp}-{secrets.token_hex(4)}.eml", message.as_bytes())


def transport_for(settings: Settings) -> Transport:
    """The mail server when one is configured, else ``DATA_DIR/outbox``."""
    if settings.smtp is not None:
        return SMTPTransport(settings.smtp)
    return FolderTransport(settings.data_dir / "outbox")


@dataclass
class _State:
    queued_at: float
    attempts: int = 0
    next_at: float = 0.0
    last_error: str | None = None


class MailQueue:
    """Queue mail on disk and deliver it in the background, retrying with backoff.

    ``queue = MailQueue(settings.data_dir / "mail", transport_for(settings)); queue.start()``,
    then ``queue.enqueue(message)`` from any thread, and ``queue.close()`` on shutdown.
    """

    def __init__(self, folder: Path, transport: Transport, *, clock: Callable[[], float] = time.time) -> None:
        self.transport = transport
        self._queued = folder / "queue"
        self._failed = folder / "failed"
        self._clock = clock
        self._files = threading.Lock()  # a record's files change under it: delivery against forget()
        self._sending = threading.Lock()  # one message from read to sent: forget() waits for it
        self._passes = threading.Lock()  # one delivery pass at a time, so no message is sent twice
        self._delivery = DeliveryThread("quiz-mailer", self.deliver_due, log)
        # Only folders: a reader beside a running server (``quiz subject``) must not delete the files
        # an enqueue of that server is writing (its temporary file, then its state before the .eml).
        self._queued.mkdir(parents=True, exist_ok=True)
        self._failed.mkdir(parents=True, exist_ok=True)

    def enqueue(self, message: EmailMessage) -> str:
        """Store the message durably and return its id; the background thread sends it.

        Adds Date and Message-ID headers when missing, so every retry is recognisably the same message.
        """
        now = self._clock()
        _stamp_identity(message, now)
        message_id = f"{datetime.fromtimestamp(now, UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(6)}"
        # The state first: an .eml never appears without it, and a lone .json is cleaned at the next start.
        self._write_state(self._queued, message_id, _State(queued_at=now))
        write_atomically(self._queued / f"{message_id}.eml", message.as_bytes())
        self._delivery.wake()
        return message_id

    def deliver_due(self) -> int:
        """One pass over the messages whose time has come, oldest first; returns how many were sent."""
        with self._passes:
            sent = 0
            due = [(state, message_id) for message_id, state in self._records(self._queued)]
            for state, message_id in sorted(due, key=lambda pair: (pair[0].queued_at, pair[1])):
                if self._delivery.stopping:
                    break
                if state.next_at <= self._clock():
                    sent += self._attempt(message_id, state)
            return sent

    def start(self) -> None:
        """Clear what a crash left half-written, then deliver in a daemon thread, every second and on enqueue.

        Only the process that delivers (the server, which holds the data folder) starts the queue.
        """
        self.recover()
        self._delivery.start()

    def close(self, *, timeout: float = 15) -> None:
        """Stop the thread; a message being sent finishes (or times out) first."""
        self._delivery.close(timeout=timeout)

    def forget(self, address: str, *, also_in: Iterable[Path] = ()) -> int:
        """Erase every queued, failed and outbox message to ``address``; returns how many messages went.

        The outbox of a FolderTransport in use is always included; ``also_in`` adds other folders of ``.eml``.
        """
        folders = [self._queued, self._failed, *also_in]
        if isinstance(self.transport, FolderTransport):
            folders.append(self.transport.folder)
        erased = 0
        with self._sending, self._files:
            for folder in dict.fromkeys(folders):  # once each, in order
                for path in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
                    if _addressed_to(path, address):
                        _remove(path)
                        _remove(path.with_suffix(".json"))
                        erased += 1
            fsync_folders(dict.fromkeys(folders))
        return erased

    def pending(self, address: str) -> list[dict[str, object]]:
        """Summaries of the queued, failed and outbox messages to ``address``, for a data-subject access export."""
        found: list[dict[str, object]] = []
        folders = [("queued", self._queued), ("failed", self._failed)]
        if isinstance(self.transport, FolderTransport):
            folders.append(("outbox", self.transport.folder))
        for status, folder in folders:
            for message_id, state in self._records(folder, quiet=status == "outbox"):
                headers = _headers(folder / f"{message_id}.eml")
                if headers is not None and address.casefold() in _recipients(headers):
                    found.append(_summary(message_id, status, state, str(headers.get("Subject", ""))))
        return found

    def _attempt(self, message_id: str, state: _State) -> int:
        path = self._queued / f"{message_id}.eml"
        with self._sending:  # else forget() could erase the queued copy while it lands in the outbox
            try:
                message = email.message_from_bytes(path.read_bytes(), _class=EmailMessage, policy=email.policy.default)
            except FileNotFoundError:  # forgotten since the pass began
                return 0
            recipients = _recipients(message)
            try:
                self.transport.send(message)
            except PermanentFailure as error:
                state.attempts += 1
                self._give_up(message_id, state, _without(str(error), *recipients))
                return 0
            except Exception as error:
                self._retry_later(message_id, state, _without(f"{type(error).__name__}: {error}", *recipients))
                return 0
            with self._files:
                _remove(path)
                _remove(path.with_suffix(".json"))
                fsync_folders([self._queued])
        log.info("Sent mail %s after %d earlier attempts", message_id, state.attempts)
        return 1

    def _retry_later(self, message_id: str, state: _State, reason: str) -> None:
        now = self._clock()
        state.attempts += 1
        state.last_error = reason[:500]
        if now - state.queued_at >= GIVE_UP_AFTER:
            self._give_up(message_id, state, f"still failing after {state.attempts} attempts: {reason}")
            return
        state.next_at = now + retry_delay(state.attempts)
        with self._files:
            if (self._queued / f"{message_id}.eml").exists():
                self._write_state(self._queued, message_id, state)
        log.info("Mail %s not sent (attempt %d), retrying later: %s", message_id, state.attempts, state.last_error)

    def _give_up(self, message_id: str, state: _State, reason: str) -> None:
        state.last_error = reason[:500]
        with self._files:
            message = self._queued / f"{message_id}.eml"
            if not message.exists():
                return
            self._write_state(self._failed, message_id, state)
            os.replace(message, self._failed / message.name)
            _remove(self._queued / f"{message_id}.json")
            fsync_folders([self._failed, self._queued])
        log.warning("Gave up on mail %s (kept in %s): %s", message_id, self._failed, state.last_error)

    def _records(self, folder: Path, *, quiet: bool = False) -> Iterator[tuple[str, _State]]:
        for path in sorted(folder.glob("*.eml")):
            state = self._read_state(path, quiet=quiet)
            if state is not None:
                yield path.stem, state

    def _read_state(self, message: Path, *, quiet: bool = False) -> _State | None:
        """The message's delivery state; an outbox copy (``quiet``) has none, only its file's time."""
        try:
            raw = json.loads(message.with_suffix(".json").read_text(encoding="utf-8"))
            return _State(
                queued_at=float(raw["queued_at"]),
                attempts=int(raw["attempts"]),
                next_at=float(raw["next_at"]),
                last_error=None if raw["last_error"] is None else str(raw["last_error"]),
            )
        except (OSError, ValueError, TypeError, KeyError) as error:
            try:
                queued_at = message.stat().st_mtime
            except FileNotFoundError:  # sent or forgotten meanwhile
                return None
            if not quiet:
                log.warning("Mail %s has an unreadable state file (%s); sending it as new", message.stem, error)
            return _State(queued_at=queued_at)

    def _write_state(self, folder: Path, message_id: str, state: _State) -> None:
        write_atomically(folder / f"{message_id}.json", json.dumps(asdict(state)).encode())

    def recover(self) -> None:
        """Remove what a crash left: temporary files, and states whose message never landed."""
        for folder in (self._queued, self._failed):
            for temporary in folder.glob(".*.tmp"):
                _remove(temporary)
            for state in folder.glob("*.json"):
                if not state.with_suffix(".eml").exists():
                    _remove(state)


def _stamp_identity(message: EmailMessage, now: float) -> None:
    """Fix Message-ID and Date once, so a retried message is the same message to the receiving server."""
    if "Date" not in message:
        message["Date"] = formatdate(now, usegmt=True)
    if "Message-ID" not in message:
        # A domain given avoids make_msgid()'s DNS lookup of this host, which could block the request.
        domain = parseaddr(str(message.get("From", "")))[1].rpartition("@")[2] or "localhost"
        message["Message-ID"] = make_msgid(domain=domain)


def _headers(path: Path) -> EmailMessage | None:
    try:
        with path.open("rb") as file:
            parsed = BytesHeaderParser(_class=EmailMessage, policy=email.policy.default).parse(file)
    except FileNotFoundError:
        return None
    assert isinstance(parsed, EmailMessage)
    return parsed


def _recipients(headers: EmailMessage) -> set[str]:
    values = [str(value) for field in ("To", "Cc", "Bcc") for value in headers.get_all(field, [])]
    return {address.casefold() for _, address in getaddresses(values) if address}


def _addressed_to(path: Path, address: str) -> bool:
    headers = _headers(path)
    return headers is not None and address.casefold() in _recipients(headers)


def _summary(message_id: str, status: str, state: _State, subject: str) -> dict[str, object]:
    return {
        "id": message_id,
        "status": status,
        "subject": subject,
        "attempts": state.attempts,
        "queued_at": iso_time(state.queued_at),
    }


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)

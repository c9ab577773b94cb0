"""Outgoing mail: transports (a mail server, or a folder for development) and the queue that feeds them.

Messages wait in the store's outbox (``quiz.delivery.outbox``), exactly as they will be sent, with
their recipients beside them for erasure. A message refused for good (a 5xx reply), or still
failing after three days, is kept there as failed.
"""

from __future__ import annotations

import base64
import email.policy
import logging
import re
import secrets
import smtplib
import ssl
import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

from quiz.consent import iso_time
from quiz.delivery.backoff import DeliveryThread
from quiz.delivery.outbox import Outbox
from quiz.settings import Settings, Smtp
from quiz.store.base import Record, Writes
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


class MailQueue:
    """Mail waiting in the store's outbox (``quiz.delivery.outbox``), delivered by a background thread.

    ``queue = MailQueue(Outbox(store), transport_for(settings)); queue.start()``, then
    ``queue.enqueue(message, writes=...)`` inside the transaction that causes the mail, and
    ``queue.close()`` on shutdown. Every server process may run one: a message is claimed by one.
    """

    def __init__(self, outbox: Outbox, transport: Transport) -> None:
        self.outbox = outbox
        self.transport = transport
        self._sending = threading.Lock()  # one message from read to sent: forget() waits for it
        self._delivery = DeliveryThread("quiz-mailer", self.deliver_due, log)

    def enqueue(self, message: EmailMessage, *, writes: Writes | None = None) -> str:
        """Queue the message (in the caller's transaction ``writes``, if given); returns its id.

        Adds Date and Message-ID headers when missing, so every retry is recognisably the same message.
        """
        _stamp_identity(message, time.time())
        recipients = sorted(_recipients(message))
        if len(recipients) != 1:  # one address per message: erasure and access find it by that address
            raise ValueError(f"a queued message goes to one address, not {len(recipients)}")
        payload = {"message": base64.b64encode(message.as_bytes()).decode(), "subject": str(message["Subject"] or "")}
        job_id = self.outbox.enqueue("mail", payload, recipient=recipients[0], writes=writes)
        self._delivery.wake()
        return job_id

    def deliver_due(self) -> int:
        """One pass over the messages whose time has come, oldest first; returns how many were sent."""
        return self.outbox.deliver_due("mail", self._attempt, stopping=lambda: self._delivery.stopping)

    def start(self) -> None:
        """Deliver in a daemon thread, every second and on enqueue."""
        self._delivery.start()

    def close(self, *, timeout: float = 15) -> None:
        """Stop the thread; a message being sent finishes (or times out) first."""
        self._delivery.close(timeout=timeout)

    def forget(self, address: str, *, writes: Writes | None = None) -> int:
        """Erase every queued and failed message to ``address``, and the developer outbox's copies; how many went."""
        with self._sending:  # a message on its way is sent (or skipped) first, then its copies go too
            erased = self.outbox.forget(address.casefold(), writes=writes)
            if isinstance(self.transport, FolderTransport) and self.transport.folder.is_dir():
                erased += self._forget_delivered(address)
        return erased

    def _forget_delivered(self, address: str) -> int:
        erased = 0
        if isinstance(self.transport, FolderTransport):
            for path in sorted(self.transport.folder.glob("*.eml")):
                if _addressed_to(path, address):
                    path.unlink(missing_ok=True)
                    erased += 1
            fsync_folders([self.transport.folder])
        return erased

    def pending(self, address: str) -> list[dict[str, object]]:
        """Summaries of the queued, failed and outbox messages to ``address``, for a data-subject access export."""
        found = [_summary(job) for job in self.outbox.pending(address.casefold())]
        if isinstance(self.transport, FolderTransport) and self.transport.folder.is_dir():
            for path in sorted(self.transport.folder.glob("*.eml")):
                headers = _headers(path)
                if headers is not None and address.casefold() in _recipients(headers):
                    summary = {"id": path.stem, "status": "outbox", "subject": str(headers.get("Subject", ""))}
                    found.append({**summary, "attempts": 0, "queued_at": iso_time(path.stat().st_mtime)})
        return found

    def _attempt(self, job: Record) -> int:
        try:
            raw = base64.b64decode(job["payload"]["message"], validate=True)
        except (KeyError, TypeError, ValueError) as error:
            self.outbox.give_up(job, f"the queued message is damaged ({type(error).__name__}); it cannot be sent")
            log.warning("Gave up on mail %s: its queued copy is damaged", job["id"])
            return 0
        message = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
        with self._sending:  # from the check to the job's end: an erasure waits, then finds every copy
            if not self.outbox.still_there(job):
                return 0  # erased since it was claimed
            return self._send(job, message)

    def _send(self, job: Record, message: EmailMessage) -> int:
        recipients = _recipients(message)
        try:
            self.transport.send(message)
        except PermanentFailure as error:
            reason = _without(str(error), *recipients)
            self.outbox.give_up(job, reason)
            log.warning("Gave up on mail %s: %s", job["id"], reason)
            return 0
        except Exception as error:
            reason = _without(f"{type(error).__name__}: {error}", *recipients)
            if self.outbox.retry(job, reason):
                log.info("Mail %s not sent (attempt %d), retrying later: %s", job["id"], job["attempts"] + 1, reason)
            else:
                log.warning("Gave up on mail %s after three days: %s", job["id"], reason)
            return 0
        self.outbox.done(job)
        log.info("Sent mail %s after %d earlier attempts", job["id"], job["attempts"])
        return 1


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


def _summary(job: Record) -> dict[str, object]:
    return {
        "id": job["id"],
        "status": job["status"],
        "subject": job["payload"].get("subject", ""),
        "attempts": job["attempts"],
        "queued_at": iso_time(job["queued_at"]),
        "last_error": job["last_error"],
    }

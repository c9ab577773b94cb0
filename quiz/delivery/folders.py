"""Messages an earlier version queued as files (``DATA_DIR/mail``, ``DATA_DIR/line``), moved into the outbox once.

Run by a server at start: each message becomes an outbox job under its file's name (so a second
run, after a crash half-way, adds nothing twice), then its files are deleted. Messages that were
given up on come in as failed, kept for access requests as before.
"""

from __future__ import annotations

import base64
import email.policy
import json
import logging
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from quiz.delivery.outbox import COLLECTION, Outbox

log = logging.getLogger(__name__)


def move_folder_queues(data_dir: Path, outbox: Outbox) -> int:
    moved = 0
    for status, folder in (("queued", data_dir / "mail" / "queue"), ("failed", data_dir / "mail" / "failed")):
        for message in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
            moved += _move(outbox, message.stem, "mail", _mail_payload(message), _mail_recipient(message), status)
            message.with_suffix(".json").unlink(missing_ok=True)
            message.unlink()
    for status, folder in (("queued", data_dir / "line" / "queue"), ("failed", data_dir / "line" / "failed")):
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                job = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # unreadable: left where it is, as the old queue left it
            payload = {key: job.get(key) for key in ("kind", "to", "messages", "about", "reply_token", "retry_key")}
            moved += _move(outbox, path.stem, "line", payload, str(job.get("to", "")), status)
            path.unlink()
    if moved:
        log.info("Moved %d queued messages from the data folder into the outbox", moved)
    return moved


def _move(outbox: Outbox, name: str, kind: str, payload: dict[str, Any], recipient: str, status: str) -> int:
    job_id = f"folder-{name}"
    outbox.enqueue(kind, payload, recipient=recipient, key=job_id)
    if status == "failed":
        outbox.store.update(COLLECTION, job_id, {"status": "failed"})
    return 1


def _mail_payload(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"message": base64.b64encode(data).decode(), "subject": str(_headers(data).get("Subject", ""))}


def _mail_recipient(path: Path) -> str:
    headers = _headers(path.read_bytes())
    values = [str(value) for field in ("To", "Cc", "Bcc") for value in headers.get_all(field, [])]
    return ",".join(sorted({address.casefold() for _, address in getaddresses(values) if address}))


def _headers(data: bytes) -> EmailMessage:
    parsed = BytesHeaderParser(_class=EmailMessage, policy=email.policy.default).parsebytes(data)
    assert isinstance(parsed, EmailMessage)
    return parsed

"""The durable record of who did what to personal data: exports, dashboard sign-ins, erasures.

With a shared store (PostgreSQL) each entry is a record in its ``audit`` collection, whichever
machine wrote it. With the embedded store it is one JSON line appended to ``DATA_DIR/audit.log``,
by the server and by ``quiz export`` alike: the command opens the store read-only next to the
running server, so the record cannot go into the store. O_APPEND keeps lines from two processes
whole; fsync keeps them through a crash. (Earlier versions named the file ``exports.log``; it is
renamed on the first entry.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from quiz.consent import now
from quiz.store.base import Store

log = logging.getLogger(__name__)

LOG_NAME = "audit.log"
EARLIER_LOG_NAME = "exports.log"


class AuditTrail:
    """Where entries go: the store's ``audit`` collection when it is shared, else the log file."""

    def __init__(self, data_dir: Path, store: Store) -> None:
        self.path = data_dir / LOG_NAME
        self.store = store if store.shared else None

    def check(self) -> None:
        """Raise OSError now if the log cannot be written, so nothing happens that could not be recorded."""
        if self.store is None:
            os.close(_open_for_append(self.path))

    def record(self, action: str, who: str, **details: Any) -> None:
        entry = {"at": now(), "action": action, "who": who, **details}
        if self.store is not None:
            self.store.add("audit", entry)
        else:
            _append(self.path, entry)


class ExportAudit:
    """One export's audit line: the file is checked before the first row, written when the stream ends.

    audit = ExportAudit(data_dir, store, who="cli:alice", filters=wanted.as_dict(), format="csv")
    ...  # stream the rows
    audit.finish(rows=120, complete=True)
    """

    def __init__(
        self, data_dir: Path, store: Store, *, who: str, filters: dict[str, Any], format: str, excel: bool = False
    ) -> None:
        self.trail = AuditTrail(data_dir, store)
        self.who = who
        self.entry: dict[str, Any] = {"filters": filters, "format": format, "excel": excel}
        self._finished = False
        # Opened now so an export that could not be recorded never starts; closed again so an export
        # whose stream never begins (a client gone at once) leaks no descriptor.
        self.trail.check()

    def finish(self, *, rows: int, complete: bool) -> None:
        """Append the line (once); ``complete`` is False when the export failed or its reader went away."""
        if self._finished:
            return
        self._finished = True
        self.trail.record("export", self.who, **self.entry, rows=rows, complete=complete)
        ending = "" if complete else " (stopped before the end)"
        log.info(
            "export by %s: %d rows as %s, filters %s%s",
            self.who,
            rows,
            self.entry["format"],
            self.entry["filters"],
            ending,
        )


def _append(path: Path, entry: dict[str, Any]) -> None:
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
    descriptor = _open_for_append(path)
    try:
        written = 0
        while written < len(line):
            written += os.write(descriptor, line[written:])
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _open_for_append(path: Path) -> int:
    earlier = path.with_name(EARLIER_LOG_NAME)
    if earlier.exists() and not path.exists():
        with contextlib.suppress(FileNotFoundError):  # another process renamed it first
            os.rename(earlier, path)
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # personal data: the owner only

"""The durable record of every export of leads: who took which personal data, when, and how much.

With a shared store (PostgreSQL) each export is a record in its ``audit`` collection, whichever
machine ran it. With the embedded store it is one JSON line appended to ``DATA_DIR/exports.log``,
by the server and by ``quiz export`` alike: the command opens the store read-only next to the
running server, so the record cannot go into the store. O_APPEND keeps lines from two processes
whole; fsync keeps them through a crash.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from quiz.consent import now
from quiz.store.base import Store

log = logging.getLogger(__name__)

LOG_NAME = "exports.log"


class ExportAudit:
    """One export's audit line: the file is checked before the first row, written when the stream ends.

    audit = ExportAudit(data_dir, store, who="cli:alice", filters=wanted.as_dict(), format="csv")
    ...  # stream the rows
    audit.finish(rows=120, complete=True)
    """

    def __init__(
        self, data_dir: Path, store: Store, *, who: str, filters: dict[str, Any], format: str, excel: bool = False
    ) -> None:
        self.path = data_dir / LOG_NAME
        self.store = store if store.shared else None
        self.entry: dict[str, Any] = {"who": who, "filters": filters, "format": format, "excel": excel}
        self._finished = False
        if self.store is None:
            # Opened now so an export that could not be recorded never starts; closed again so an export
            # whose stream never begins (a client gone at once) leaks no descriptor.
            os.close(_open_for_append(self.path))

    def finish(self, *, rows: int, complete: bool) -> None:
        """Append the line (once); ``complete`` is False when the export failed or its reader went away."""
        if self._finished:
            return
        self._finished = True
        entry = {"at": now(), **self.entry, "rows": rows, "complete": complete}
        if self.store is not None:
            self.store.add("audit", {"action": "export", **entry})
        else:
            self._append(entry)
        ending = "" if complete else " (stopped before the end)"
        log.info(
            "export by %s: %d rows as %s, filters %s%s", entry["who"], rows, entry["format"], entry["filters"], ending
        )

    def _append(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        descriptor = _open_for_append(self.path)
        try:
            written = 0
            while written < len(line):
                written += os.write(descriptor, line[written:])
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _open_for_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # personal data: the owner only

"""The quizzes a server offers, reloaded when their files change; a broken edit keeps the last good one."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from quiz.authoring.loader import load_quiz
from quiz.format.schema import Quiz

log = logging.getLogger(__name__)


Stamp = tuple[float, int, float, int]  # the quiz file's modification time and size, then its catalog's


@dataclass(frozen=True)
class _Entry:
    quiz: Quiz | None
    stamp: Stamp
    catalog: Path | None = None  # the catalog file it read, watched as closely as the quiz file


class QuizLibrary:
    """Quiz files in one folder, by quiz id; each file is re-read when its modification time changes.

    The folder is looked at no more than once every ``recheck_seconds``, not on every request: a
    busy server would otherwise stat every quiz file for every step of every shopper.
    """

    def __init__(self, folder: Path, *, recheck_seconds: float = 1.0) -> None:
        self.folder = folder
        self.recheck_seconds = recheck_seconds
        self._entries: dict[Path, _Entry] = {}
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self.refresh()

    def refresh(self) -> None:
        """Load new and changed files, forget deleted ones (if not done in the last ``recheck_seconds``)."""
        now = time.monotonic()
        if now - self._checked_at < self.recheck_seconds:
            return
        with self._lock:
            self._checked_at = now
            # Copy, change, then swap: a request reading the library meanwhile sees the old whole.
            entries = dict(self._entries)
            paths = {path for path in self.folder.glob("*.json") if path.name != "quiz.schema.json"}
            for gone in set(entries) - paths:
                del entries[gone]
            for path in sorted(paths):
                self._load_if_changed(entries, path)
            self._entries = entries

    def _load_if_changed(self, entries: dict[Path, _Entry], path: Path) -> None:
        previous = entries.get(path)
        try:
            stamp = _stamp(path, previous.catalog if previous else None)
        except OSError:
            return
        if previous is not None and previous.stamp == stamp:
            return
        loaded = load_quiz(path)
        catalog = loaded.catalog_path
        if catalog != (previous.catalog if previous else None):
            # A catalog named for the first time, or another one: stamped as never seen, so the next
            # look reads the quiz again and a catalog written meanwhile is not missed.
            stamp = (stamp[0], stamp[1], -1.0, -1)
        if loaded.quiz is None:
            for problem in loaded.problems:
                log.error("%s", problem.render())
            kept = previous.quiz if previous else None
            if kept is not None:
                log.error("%s: keeping the last valid version of quiz %r live", path, kept.id)
            entries[path] = _Entry(kept, stamp, catalog)
            return
        log.info("loaded quiz %r from %s", loaded.quiz.id, path)
        entries[path] = _Entry(loaded.quiz, stamp, catalog)

    def get(self, quiz_id: str) -> Quiz | None:
        self.refresh()
        for entry in self._entries.values():
            if entry.quiz is not None and entry.quiz.id == quiz_id:
                return entry.quiz
        return None

    def file_of(self, quiz_id: str) -> Path | None:
        """The file the live version of quiz ``quiz_id`` came from."""
        for path, entry in self._entries.items():
            if entry.quiz is not None and entry.quiz.id == quiz_id:
                return path
        return None

    def stamp(self, quiz_id: str) -> str:
        """Changes whenever the file of quiz ``quiz_id`` is saved (and read): what the preview watches."""
        self.refresh()
        for entry in self._entries.values():
            if entry.quiz is not None and entry.quiz.id == quiz_id:
                return "-".join(f"{part:.6f}" if isinstance(part, float) else str(part) for part in entry.stamp)
        return ""

    def all(self) -> list[Quiz]:
        self.refresh()
        return [entry.quiz for entry in self._entries.values() if entry.quiz is not None]


def _stamp(path: Path, catalog: Path | None) -> Stamp:
    """What changes when the quiz file or its catalog is saved (a missing catalog: zeros, until it appears)."""
    stat = path.stat()
    try:
        shelf = catalog.stat() if catalog is not None else None
    except (OSError, ValueError):  # not there (yet), or a name no file can have (the loader says why)
        shelf = None
    return (stat.st_mtime, stat.st_size, shelf.st_mtime if shelf else 0.0, shelf.st_size if shelf else 0)

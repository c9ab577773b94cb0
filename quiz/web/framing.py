"""Telling the merchant why a shop page shows a broken frame instead of the quiz.

A page may frame a quiz only from an origin in the quiz's ``embed.allowed_origins`` (or
``QUIZ_EMBED_ORIGINS``): the Content-Security-Policy's ``frame-ancestors`` makes the browser refuse
any other, and the shop sees a grey broken-frame icon. The browser explains it only in the shop
page's console, so the server says it in its own log: once per quiz, origin and hour, naming the
quiz's file and the setting to change.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request

log = logging.getLogger(__name__)

REPEAT_SECONDS = 3600.0
MAX_REMEMBERED = 1000  # (quiz, origin) pairs; a flood of made-up origins cannot grow memory past it
MAX_PER_QUIZ = 10  # warnings per quiz and hour: made-up origins cannot flood the log either
HOST = re.compile(r"^[a-z0-9.-]{1,253}$")  # what a log line may quote of a host the browser sent


class FramingWatch:
    """Logs a refused framing once per quiz, origin and hour (in this process: a log line, not a guarantee)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._told: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def note(self, request: Request, quiz_id: str, file: Path | None, embedders: list[str]) -> None:
        """If ``request`` loads the quiz into a frame of a page the browser will refuse, say so."""
        framer = framing_origin(request)
        if framer is None or framer in {_normal(origin) for origin in embedders}:
            return
        if not self._first_this_hour((quiz_id, framer)):
            return
        where = str(file) if file is not None else "its file"
        log.warning(
            "quiz %r was framed by a page on %s, which is not among its allowed origins, so the browser shows "
            'a broken frame there. Add "%s" to "embed": {"allowed_origins": [...]} in %s '
            "(or to QUIZ_EMBED_ORIGINS for every quiz).",
            quiz_id,
            framer,
            framer,
            where,
        )

    def _first_this_hour(self, key: tuple[str, str]) -> bool:
        now = self._clock()
        with self._lock:
            if now - self._told.get(key, float("-inf")) < REPEAT_SECONDS:
                return False
            recent = sum(1 for (quiz, _), at in self._told.items() if quiz == key[0] and now - at < REPEAT_SECONDS)
            if recent >= MAX_PER_QUIZ:
                return False
            if len(self._told) >= MAX_REMEMBERED:
                self._told.clear()
            self._told[key] = now
            return True


def framing_origin(request: Request) -> str | None:
    """The origin of the page framing this request, when the browser says it is a frame of another site.

    ``Sec-Fetch-Dest: iframe`` says it is a frame; the origin comes from the Referer (browsers send at
    least the origin to another site), else from the ``page`` the loader passed.
    """
    if request.headers.get("sec-fetch-dest") != "iframe" or request.headers.get("sec-fetch-site") == "same-origin":
        return None
    for candidate in (request.headers.get("referer", ""), request.query_params.get("page", "")):
        origin = _origin(candidate)
        if origin is not None:
            return origin
    return None


def _normal(origin: str) -> str:
    """An allowed origin as a browser sends it: lower case, without the scheme's own port."""
    parts = urlsplit(origin.lower())
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return origin.lower()
    shown = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme}://{parts.hostname}{shown}"


def _origin(address: str) -> str | None:
    try:
        parts = urlsplit(address[:2000])
        port = parts.port  # a bad port raises here
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or not HOST.match(parts.hostname):
        return None
    return _normal(f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port is not None else ""))

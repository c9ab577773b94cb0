"""What both channels share about consent: the exact text a shopper agreed to, its version, and the time.

Email (``quiz.leads``) and LINE (``quiz.line``) keep their own evidence records; both take the wording,
its version and its hash from here, and write times in one format: UTC ISO 8601 with milliseconds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from quiz.format.schema import Quiz
from quiz.format.text import resolve


@dataclass(frozen=True)
class ConsentText:
    """The exact wording a shopper saw next to the box, and how to recognize it later."""

    text: str
    version: str
    sha256: str


def consent_text(quiz: Quiz, locale: str, *, channel: str = "email") -> ConsentText | None:
    """The marketing consent line of ``quiz`` for ``channel`` in ``locale``, or None if the quiz asks for none."""
    capture = quiz.lead_capture
    consent = None if capture is None else capture.line_consent if channel == "line" else capture.consent
    if consent is None:
        return None
    text = resolve(consent.text, locale, quiz.locale)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return ConsentText(text=text, version=consent.version or digest[:12], sha256=digest)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def iso_time(moment: float) -> str:
    """A POSIX timestamp in the records' time format."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


def quiz_version(quiz: Quiz) -> str:
    """A short hash of everything in the quiz, so an export tells which edit a shopper answered."""
    key = "quiz_version"
    if key not in quiz.derived:
        quiz.derived[key] = hashlib.sha256(quiz.model_dump_json().encode()).hexdigest()[:12]
    return str(quiz.derived[key])

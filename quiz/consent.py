"""What both channels share about consent: the exact text a shopper agreed to, its version, and the time.

Email (``quiz.leads``) and LINE (``quiz.line``) keep their own evidence records; both take the wording,
its version, its hash and its language from here, who asks (the controller) and which widget showed
it, and write times in one format: UTC ISO 8601 with milliseconds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from quiz.format.schema import Quiz
from quiz.format.text import resolved


@dataclass(frozen=True)
class ConsentText:
    """The exact wording a shopper saw next to the box, and how to recognize it later."""

    text: str
    version: str
    sha256: str
    locale: str = ""  # the language the text was shown in


NOTHING_SHOWN = ConsentText("", "", "")


@dataclass(frozen=True)
class Provenance:
    """What every piece of evidence records besides the text: who asked, and with which widget."""

    controller: str = ""  # the shop's legal name (QUIZ_CONTROLLER)
    widget_version: str = ""  # the server's version and a hash of what it shows shoppers

    def evidence(self, text: ConsentText) -> dict[str, str]:
        """The fields every channel's evidence shares: who asks, what was shown, in which language, by which widget."""
        return {
            "purpose": "marketing",
            "controller": self.controller,
            "text": text.text,
            "text_version": text.version,
            "text_sha256": text.sha256,
            "locale": text.locale,
            "widget_version": self.widget_version,
        }


def consent_text(quiz: Quiz, locale: str, *, channel: str = "email") -> ConsentText | None:
    """The marketing consent line of ``quiz`` for ``channel`` in ``locale``, or None if the quiz asks for none."""
    capture = quiz.lead_capture
    consent = None if capture is None else capture.line_consent if channel == "line" else capture.consent
    if consent is None:
        return None
    shown, text = resolved(consent.text, locale, quiz.locale)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return ConsentText(text=text, version=text_version(consent.version, digest), sha256=digest, locale=shown)


def text_version(label: str | None, digest: str) -> str:
    """The merchant's label with the text's own hash: an edited wording is a new version, label or not.

    A label alone ("2024-06") would put two different wordings under one version if the merchant
    forgot to change it; with the hash, the version the evidence names can only be that text.
    """
    return f"{label}+{digest[:12]}" if label else digest[:12]


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

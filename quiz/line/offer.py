"""What the results step offers for LINE: a LINE Login button (flow A) or a code to send in chat (flow C)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import segno
from markupsafe import Markup

from quiz.consent import consent_text
from quiz.format.schema import Quiz
from quiz.line.book import line_code
from quiz.settings import Line
from quiz.web.wording import words

LINKED_ON_LINE = frozenset({"linked", "sent", "not_friend"})  # a LINE user is linked to the response


@dataclass(frozen=True)
class LineOffer:
    template: ClassVar[str] = "line/_offer.html"

    consent: str  # the quiz's LINE consent line beside an unticked box; "" if it has none
    login: bool  # LINE Login is configured: a button opens it in a popup
    add_friend_url: str  # the official account's add-friend link
    add_friend_qr: Markup  # the same link as an inline SVG QR code, for a shopper on a computer
    code: str = ""  # without LINE Login: the code to send in chat
    # What became of an earlier request: "linked", "sent", "not_friend", "cancelled", "failed", or
    # "waiting" (the shopper asked whether LINE has linked them, and it has not yet).
    status: str = ""

    @property
    def opened(self) -> bool:
        """A LINE user is linked to the response: the gate opens."""
        return self.status in LINKED_ON_LINE


def line_offer(line: Line | None, quiz: Quiz, response_id: str, locale: str, status: str) -> LineOffer | None:
    capture = quiz.lead_capture
    if line is None or capture is None or "line" not in capture.channels or not response_id:
        return None
    consent = consent_text(quiz, locale, channel="line")
    return LineOffer(
        consent=consent.text if consent else "",
        login=line.login is not None,
        add_friend_url=line.add_friend_url,
        add_friend_qr=add_friend_qr(line.add_friend_url, words(locale)["line_add_friend"]),
        code="" if line.login is not None else line_code(response_id),
        status=status,
    )


@functools.lru_cache(maxsize=16)  # one link per server, a label per language: drawn once each
def add_friend_qr(url: str, label: str) -> Markup:
    # A four-module quiet zone on white, as the QR specification asks, so themes with a dark
    # background still scan. segno escapes the title.
    code = segno.make(url, error="m")
    svg = code.svg_inline(scale=1, border=4, title=label, svgclass="quiz-line-qr", light="#fff", omitsize=True)
    return Markup(svg)

"""The LINE channel as the app wires it: the settings, the book, the push queue, and its results-step offer."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from quiz.errors import Unavailable
from quiz.format.schema import Quiz
from quiz.line.book import LineBook
from quiz.line.offer import LineOffer, line_offer
from quiz.line.queue import LineQueue
from quiz.settings import Line
from quiz.web.limits import Limit, Limiter, RateLimiter
from quiz.web.tokens import Progress

CODE_TRIES = Limit(attempts=10, seconds=600)  # per LINE user: codes cannot be guessed by brute force


@dataclass(frozen=True)
class LineChannel:
    """Every server has one: without LINE settings it offers nothing, yet erasure still finds LINE data."""

    line: Line | None
    book: LineBook
    queue: LineQueue | None  # None where LINE is not configured
    code_tries: Limiter = field(default_factory=lambda: RateLimiter(CODE_TRIES))

    def offer(self, request: Request, quiz: Quiz, progress: Progress, locale: str) -> LineOffer | None:
        if self.line is None or not progress.response:
            return None
        try:
            status = self.book.status_of(progress.response)
        except Unavailable:
            status = ""  # the store is away: the offer still shows, without what became of a link
        if not status and request.query_params.get("line") == "check":
            status = "waiting"  # the shopper asks whether LINE has linked them (code sent, login done): not yet
        return line_offer(self.line, quiz, progress.response, locale, status)

    def completed(self, quiz: Quiz, response_id: str) -> None:
        if self.reads_response(quiz):
            self.book.remember_code(response_id)  # the code the results show, for the chat

    def reads_response(self, quiz: Quiz) -> bool:
        capture = quiz.lead_capture
        return self.line is not None and capture is not None and "line" in capture.channels

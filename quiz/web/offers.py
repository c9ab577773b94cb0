"""The seam where a channel plugs into the results step: what it offers there, and whether it took the shopper.

``create_app`` hands the step its channels in order (email, then LINE). The step asks each one for
its offer, includes each offer's partial, and keeps the results behind the quiz's gate until the
shopper has answered the form or an offer says it already took them. A new channel is one more
class with these methods; the web kernel imports none of them.
"""

from __future__ import annotations

from typing import Protocol

from starlette.requests import Request

from quiz.format.schema import Quiz
from quiz.web.tokens import Progress


class Offer(Protocol):
    @property
    def template(self) -> str:
        """The partial that shows the offer, as ``offer`` inside the results step."""

    @property
    def opened(self) -> bool:
        """The shopper already went through this channel (a LINE user linked): the gate opens."""


class Channel(Protocol):
    def offer(self, request: Request, quiz: Quiz, progress: Progress, locale: str) -> Offer | None:
        """What the results step shows for this channel, or None where it offers nothing."""

    def completed(self, quiz: Quiz, response_id: str) -> None:
        """The shopper finished ``quiz`` as ``response_id``: keep what the offer will show later."""

    def reads_response(self, quiz: Quiz) -> bool:
        """The channel looks the stored response up later by its id (LINE's chat code and login do)."""

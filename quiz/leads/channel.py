"""The email channel as the app wires it: its lead book, mail queue and limits, and its results-step form."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from starlette.requests import Request

from quiz.consent import consent_text
from quiz.delivery.mail import MailQueue
from quiz.format.schema import Quiz
from quiz.leads.book import LeadBook
from quiz.web.limits import Limit, Limiter, RateLimiter
from quiz.web.steps import Step
from quiz.web.tokens import Progress


class OptInLimits:
    """How often opt-ins may come: per client address, per quiz and per email address.

    ``make`` builds each limiter (``quiz.web.limits.limiter_for``: shared when the store is).
    """

    def __init__(self, make: Callable[[str, Limit], Limiter] = lambda name, limit: RateLimiter(limit)) -> None:
        self.per_client = make("optin_client", Limit(attempts=10, seconds=600))
        self.per_quiz = make("optin_quiz", Limit(attempts=600, seconds=60))
        # nobody gets mail-bombed: three mails a day to one address, however many quizzes and clients
        self.per_address = make("optin_address", Limit(attempts=3, seconds=24 * 3600))

    def allow(self, client: str, quiz_id: str) -> bool:
        return self.per_client.allow(client) and self.per_quiz.allow(quiz_id)


@dataclass(frozen=True)
class OptInForm:
    """The email opt-in on the results step, as the quiz's ``lead_capture`` places it."""

    template: ClassVar[str] = "leads/_optin.html"
    opened: ClassVar[bool] = False  # only the shopper's answer (in the token) opens the gate for email

    consent: str  # the marketing consent line next to the unticked box; "" if the quiz has none
    email: str = ""  # what the shopper typed, shown again with an error
    ticked: bool = False
    error: str = ""
    sent: str = ""  # "sent" or "confirm" once the form went through

    def required_on(self, step: Step) -> bool:
        """The results wait for an address: the quiz says so, and no other channel opens the gate too."""
        capture = step.quiz.lead_capture
        return step.gate and capture is not None and capture.gates_results and len(step.offers) == 1


@dataclass(frozen=True)
class EmailChannel:
    book: LeadBook
    mail: MailQueue
    limits: OptInLimits = field(default_factory=OptInLimits)

    def offer(self, request: Request, quiz: Quiz, progress: Progress, locale: str) -> OptInForm | None:
        capture = quiz.lead_capture
        if capture is None or "email" not in capture.channels or progress.lead == "skipped":
            return None
        consent = consent_text(quiz, locale)
        return OptInForm(consent=consent.text if consent else "", sent=progress.lead)

    def completed(self, quiz: Quiz, response_id: str) -> None:
        """Nothing to keep: the form carries the response id in its token."""

    def reads_response(self, quiz: Quiz) -> bool:
        return False  # the opt-in builds the lead from the token's answers, not from the stored response

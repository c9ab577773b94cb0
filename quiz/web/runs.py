"""What a shopper's run leaves in the store: funnel events, and the completed response.

Neither holds personal data: answers, products and the embedding page's site, never an address.
Both are written within a second with others (``Store.add_soon``), off the shopper's path.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request

from quiz.consent import iso_time, now, quiz_version
from quiz.engine.flow import trail
from quiz.engine.scoring import recommend
from quiz.format.questions import RESULTS
from quiz.format.schema import Quiz
from quiz.web.results import page_site
from quiz.web.services import services
from quiz.web.tokens import Progress


def keep_response(request: Request, quiz: Quiz, progress: Progress, locale: str) -> str:
    """Store the completed run and tell the channels; its id goes into the token."""
    response = response_record(quiz, progress, locale)
    found = services(request)
    found.store.add_soon("responses", response)
    for channel in found.channels:
        channel.completed(quiz, response["id"])  # LINE keeps the code the results show, for the chat
    return str(response["id"])


def response_record(quiz: Quiz, progress: Progress, locale: str) -> dict[str, Any]:
    """A completed run as ``quiz.leads.records`` describes it: no personal data, only what was answered."""
    recommendation = recommend(quiz, progress.answers)
    kept = trail(quiz, progress.answers, RESULTS) or {}
    return {
        "id": progress.response or secrets.token_hex(8),
        "quiz": quiz.id,
        "quiz_version": quiz_version(quiz),
        "locale": locale,
        "answers": kept,
        "products": [{"id": item.product.id, "score": item.score} for item in recommendation.items],
        "context": progress.context,
        "site": page_site(progress.context),
        "started_at": iso_time(progress.started) if progress.started else None,
        "completed_at": now(),
    }


def record_event(request: Request, quiz: Quiz, kind: str, context: dict[str, str], **details: str) -> None:
    """A funnel event, written within a second (see quiz.store.tiny): no personal data, the page's site only."""
    event = {
        "kind": kind,
        "quiz": quiz.id,
        "at": now(),
        "site": page_site(context),
        "product_page": context.get("product", ""),
        **details,
    }
    services(request).store.add_soon("events", event)

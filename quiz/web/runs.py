"""What a shopper's run leaves in the store: funnel events, and the completed response.

Neither holds personal data: answers, products and the embedding page's site, never an address.
Events are written within a second with others (``Store.add_soon``), off the shopper's path. A
response is too, unless a channel will look it up by its id (LINE's chat code and login): then it
is durable before its id reaches the shopper, so any process finds it.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from quiz.consent import iso_time, now, quiz_version
from quiz.errors import Unavailable
from quiz.format.conditions import Answer
from quiz.format.questions import RESULTS, Question, ShortText
from quiz.format.schema import Quiz
from quiz.format.text import without_controls
from quiz.web.results import page_site, recommended
from quiz.web.services import services
from quiz.web.steps import MAX_CAMPAIGN_CHARS, locale_for, trailed
from quiz.web.tokens import Progress

log = logging.getLogger(__name__)

CAMPAIGN_FIELDS = ("utm_source", "utm_medium", "utm_campaign")


async def keep_response(request: Request, quiz: Quiz, progress: Progress, locale: str) -> dict[str, Any]:
    """Store the completed run and tell the channels; returns the response (its id goes into the token).

    With the store unreachable the shopper still sees the results: the response is then held like a
    funnel event until the store is back, and the channels' extras (LINE's chat code) are left out.
    """
    response = response_record(request, quiz, progress, locale)
    found = services(request)
    if previewing(request, quiz, progress.context):
        return response  # nothing stored: the results of a preview are no shopper's
    if not any(channel.reads_response(quiz) for channel in found.channels):
        found.store.add_soon("responses", response)  # read by no one by its id: the funnel's, in a batch
        return response

    def keep() -> None:
        found.store.put("responses", response["id"], response)
        for channel in found.channels:
            channel.completed(quiz, response["id"])  # LINE keeps the code the results show, for the chat

    try:
        await run_in_threadpool(keep)
    except (Unavailable, OSError) as error:
        log.warning("response %s of quiz %s held in memory until the store is back: %s", response["id"], quiz.id, error)
        found.store.add_soon("responses", response)
    return response


def response_record(request: Request, quiz: Quiz, progress: Progress, locale: str) -> dict[str, Any]:
    """A completed run as ``quiz.leads.records`` describes it: no personal data, only what was answered."""
    recommendation = recommended(request, quiz, progress.answers)
    kept = dict(trailed(request, quiz, progress.answers, RESULTS) or {})  # a copy: the record leaves the request
    return {
        "id": progress.response or secrets.token_hex(8),
        "run": progress.run,
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


def record_event(
    request: Request, quiz: Quiz, kind: str, context: dict[str, str], *, run: str = "", **details: Any
) -> None:
    """A funnel event, written within a second with others: no personal data, the page's site only.

    ``run`` ties one quiz run's events together (a random id in its token, naming no person); the
    quiz's version, the locale and the campaign let the funnel be read by edit, language and ad.
    """
    event = {
        "kind": kind,
        "quiz": quiz.id,
        "quiz_version": quiz_version(quiz),
        "run": run,
        "at": now(),
        # the quiz's locale the shopper reads ("ja" for an embed's "ja-JP"), as chosen for the step
        "locale": getattr(request.state, "locale", "") or locale_for(request, quiz, context),
        "site": page_site(context),
        "product_page": context.get("product", ""),
        "campaign": campaign(context),
        **details,
    }
    found = services(request)
    if previewing(request, quiz, context):
        return  # the merchant trying the quiz in the dashboard: not a shopper, not in the funnel
    found.store.add_soon("events", event)
    found.tally.count(event)


def previewing(request: Request, quiz: Quiz, context: dict[str, str]) -> bool:
    """Whether this run is the dashboard's preview (a mark only the server can sign, for this quiz)."""
    mark = context.get("preview", "")
    return bool(mark) and services(request).links.is_preview(mark)


def campaign(context: dict[str, str]) -> dict[str, str]:
    """utm_source, utm_medium and utm_campaign: of the quiz's own link, else of the embedding page's URL."""
    try:
        from_page = parse_qs(urlsplit(context.get("page", "")).query)
    except ValueError:  # a page URL a browser would not make ("http://["): its campaign is unknown
        from_page = {}
    found = {}
    for name in CAMPAIGN_FIELDS:
        value = without_controls(context.get(name) or (from_page.get(name) or [""])[0]).strip()
        if value:  # the page's query is decoded here: "%00" becomes a NUL
            found[name.removeprefix("utm_")] = value[:MAX_CAMPAIGN_CHARS]
    return found


def told(quiz: Quiz, answers: dict[str, Answer | None]) -> dict[str, Any]:
    """The answers of a completed run as a ``completed`` event keeps them: what ``answered`` keeps of each."""
    kept = {}
    for question_id, answer in answers.items():
        if question_id not in quiz.question_index:
            continue  # an answer to a question since removed from the quiz
        value = answered(quiz.question(question_id), answer)
        if value is not None:
            kept[question_id] = value
    return kept


def answered(question: Question, answer: Answer | None) -> Any:
    """What an ``answered`` event keeps of an answer: option ids and numbers, never free text."""
    if isinstance(question, ShortText) or answer is None:
        return None
    return answer

"""The pages an email links to: confirm a subscription (double opt-in) and unsubscribe.

Confirming takes a button press (POST): mail scanners open every link in a message, and a GET
that subscribed would let them confirm for people who never clicked. Unsubscribing works on
the first GET as well as on the mail client's RFC 8058 one-click POST: when a scanner opens it,
the harm is one person too few on the list, never one too many.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from quiz.leads.book import LeadBook
from quiz.store.base import StoreError
from quiz.web.tokens import TokenError
from quiz.web.wording import preferred_locales, ui_locale, words

log = logging.getLogger("quiz.leads.subscriptions")


async def show_confirm(request: Request) -> Response:
    try:
        request.app.state.links.read_confirm(request.path_params["token"])
    except TokenError:
        return _notice(request, "link_invalid", status_code=400)
    return _notice(request, "confirm", status_code=200, button=True)


async def confirm_subscription(request: Request) -> Response:
    book: LeadBook = request.app.state.leadbook
    try:
        lead_id, nonce = request.app.state.links.read_confirm(request.path_params["token"])
    except TokenError:
        return _notice(request, "link_invalid", status_code=400)
    try:
        outcome = await run_in_threadpool(book.confirm, lead_id, nonce)
    except (OSError, StoreError):
        log.exception("a confirmation could not be stored")
        return _notice(request, "unavailable", status_code=503)
    if outcome is None:
        return _notice(request, "link_invalid", status_code=400)
    return _notice(request, "confirmed", status_code=200)


async def unsubscribe(request: Request) -> Response:
    book: LeadBook = request.app.state.leadbook
    try:
        person = request.app.state.links.read_unsubscribe(request.path_params["token"])
    except TokenError:
        return _notice(request, "link_invalid", status_code=400)
    method = "list_unsubscribe_post" if request.method == "POST" else "unsubscribe_link"
    try:
        await run_in_threadpool(book.withdraw, person, method=method)  # a forgotten person is on no list
    except (OSError, StoreError):
        log.exception("an unsubscribe could not be stored")
        return _notice(request, "unavailable", status_code=503)
    return _notice(request, "unsubscribed", status_code=200)


def _notice(request: Request, kind: str, *, status_code: int, button: bool = False) -> Response:
    wanted = preferred_locales(request.headers.get("accept-language", ""))
    locale = ui_locale(wanted[0] if wanted else "en")
    ui = words(locale)
    context = {"title": ui[f"{kind}_title"], "text": ui[f"{kind}_text"], "lang": locale, "ui": ui, "button": button}
    response: Response = request.app.state.templates.TemplateResponse(
        request, "quiz/notice.html", context, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token in the address stays here
    return response

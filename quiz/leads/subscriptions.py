"""The pages an email links to: confirm a subscription (double opt-in) and unsubscribe.

Confirming takes a button press (POST): mail scanners open every link in a message, and a GET
that subscribed would let them confirm for people who never clicked. Unsubscribing works on
the first GET as well as on the mail client's RFC 8058 one-click POST: when a scanner opens it,
the harm is one person too few on the list, never one too many.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from quiz.errors import LinkInvalid
from quiz.leads.channel import EmailChannel
from quiz.web.services import services
from quiz.web.steps import page_locale
from quiz.web.theme import branding, quiz_named
from quiz.web.tokens import TokenError
from quiz.web.wording import words

T = TypeVar("T")


async def show_confirm(request: Request) -> Response:
    _read_link(request, services(request).links.read_confirm)
    return _notice(request, "confirm", status_code=200, button=True)


async def confirm_subscription(request: Request) -> Response:
    lead_id, nonce = _read_link(request, services(request).links.read_confirm)
    outcome = await run_in_threadpool(services(request).channel(EmailChannel).book.confirm, lead_id, nonce)
    if outcome is None:
        raise LinkInvalid("the confirmation was already used, or its lead is gone")
    return _notice(request, "confirmed", status_code=200)


async def unsubscribe(request: Request) -> Response:
    person = _read_link(request, services(request).links.read_unsubscribe)
    method = "list_unsubscribe_post" if request.method == "POST" else "unsubscribe_link"
    book = services(request).channel(EmailChannel).book
    await run_in_threadpool(book.withdraw, person, method=method)  # a forgotten person is on no list
    return _notice(request, "unsubscribed", status_code=200)


def _read_link(request: Request, read: Callable[[str], T]) -> T:
    """What the link's signed token names; a forged or expired one is ``LinkInvalid``."""
    try:
        return read(request.path_params["token"])
    except TokenError as error:
        raise LinkInvalid(str(error)) from None


def _notice(request: Request, kind: str, *, status_code: int, button: bool = False) -> Response:
    locale = page_locale(request)
    ui = words(locale)
    context = {"title": ui[f"{kind}_title"], "text": ui[f"{kind}_text"], "lang": locale, "ui": ui, "button": button}
    # The link names its quiz for the page's look only: the token alone decides what happens.
    context |= branding(request, quiz_named(request, request.query_params.get("quiz")), locale)
    response = services(request).templates.TemplateResponse(
        request, "quiz/notice.html", context, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token in the address stays here
    return response

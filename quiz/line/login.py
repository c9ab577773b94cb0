"""Flow A: the shopper gets their results on LINE through LINE Login, from the embedded widget.

1. ``POST /q/{quiz}/line`` (a form in the results, submitted into a popup: LINE refuses frames)
   keeps a login attempt (PKCE verifier, nonce, the signed progress) and redirects to LINE Login
   with a signed ``state`` naming it, ``bot_prompt=aggressive`` to offer the official account.
2. ``GET /line/callback`` takes the attempt once, exchanges the code, has LINE verify the ID token
   (and checks audience, expiry, nonce), asks whether the shopper is now a friend, links the LINE
   user to the response with its consent evidence, and queues the results as a Flex message.
3. The popup tells the widget (postMessage to its opener, same origin only); the widget's LINE
   section then asks for the results step again (``show_step``) and picks itself out of it.
   The message itself is trusted for nothing.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from quiz.consent import consent_text
from quiz.errors import Unavailable
from quiz.format.questions import RESULTS
from quiz.format.schema import Quiz
from quiz.line.api import LineApi, LineError, Pkce
from quiz.line.book import Linking
from quiz.line.channel import LineChannel
from quiz.line.messages import results_messages
from quiz.web.runs import record_event, response_record
from quiz.web.services import services
from quiz.web.steps import locale_for, page_locale, posted
from quiz.web.theme import branding
from quiz.web.tokens import Progress, TokenError
from quiz.web.wording import words

log = logging.getLogger(__name__)


Handler = Callable[[Request], Awaitable[Response]]


def _in_popup(handler: Handler) -> Handler:
    """LINE Login runs in a popup: a store that cannot be written ends it with the popup's own page.

    That page tells the widget to look again and says LINE did not work; the general error page
    (``quiz.web.failures``) would leave the widget waiting. Anything already linked stays linked.
    """

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except (Unavailable, OSError):
            log.exception("a LINE Login could not be stored")
            return _done(request, "line_failed", status_code=503)

    return guarded


@_in_popup
async def start_line_login(request: Request) -> Response:
    sent = await posted(request)
    if isinstance(sent, Response):
        return sent
    quiz, form, token, progress = sent.quiz, sent.form, sent.token, sent.progress
    api = _api(request)
    if api is None or progress.current != RESULTS or not progress.response:
        return _done(request, "line_failed", status_code=404, quiz=quiz)
    pkce, nonce = Pkce.fresh(), secrets.token_urlsafe(16)
    book = services(request).channel(LineChannel).book
    ticked = form.get("consent") == "yes"
    attempt = await run_in_threadpool(
        book.begin_login, quiz.id, token, ticked=ticked, verifier=pkce.verifier, nonce=nonce
    )
    state = services(request).links.line_state(attempt)
    url = api.authorize_url(redirect_uri=_callback_url(request), state=state, nonce=nonce, challenge=pkce.challenge)
    return RedirectResponse(url, status_code=303)


@_in_popup
async def line_callback(request: Request) -> Response:
    """Where LINE sends the shopper back, with a code, or with an error if they cancelled."""
    api, query, found = _api(request), request.query_params, services(request)
    try:
        attempt_id = found.links.read_line_state(query.get("state", ""))
    except TokenError:
        return _done(request, "link_invalid_text", status_code=400)
    channel = found.channel(LineChannel)
    book = channel.book
    attempt = await run_in_threadpool(book.take_login, attempt_id)
    if attempt is None or api is None or channel.queue is None:  # (a queue exists wherever LINE Login does)
        return _done(request, "link_invalid_text", status_code=400)  # used, late, or LINE switched off
    quiz = found.library.get(attempt["quiz"])
    progress = _progress(request, attempt)
    if quiz is None or progress is None:
        return _done(request, "link_invalid_text", status_code=400)
    locale = locale_for(request, quiz, progress.context)
    if "code" not in query:  # the shopper cancelled, or LINE refused: nothing is linked
        log.info("LINE Login for quiz %s came back without a code: %s", quiz.id, query.get("error", "")[:100])
        await run_in_threadpool(book.mark, progress.response, "cancelled")
        return _done(request, "line_cancelled", status_code=200, quiz=quiz)
    try:
        user, friend = await run_in_threadpool(_logged_in_user, api, request, query["code"], attempt)
    except LineError as error:
        log.warning("LINE Login for quiz %s failed: %s", quiz.id, error)
        await run_in_threadpool(book.mark, progress.response, "failed")
        return _done(request, "line_failed", status_code=502, quiz=quiz)
    linking = Linking(
        user=user,
        response=response_record(request, quiz, progress, locale),
        consent=consent_text(quiz, locale, channel="line"),
        ticked=bool(attempt["ticked"]),
        method="line_login",
        friend=friend,
    )
    await run_in_threadpool(book.link, linking)
    ticked = str(linking.ticked).lower()
    record_event(request, quiz, "opted_in", progress.context, run=progress.run, channel="line", consent=ticked)
    if friend:
        messages = results_messages(request, quiz, progress, locale)
        await run_in_threadpool(channel.queue.push, user, messages, about=progress.response)
    await run_in_threadpool(book.mark, progress.response, "sent" if friend else "not_friend")
    return _done(request, "line_sent" if friend else "line_not_friend", status_code=200, quiz=quiz)


def _logged_in_user(api: LineApi, request: Request, code: str, attempt: dict[str, object]) -> tuple[str, bool]:
    """The verified LINE user id behind ``code``, and whether they are now a friend of the account."""
    tokens = api.exchange(code, redirect_uri=_callback_url(request), verifier=str(attempt["verifier"]))
    user = api.verified_user(tokens.id_token, nonce=str(attempt["nonce"]))
    return user, api.is_friend(tokens.access_token)


def _progress(request: Request, attempt: dict[str, object]) -> Progress | None:
    try:
        progress = services(request).tokens.load(str(attempt["token"]), quiz_id=str(attempt["quiz"]))
    except TokenError:
        return None
    return progress if progress.current == RESULTS and progress.response else None


def _api(request: Request) -> LineApi | None:
    line = services(request).settings.line
    return LineApi(line) if line is not None and line.login is not None else None


def _callback_url(request: Request) -> str:
    """The redirect URI to register in the LINE Login channel: ``QUIZ_PUBLIC_URL`` + ``/line/callback``."""
    base = services(request).settings.public_url or str(request.base_url).rstrip("/")
    return base + str(request.app.url_path_for("line_callback"))


def _done(request: Request, message: str, *, status_code: int, quiz: Quiz | None = None) -> Response:
    """The popup's last page: one sentence, and a script telling the widget to look again.

    It speaks the quiz's language when it is known (the widget's), else the browser's.
    """
    locale = page_locale(request)
    ui = words(locale)
    context = {"ui": ui, "lang": locale, "message": ui[message], **branding(request, quiz, locale)}
    response = services(request).templates.TemplateResponse(request, "line/done.html", context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response

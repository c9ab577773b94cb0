"""``POST /line/webhook``: what LINE tells us about the official account's chats.

The signature (base64 HMAC-SHA256 of the raw body with the channel secret) is checked before the
body is parsed; anything unsigned gets 401. Events then take effect once each (LINE redelivers,
with the same ``webhookEventId``), in the request: they are small store changes. What we send back
goes through the persisted LINE queue, so a slow LINE never slows this answer.

- ``follow``: a friend (again): results that could not be pushed before are sent now.
- ``unfollow``: blocked: no more pushes, consent withdrawn.
- text ``message``: a results code (flow C), 「結果」 for the latest results, 「配信停止」 to withdraw.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from quiz.consent import consent_text
from quiz.format.questions import RESULTS
from quiz.line.book import LineBook, Linking, normal_code
from quiz.line.channel import LineChannel
from quiz.line.flex import text_message
from quiz.line.messages import results_messages
from quiz.line.queue import LineQueue
from quiz.store.base import Record
from quiz.web.runs import record_event
from quiz.web.services import services
from quiz.web.tokens import Progress
from quiz.web.wording import words

log = logging.getLogger(__name__)

RESULTS_WORDS = {"結果", "けっか", "results", "result"}
STOP_WORDS = {"配信停止", "停止", "stop", "unsubscribe"}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Source(_Lenient):
    type: str
    userId: str = ""


class Message(_Lenient):
    type: str
    text: str = ""


class Event(_Lenient):
    type: str
    webhookEventId: str = Field(min_length=1)  # an empty id would count every later one as seen
    source: Source | None = None
    replyToken: str = ""
    message: Message | None = None
    mode: Literal["active", "standby"] = "active"


class Delivery(_Lenient):
    destination: str = ""
    events: list[dict[str, Any]]


def signed_by_line(body: bytes, signature: str, channel_secret: str) -> bool:
    expected = base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.encode("ascii", "replace"))


async def line_webhook(request: Request) -> Response:
    line = services(request).settings.line
    if line is None:
        return PlainTextResponse("LINE is not configured on this server.", status_code=404)
    body = await request.body()
    if not signed_by_line(body, request.headers.get("x-line-signature", ""), line.channel_secret):
        return PlainTextResponse("The x-line-signature header does not match the body.", status_code=401)
    try:
        delivery = Delivery.model_validate_json(body)
    except ValidationError:
        return PlainTextResponse("The body is not a LINE webhook delivery.", status_code=400)
    # A store that cannot be written answers 503 (quiz.web.failures): LINE redelivers what was not
    # acknowledged (when redelivery is on), and events already taken stay taken.
    await run_in_threadpool(_handle_all, request, delivery.events)
    return PlainTextResponse("")


def _handle_all(request: Request, raw_events: list[dict[str, Any]]) -> None:
    book = services(request).channel(LineChannel).book
    for raw in raw_events:
        try:
            event = Event.model_validate(raw)
        except ValidationError:
            continue  # a kind of event we do not know: LINE adds kinds over time
        user = event.source.userId if event.source and event.source.type == "user" else ""
        if not user or event.mode != "active" or book.seen_event(event.webhookEventId):
            continue
        if event.type == "follow":
            _followed(request, book, user, event.replyToken)
        elif event.type == "unfollow":
            book.blocked(user)
        elif event.type == "message" and event.message and event.message.type == "text":
            _said(request, book, user, event.message.text, event.replyToken)


def _followed(request: Request, book: LineBook, user: str, reply_token: str) -> None:
    known = book.befriended(user)
    waiting = [response for response in (known or {}).get("responses", []) if book.status_of(response) == "not_friend"]
    if waiting:
        _reply_results(request, book, user, waiting[-1], reply_token)


def _said(request: Request, book: LineBook, user: str, text: str, reply_token: str) -> None:
    said = text.strip().lower()
    if said in STOP_WORDS:
        book.withdraw(user, method="chat")
        _reply(request, book, user, reply_token, "line_withdrawn")
    elif said in RESULTS_WORDS:
        known = book.user(user)
        if known and known["responses"]:
            _reply_results(request, book, user, known["responses"][-1], reply_token)
        else:
            _reply(request, book, user, reply_token, "line_no_results")
    elif normal_code(text) is not None:
        _code(request, book, user, text, reply_token)


def _code(request: Request, book: LineBook, user: str, text: str, reply_token: str) -> None:
    found = services(request)
    limiter = found.channel(LineChannel).code_tries
    response_id = book.take_code(text) if limiter.allow(user) else None
    stored = found.store.get("responses", response_id) if response_id else None
    quiz = found.library.get(stored["quiz"]) if stored else None
    if stored is None or quiz is None:
        _reply(request, book, user, reply_token, "line_unknown_code")
        return
    known = book.user(user)
    linking = Linking(
        user=user,
        response=stored,
        consent=consent_text(quiz, stored.get("locale", quiz.locale), channel="line"),
        ticked=False,  # sending a code asks for results; marketing consent needs a ticked box
        method="chat_code",
        friend=known["friend"] if known else True,
    )
    book.link(linking)
    context, run = stored.get("context") or {}, str(stored.get("run", ""))
    record_event(request, quiz, "opted_in", context, run=run, channel="line", consent="false")
    _reply_results(request, book, user, stored["id"], reply_token)


def _reply_results(request: Request, book: LineBook, user: str, response_id: str, reply_token: str) -> None:
    found = services(request)
    stored: Record | None = found.store.get("responses", response_id)
    quiz = found.library.get(stored["quiz"]) if stored else None
    if stored is None or quiz is None:
        _reply(request, book, user, reply_token, "line_no_results")
        return
    locale = stored.get("locale") or quiz.locale
    progress = Progress(
        quiz_id=quiz.id,
        current=RESULTS,
        answers=stored.get("answers", {}),
        context=stored.get("context", {}),
        response=response_id,
    )
    messages = results_messages(request, quiz, progress, locale)
    _queue(request).reply(reply_token, user, messages, about=response_id)
    book.mark(response_id, "sent")


def _reply(request: Request, book: LineBook, user: str, reply_token: str, wording: str) -> None:
    """A short text answer in the language of the user's latest quiz (Japanese for someone we do not know)."""
    if reply_token:
        known = book.user(user)
        locale = (known.get("latest") or {}).get("locale") if known else None
        _queue(request).reply(reply_token, user, [text_message(words(locale or "ja")[wording])])


def _queue(request: Request) -> LineQueue:
    queue = services(request).channel(LineChannel).queue
    assert queue is not None  # the webhook answers 404 on a server without LINE
    return queue

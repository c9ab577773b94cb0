"""The marketer's HTTP endpoints, behind the API key: export of leads, erasure and access for a person."""

from __future__ import annotations

import hmac
import itertools
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from quiz.leads.records import EmailError, normalize_email
from quiz.line.book import LINE_USER_ID
from quiz.line.queue import erase_messages, pending_messages
from quiz.marketer.audit import ExportAudit
from quiz.marketer.export import (
    Count,
    ExportError,
    batched,
    by_id,
    export_chunks,
    line_leads,
    parse_filter,
    parse_format,
)
from quiz.store.base import StoreError

log = logging.getLogger("quiz.privacy")

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_YES = ("1", "true", "yes", "on")
_NO = ("", "0", "false", "no", "off")


def authorized(request: Request) -> Response | None:
    """None when the request carries the API key; else the answer to send instead.

    No key configured: 404, as if the endpoint did not exist (it is off). A missing or wrong key: one
    and the same 401, so a caller learns nothing about which; compare_digest takes as long for a key
    that is almost right as for one that is all wrong.
    """
    key: str = request.app.state.settings.api_key
    if not key:
        return PlainTextResponse("Not Found", status_code=404)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), key.encode()):
        return None
    return PlainTextResponse(
        "This endpoint needs the API key: Authorization: Bearer KEY\n",
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def export_leads(request: Request) -> Response:
    """``GET /api/export?quiz=&since=&until=&consent=&format=csv|jsonl&excel=1&locale=``: the leads, streamed."""
    refused = authorized(request)
    if refused is not None:
        return refused
    library = by_id(request.app.state.library.all())
    params = request.query_params
    try:
        excel = _flag(params.get("excel"), "excel")
        chosen_format = parse_format(params.get("format"), excel=excel)
        wanted = parse_filter(
            known=library,
            quizzes=params.getlist("quiz"),
            since=params.get("since"),
            until=params.get("until"),
            consent=params.get("consent"),
            locale=params.get("locale"),
        )
    except ExportError as error:
        return PlainTextResponse(f"{error}\n", status_code=400)
    client = request.client.host if request.client else "unknown"
    audit = ExportAudit(
        request.app.state.settings.data_dir,
        who=f"api:{client}",
        filters=wanted.as_dict(),
        format=chosen_format,
        excel=excel,
    )
    count = Count()
    store = request.app.state.store
    leads = itertools.chain(store.records("leads"), line_leads(store.records("line_users")))
    chunks = batched(export_chunks(leads, library, wanted, format=chosen_format, excel=excel, count=count))
    return StreamingResponse(
        _audited(chunks, audit, count),
        media_type=MEDIA_TYPES[chosen_format],
        headers={
            "Content-Disposition": f'attachment; filename="{_file_name(chosen_format)}"',
            "Cache-Control": "no-store",  # personal data: no proxy or browser cache keeps a copy
        },
    )


async def _audited(chunks: Iterator[str], audit: ExportAudit, count: Count) -> AsyncIterator[str]:
    """The chunks, read in a worker thread (the store reads files), then the audit line, however it ends."""
    complete = False
    try:
        async for chunk in iterate_in_threadpool(chunks):
            yield chunk
        complete = True
    finally:
        # A small blocking append + fsync on the event loop: awaiting a thread here would be
        # cancelled along with a client that went away, and lose the record.
        audit.finish(rows=count.rows, complete=complete)


def _flag(raw: str | None, parameter: str) -> bool:
    value = (raw or "").strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise ExportError(parameter, f"{raw!r} is not a yes or no; use 1 or 0")


def _file_name(chosen_format: str) -> str:
    return f"leads-{datetime.now(UTC).date().isoformat()}.{chosen_format}"


async def forget_person(request: Request) -> Response:
    """``POST /api/forget`` with ``email``: erase a person everywhere, keep a suppression (see LeadBook.forget)."""
    email = await _person(request)
    if isinstance(email, Response):
        return email
    if re.fullmatch(LINE_USER_ID, email):
        return await _forget_line_user(request, email)
    try:
        erased = await run_in_threadpool(request.app.state.leadbook.forget, email)
        erased["mail"] = await run_in_threadpool(request.app.state.mail.forget, email)
    except (OSError, StoreError):
        log.exception("an erasure could not be completed")
        return PlainTextResponse("the data folder cannot be written now; nothing is lost, try again\n", 503)
    log.info("erasure by api:%s: %s", _client(request), erased)
    return JSONResponse({"email": email, "erased": erased, "suppressed": True})


async def describe_person(request: Request) -> Response:
    """``POST /api/subject`` with ``email``: everything kept about a person, as one JSON document.

    POST, not GET: the address would otherwise sit in every proxy's access log.
    """
    email = await _person(request)
    if isinstance(email, Response):
        return email
    if re.fullmatch(LINE_USER_ID, email):
        document = await run_in_threadpool(request.app.state.linebook.subject, email)
        folder = request.app.state.settings.data_dir / "line"
        document["line_messages"] = await run_in_threadpool(pending_messages, folder, email)
        return JSONResponse(document)
    document = await run_in_threadpool(request.app.state.leadbook.subject, email)
    document["mail"] = await run_in_threadpool(request.app.state.mail.pending, email)
    log.info("subject access by api:%s: %d leads", _client(request), len(document["leads"]))
    return JSONResponse(document)


async def _forget_line_user(request: Request, user_id: str) -> Response:
    line = request.app.state.line
    try:
        erased = await run_in_threadpool(request.app.state.linebook.forget, user_id)
        folder = request.app.state.settings.data_dir / "line"
        forget = line.forget if line is not None else lambda user: erase_messages(folder, user)
        erased["line_messages"] = await run_in_threadpool(forget, user_id)
    except (OSError, StoreError):
        log.exception("an erasure could not be completed")
        return PlainTextResponse("the data folder cannot be written now; nothing is lost, try again\n", 503)
    log.info("erasure by api:%s: %s", _client(request), erased)
    return JSONResponse({"line_user": user_id, "erased": erased})


async def _person(request: Request) -> str | Response:
    """The normalized address an authorized request names, or the answer to send instead."""
    refused = authorized(request)
    return refused if refused is not None else await _email_from(request)


async def _email_from(request: Request) -> str | Response:
    """The normalized ``email`` of a form or JSON body, or a 400 that says what is wrong."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return PlainTextResponse("the body is not valid JSON\n", status_code=400)
        fields = body if isinstance(body, dict) else {}
    else:
        fields = dict(await request.form())
    line_user = fields.get("line_user")
    if isinstance(line_user, str):
        if re.fullmatch(LINE_USER_ID, line_user):
            return line_user
        return PlainTextResponse("line_user: not a LINE user id (U and 32 hex digits)\n", status_code=400)
    raw = fields.get("email")
    if not isinstance(raw, str):
        return PlainTextResponse(
            "email: missing; send email=ADDRESS (or line_user=ID) as a form field or JSON\n", status_code=400
        )
    try:
        return normalize_email(raw)
    except EmailError:
        return PlainTextResponse("email: not an email address\n", status_code=400)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"

"""The marketer's HTTP endpoints, behind the API key: export of leads, erasure and access for a person."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from quiz.leads.channel import EmailChannel
from quiz.leads.records import EmailError, normalize_email
from quiz.line.channel import LineChannel
from quiz.marketer.export import ExportError, batched
from quiz.marketer.operations import Export, People, begin_export, is_line_user
from quiz.web.services import services
from quiz.web.steps import form_of

log = logging.getLogger(__name__)

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_YES = ("1", "true", "yes", "on")
_NO = ("", "0", "false", "no", "off")


def authorized(request: Request) -> Response | None:
    """None when the request carries the API key; else the answer to send instead.

    No key configured: 404, as if the endpoint did not exist (it is off). A missing or wrong key: one
    and the same 401, so a caller learns nothing about which; compare_digest takes as long for a key
    that is almost right as for one that is all wrong.
    """
    key = services(request).settings.api_key
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
    found = services(request)
    params = request.query_params
    try:
        excel = _flag(params.get("excel"), "excel")
        export = begin_export(
            found.store,
            found.library.all(),
            found.settings.data_dir,
            who=f"api:{_client(request)}",
            quiz_ids=params.getlist("quiz"),
            since=params.get("since"),
            until=params.get("until"),
            consent=params.get("consent"),
            locale=params.get("locale"),
            format=params.get("format"),
            excel=excel,
        )
    except ExportError as error:
        return PlainTextResponse(f"{error}\n", status_code=400)
    return export_response(export)


def export_response(export: Export) -> StreamingResponse:
    """The export as a download, its audit line written however the stream ends (the API's and the dashboard's)."""
    return StreamingResponse(
        _audited(export),
        media_type=MEDIA_TYPES[export.format],
        headers={
            "Content-Disposition": f'attachment; filename="{_file_name(export.format)}"',
            "Cache-Control": "no-store",  # personal data: no proxy or browser cache keeps a copy
        },
    )


async def _audited(export: Export) -> AsyncIterator[str]:
    """The chunks, read in a worker thread (the store reads files), then the audit line, however it ends."""
    complete = False
    try:
        async for chunk in iterate_in_threadpool(batched(export.chunks)):
            yield chunk
        complete = True
    finally:
        # A small blocking append + fsync on the event loop: awaiting a thread here would be
        # cancelled along with a client that went away, and lose the record.
        export.finish(complete=complete)


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
    """``POST /api/forget`` with ``email`` or ``line_user``: erase a person everywhere (see operations.People)."""
    named = await _person(request)
    if isinstance(named, Response):
        return named
    erased = await run_in_threadpool(_people(request).forget, named)  # a full disk: 503; sent again, it finishes
    log.info("erasure by api:%s: %s", _client(request), erased["erased"])
    return JSONResponse(erased)


async def describe_person(request: Request) -> Response:
    """``POST /api/subject`` with ``email`` or ``line_user``: everything kept about a person, as one JSON document.

    POST, not GET: the address would otherwise sit in every proxy's access log.
    """
    named = await _person(request)
    if isinstance(named, Response):
        return named
    document = await run_in_threadpool(_people(request).describe, named)
    kind = "LINE user" if is_line_user(named) else f"{len(document['leads'])} leads"
    log.info("subject access by api:%s: %s", _client(request), kind)
    return JSONResponse(document)


def _people(request: Request) -> People:
    found = services(request)
    email, line = found.channel(EmailChannel), found.channel(LineChannel)
    return People(leads=email.book, lines=line.book, mail=email.mail)


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
        fields = dict(await form_of(request))
    line_user = fields.get("line_user")
    if isinstance(line_user, str):
        if is_line_user(line_user):
            return line_user
        return PlainTextResponse("line_user: not a LINE user id (U and 32 hex digits)\n", status_code=400)
    raw = fields.get("email")
    if not isinstance(raw, str):
        return PlainTextResponse(
            "email: missing; send email=ADDRESS (or line_user=ID) as a form field or JSON\n", status_code=400
        )
    try:
        return normalize_email(raw)  # a LINE user id comes as line_user, never as an address
    except EmailError:
        return PlainTextResponse("email: not an email address\n", status_code=400)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"

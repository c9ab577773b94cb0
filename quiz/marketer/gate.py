"""The dashboard's door: signing in and out, the session every page needs, and CSRF on every form.

Nothing under ``/admin`` answers without a live session (``Sessions``); a page for a higher role
than the user's answers 404, as if it did not exist, so lead ids cannot be probed. Sign-in
attempts are limited per account and per client, and every sign-in, failed or not, and every
sign-out is in the audit trail.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from quiz.marketer.audit import AuditTrail
from quiz.marketer.sessions import Session, Sessions
from quiz.marketer.users import User, Users, account_key
from quiz.marketer.words import WORDS, locale_of
from quiz.web.limits import Limit, Limiter
from quiz.web.steps import form_of, is_htmx, under_root

COOKIE = "quiz_admin"
LOGIN_COOKIE = "quiz_admin_login"  # the sign-in form's CSRF token, before there is a session
LOGIN_FORM_SECONDS = 60 * 60
PREFIX = "/admin"
ACCOUNT_TRIES = Limit(attempts=5, seconds=15 * 60)  # guessing one account's password
CLIENT_TRIES = Limit(attempts=20, seconds=15 * 60)  # one client trying many accounts
# Never framed by a shop, never indexed, never cached: every page may show personal data.
HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
    " connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "Vary": "HX-Request, Accept-Language, Cookie",
}


@dataclass
class Dashboard:
    """What the dashboard's handlers share; built once by ``create_app``, at ``app.state.dashboard``."""

    users: Users
    sessions: Sessions
    audit: AuditTrail
    templates: Jinja2Templates
    account_tries: Limiter
    client_tries: Limiter
    secure_cookies: bool = False  # QUIZ_PUBLIC_URL is https: the cookie is never sent in clear


def dashboard(request: Request) -> Dashboard:
    found = request.app.state.dashboard
    if not isinstance(found, Dashboard):
        raise TypeError("the app was not built by quiz.app.create_app")
    return found


@dataclass(frozen=True)
class Visit:
    """One signed-in request: who, their session, the posted form (if any) and their language."""

    user: User
    session: Session
    locale: str
    form: FormData | None

    @property
    def words(self) -> dict[str, str]:
        return WORDS[self.locale]


Handler = Callable[[Request, Visit], Awaitable[Response]]


def signed_in(role: str) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a page: no session -> sign in first; a lower role -> 404; a POST without its CSRF token -> 403."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            found = dashboard(request)
            locale = locale_of(request.headers.get("accept-language", ""))
            session = await run_in_threadpool(found.sessions.find, request.cookies.get(COOKIE, ""))
            user = await run_in_threadpool(found.users.get, session.user) if session else None
            if session is None or user is None:
                return _to_sign_in(request)
            if not user.may(role):
                return page(request, locale, "admin/message.html", {"title": WORDS[locale]["not_found"]}, 404)
            form = None
            if request.method == "POST":
                form = await form_of(request)
                if not session.allows(str(form.get("csrf", ""))):
                    return page(request, locale, "admin/message.html", {"title": WORDS[locale]["form_expired"]}, 403)
            return await handler(request, Visit(user, session, locale, form))

        return endpoint

    return wrap


def _to_sign_in(request: Request) -> Response:
    if is_htmx(request):  # a fragment cannot become the sign-in page: htmx is told to go there
        return Response(status_code=401, headers={"HX-Redirect": under_root(request, f"{PREFIX}/login"), **HEADERS})
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = under_root(request, f"{PREFIX}/login?next={quote(wanted, safe='')}")
    return RedirectResponse(target, status_code=303, headers=HEADERS)


def page(request: Request, locale: str, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """A dashboard page, or just its content for htmx (which swaps it in place and pushes the URL)."""
    found = dashboard(request)
    restoring = request.headers.get("hx-history-restore-request") == "true"
    full = {
        "ui": WORDS[locale],
        "lang": locale,
        "fragment": is_htmx(request) and not restoring,
        "percent": percent,
        "signed_percent": signed_percent,
        **context,
    }
    response = found.templates.TemplateResponse(request, name, full, status_code=status_code)
    response.headers.update(HEADERS)
    return response


async def show_sign_in(request: Request) -> Response:
    return _sign_in_page(request, status_code=200)


def _sign_in_page(request: Request, *, status_code: int, error: str = "", email: str = "") -> Response:
    locale = locale_of(request.headers.get("accept-language", ""))
    token = secrets.token_urlsafe(24)
    context = {"csrf": token, "error": error, "email": email, "next": _next(request.query_params.get("next"))}
    response = page(request, locale, "admin/login.html", context, status_code)
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_FORM_SECONDS,
        path=under_root(request, PREFIX),
        httponly=True,
        samesite="strict",
        secure=dashboard(request).secure_cookies,
    )
    return response


async def sign_in(request: Request) -> Response:
    found = dashboard(request)
    locale = locale_of(request.headers.get("accept-language", ""))
    words = WORDS[locale]
    form = await form_of(request)
    email, password = str(form.get("email", "")).strip()[:320], str(form.get("password", ""))
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(str(form.get("csrf", "")).encode(), expected.encode()):
        return _sign_in_page(request, status_code=403, error=words["form_expired"], email=email)
    client = request.client.host if request.client else "unknown"
    account_ok = await run_in_threadpool(found.account_tries.allow, account_key(email))
    client_ok = account_ok and await run_in_threadpool(found.client_tries.allow, client)
    if not account_ok or not client_ok:
        await run_in_threadpool(found.audit.record, "sign_in_limited", f"dashboard:{email}", client=client)
        message = words["too_many_account"] if not account_ok else words["too_many_client"]
        return _sign_in_page(request, status_code=429, error=message, email=email)
    user = await run_in_threadpool(found.users.verify, email, password)
    if user is None:
        await run_in_threadpool(found.audit.record, "sign_in_failed", f"dashboard:{email}", client=client)
        return _sign_in_page(request, status_code=401, error=words["bad_login"], email=email)
    token, _ = await run_in_threadpool(found.sessions.begin, user.email)
    await run_in_threadpool(found.audit.record, "sign_in", f"dashboard:{user.email}", client=client)
    target = under_root(request, _next(str(form.get("next", ""))))
    response = RedirectResponse(target, status_code=303, headers=HEADERS)
    path = under_root(request, PREFIX)
    response.delete_cookie(LOGIN_COOKIE, path=path)
    response.set_cookie(
        COOKIE, token, path=path, httponly=True, samesite="lax", secure=found.secure_cookies
    )  # a session cookie: the browser forgets it when it closes; the store ends it after the idle time
    return response


@signed_in("viewer")
async def sign_out(request: Request, visit: Visit) -> Response:
    found = dashboard(request)
    await run_in_threadpool(found.sessions.end, visit.session)
    client = request.client.host if request.client else "unknown"
    await run_in_threadpool(found.audit.record, "sign_out", f"dashboard:{visit.user.email}", client=client)
    response = RedirectResponse(under_root(request, f"{PREFIX}/login"), status_code=303, headers=HEADERS)
    response.delete_cookie(COOKIE, path=under_root(request, PREFIX))
    return response


def message(request: Request, visit: Visit, title: str, status_code: int, back: str = "") -> Response:
    """A page of one sentence: what went wrong (a filter, a missing page) and the way back."""
    context = {"title": title, "visit": visit, "back": back}
    return page(request, visit.locale, "admin/message.html", context, status_code)


def bad_filter(request: Request, visit: Visit, error: object) -> Response:
    sentence = visit.words["bad_filter"].format(error=error)
    return message(request, visit, sentence, 400, back=request.url.path)  # the same page, filters reset


def not_found(request: Request, visit: Visit) -> Response:
    return message(request, visit, visit.words["not_found"], 404)


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def signed_percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.1f}%"


def _next(raw: str | None) -> str:
    """Where to go after signing in: a dashboard path only, never another site (no open redirect)."""
    wanted = (raw or "").strip()
    if wanted.startswith(PREFIX) and not wanted.startswith("//") and "\\" not in wanted and "\n" not in wanted:
        return wanted[:2000]
    return PREFIX

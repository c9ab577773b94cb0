"""The web application, composed in one place from plain lists of routes, middleware, handlers and channels."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from jinja2 import pass_context
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from quiz.consent import Provenance
from quiz.delivery.folders import move_folder_queues
from quiz.delivery.mail import MailQueue, transport_for
from quiz.delivery.outbox import Outbox
from quiz.delivery.schedule import my_turn
from quiz.errors import QuizError
from quiz.format.richtext import clean
from quiz.leads.book import LeadBook
from quiz.leads.channel import EmailChannel, OptInLimits
from quiz.leads.optin import submit_optin
from quiz.leads.subscriptions import confirm_subscription, show_confirm, unsubscribe
from quiz.leads.suppressions import Suppressions
from quiz.line.api import LineApi
from quiz.line.book import LineBook
from quiz.line.channel import CODE_TRIES, LineChannel
from quiz.line.login import line_callback, start_line_login
from quiz.line.queue import LineQueue
from quiz.line.webhook import line_webhook
from quiz.marketer.api import describe_person, export_leads, forget_person
from quiz.marketer.audit import AuditTrail
from quiz.marketer.dashboard import show_answers, show_drop_off, show_funnel, show_recommendations, show_traffic
from quiz.marketer.gate import (
    ACCOUNT_TRIES,
    CLIENT_TRIES,
    PREFIX,
    Dashboard,
    show_sign_in,
    sign_in,
    sign_out,
)
from quiz.marketer.leadpages import confirm_erasure, download_leads, erase_person, show_leads, show_person
from quiz.marketer.preview import list_previews, preview_paths, preview_trace, preview_version, show_preview, to_preview
from quiz.marketer.sessions import Sessions
from quiz.marketer.users import Users
from quiz.settings import Settings
from quiz.store.opening import open_store
from quiz.web.assets import STATIC, WIDGETS, Assets, widget_version
from quiz.web.failures import render_error
from quiz.web.library import QuizLibrary
from quiz.web.limits import Limit, Limiter, limiter_for, prune_limits
from quiz.web.middleware import BodyLimit, SecurityHeaders
from quiz.web.phrases import phrased
from quiz.web.results import cart_item
from quiz.web.services import Services, services
from quiz.web.shopper import add_to_cart, follow_product, show_intro, show_step, start_quiz, submit_answer
from quiz.web.steps import path_to, under_root
from quiz.web.tally import Tally
from quiz.web.theme import theme_css
from quiz.web.tokens import LinkTokens, ProgressTokens

log = logging.getLogger(__name__)
PACKAGE = Path(__file__).parent
# Each package brings the templates of what it shows: the shopper's steps, the email channel, LINE.
TEMPLATE_FOLDERS = [
    PACKAGE / "web" / "templates",
    PACKAGE / "leads" / "templates",
    PACKAGE / "line" / "templates",
    PACKAGE / "marketer" / "templates",
]

TALLY_EVERY = 1.0  # seconds: the dashboard's counts trail the shoppers by about this much
PRUNE_EVERY = 60 * 60.0  # seconds: LINE's logins, codes and event ids, and spent rate limits, hourly

# Pages and fragments are compressed per response; static files were compressed once at start-up.
COMPRESSED = [Middleware(GZipMiddleware, minimum_size=500, compresslevel=6)]


def create_app(settings: Settings) -> Starlette:
    routes = [
        Route("/q/{quiz_id}", show_intro, methods=["GET"], name="show_intro", middleware=COMPRESSED),
        Route("/q/{quiz_id}/start", start_quiz, methods=["POST"], name="start_quiz", middleware=COMPRESSED),
        Route("/q/{quiz_id}/step", show_step, methods=["GET"], name="show_step", middleware=COMPRESSED),
        Route("/q/{quiz_id}/answer", submit_answer, methods=["POST"], name="submit_answer", middleware=COMPRESSED),
        Route("/q/{quiz_id}/optin", submit_optin, methods=["POST"], name="submit_optin", middleware=COMPRESSED),
        Route("/q/{quiz_id}/go/{product_id}", follow_product, methods=["GET"], name="follow_product"),
        Route("/q/{quiz_id}/cart", add_to_cart, methods=["GET", "POST"], name="add_to_cart"),
        Route("/q/{quiz_id}/line", start_line_login, methods=["POST"], name="start_line_login"),
        Route("/line/callback", line_callback, methods=["GET"], name="line_callback"),
        Route("/line/webhook", line_webhook, methods=["POST"], name="line_webhook"),
        Route("/confirm/{token}", show_confirm, methods=["GET"], name="show_confirm"),
        Route("/confirm/{token}", confirm_subscription, methods=["POST"], name="confirm_subscription"),
        Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"], name="unsubscribe"),
        Route("/q/{quiz_id}/theme.css", theme_css, methods=["GET"], name="theme_css"),
        Route("/q/{quiz_id}/preview", to_preview, methods=["GET"], name="to_preview"),
        Route("/api/export", export_leads, methods=["GET"], name="export_leads"),  # streams: not compressed
        Route("/api/forget", forget_person, methods=["POST"], name="forget_person"),
        Route("/api/subject", describe_person, methods=["POST"], name="describe_person"),
        *admin_routes(),
        Route("/static/{name:path}", static_file, methods=["GET", "HEAD"], name="static"),
        Route("/widget.js", widget_script, methods=["GET", "HEAD"], name="widget_script"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
    ]
    # A full disk under a queue or an audit log is an OSError: shown as QuizError's Unavailable.
    exception_handlers = {QuizError: render_error, OSError: render_error}
    store = open_store(settings)  # the embedded store refuses if another server writes its folder
    suppressions = Suppressions(store, settings.suppression_secret)
    try:
        suppressions.check_key()  # a changed key would let erased people be mailed again: refuse to start
    except BaseException:
        store.close()
        raise
    outbox = Outbox(store)
    assets = Assets([STATIC, WIDGETS])
    provenance = Provenance(settings.controller, widget_version(assets, TEMPLATE_FOLDERS))

    def limit(name: str, limit: Limit) -> Limiter:
        return limiter_for(store, name, limit, salt=settings.secret_keys[-1])

    mail = MailQueue(outbox, transport_for(settings))
    email = EmailChannel(book=LeadBook(store, suppressions, provenance), mail=mail, limits=OptInLimits(limit))
    linebook = LineBook(store, provenance)
    queue = LineQueue(outbox, LineApi(settings.line), linebook.may_push) if settings.line else None
    line = LineChannel(line=settings.line, book=linebook, queue=queue, code_tries=limit("line_code", CODE_TRIES))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(move_folder_queues, settings.data_dir, outbox)  # what an earlier version queued
        email.mail.start()
        if queue is not None:
            queue.start()
        pruning = asyncio.create_task(prune_every(PRUNE_EVERY, linebook))
        counting = asyncio.create_task(flush_every(TALLY_EVERY, tally))
        yield
        for task in (pruning, counting):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # a prune or a write of counts under way finishes before the store closes
        await run_in_threadpool(flush_tally, tally)  # the last second's counts
        if queue is not None:
            queue.close()
        email.mail.close()
        store.close()  # writes the buffered events and releases the folder

    tally = Tally(store, settings.time_zone)
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=exception_handlers, lifespan=lifespan)
    templates = Jinja2Templates(directory=TEMPLATE_FOLDERS)
    templates.env.auto_reload = False  # the package's own files: no stat of each template on every render
    templates.env.globals["path_for"] = path_for
    templates.env.globals["asset"] = asset_path
    templates.env.filters["rich"] = rich_text
    templates.env.filters["cart_item"] = cart_item
    templates.env.filters["phrases"] = phrased
    app.state.dashboard = Dashboard(
        users=Users(store),
        sessions=Sessions(store),
        audit=AuditTrail(settings.data_dir, store),
        templates=templates,
        account_tries=limit("sign_in_account", ACCOUNT_TRIES),
        client_tries=limit("sign_in_client", CLIENT_TRIES),
        secure_cookies=settings.public_url.startswith("https://"),
    )
    app.state.services = Services(
        settings=settings,
        library=QuizLibrary(settings.quizzes_dir),
        store=store,
        tokens=ProgressTokens(settings.secret_keys, max_age=settings.progress_max_age),
        links=LinkTokens(settings.secret_keys),
        templates=templates,
        assets=assets,
        channels=(email, line),  # the results step shows their offers in this order
        tally=tally,
    )
    return app


def app_from_environment() -> Starlette:
    """The app of one ``quiz serve --workers N`` process: its settings from the ``QUIZ_*`` environment."""
    from quiz.settings import from_environment

    return create_app(from_environment())


async def prune_every(seconds: float, book: LineBook) -> None:
    """Prune short-lived records every ``seconds``, once across the processes sharing the store."""
    while True:
        try:
            if await run_in_threadpool(my_turn, book.store, "prune", every=seconds, now=time.time()):
                pruned = await run_in_threadpool(prune, book)
                log.info("Short-lived records pruned: %s", pruned)
        except Exception:  # an odd record must not end pruning for good, nor break the shutdown
            log.exception("Short-lived records could not be pruned; trying again in %.0f s", seconds)
        await asyncio.sleep(min(seconds, 60))  # asks each minute: whichever process is up takes the turn


async def flush_every(seconds: float, tally: Tally) -> None:
    """Write the funnel's counts each ``seconds`` (see quiz.web.tally)."""
    while True:
        await asyncio.sleep(seconds)
        await run_in_threadpool(flush_tally, tally)


def flush_tally(tally: Tally) -> None:
    try:
        tally.flush()
    except (QuizError, OSError) as error:  # kept in memory: the next second tries again
        log.warning("The funnel's counts could not be written yet: %s", error)
    except Exception:  # whatever it is, counting goes on and the shutdown still closes the store
        log.exception("The funnel's counts could not be written; trying again")


def prune(book: LineBook) -> dict[str, int]:
    """What has served: LINE's logins, codes and event ids, spent rate-limit counts, ended dashboard sessions."""
    moment = time.time()
    return {
        **book.prune(),
        "rate_limits": prune_limits(book.store, now=moment),
        "sessions": Sessions(book.store).prune(moment),
    }


def admin_routes() -> list[Route]:
    """The marketer's dashboard, under /admin: every page behind a session (quiz.marketer.gate)."""
    pages = [
        ("", show_funnel, "admin_funnel"),
        ("/dropoff", show_drop_off, "admin_drop_off"),
        ("/answers", show_answers, "admin_answers"),
        ("/recommendations", show_recommendations, "admin_recommendations"),
        ("/traffic", show_traffic, "admin_traffic"),
        ("/leads", show_leads, "admin_leads"),
        ("/leads/download", download_leads, "admin_download"),  # streams: not compressed
        ("/leads/{key}", show_person, "admin_person"),
        ("/leads/{key}/erase", confirm_erasure, "admin_confirm_erasure"),
        ("/preview", list_previews, "admin_previews"),
        ("/preview/{quiz_id}", show_preview, "admin_preview"),
        ("/preview/{quiz_id}/trace", preview_trace, "admin_preview_trace"),
        ("/preview/{quiz_id}/version", preview_version, "admin_preview_version"),
        ("/preview/{quiz_id}/paths", preview_paths, "admin_preview_paths"),
    ]
    routes = [
        Route(
            f"{PREFIX}{path}", handler, methods=["GET"], name=name, middleware=[] if "download" in name else COMPRESSED
        )
        for path, handler, name in pages
    ]
    return [
        Route(f"{PREFIX}/login", show_sign_in, methods=["GET"], name="admin_show_sign_in", middleware=COMPRESSED),
        Route(f"{PREFIX}/login", sign_in, methods=["POST"], name="admin_sign_in"),
        Route(f"{PREFIX}/logout", sign_out, methods=["POST"], name="admin_sign_out"),
        Route(f"{PREFIX}/leads/{{key}}/erase", erase_person, methods=["POST"], name="admin_erase"),
        *routes,
    ]


# Templates link by path, not absolute URL, so the server works behind any proxy or host name.
@pass_context
def path_for(context: Mapping[str, Any], name: str, **params: Any) -> str:
    return path_to(context["request"], name, **params)


@pass_context
def asset_path(context: Mapping[str, Any], name: str) -> str:
    request: Request = context["request"]
    return under_root(request, services(request).assets.url(name))


@functools.lru_cache(maxsize=4096)  # a quiz's few rich texts, sanitized on every page otherwise
def rich_text(html: str) -> Markup:
    return Markup(clean(html))  # safe to mark: nh3 kept only the allow-listed tags and attributes


async def static_file(request: Request) -> Response:
    return services(request).assets.response(request, request.path_params["name"])


async def widget_script(request: Request) -> Response:
    """The embed script at the stable address merchants paste into their shop."""
    return services(request).assets.response(request, "widget.js")

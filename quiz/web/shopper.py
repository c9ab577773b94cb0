"""The shopper's flow over HTTP: intro, one question at a time, results.

Every step is a real form. With htmx (``HX-Request``) a POST answers with the next step's
fragment; without JavaScript it answers 303 to a GET of the full page (post/redirect/get).
"""

from __future__ import annotations

import functools
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from babel.numbers import format_currency
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from quiz.consent import consent_text, iso_time, now, quiz_version
from quiz.engine.flow import AnswerError, first_question, next_after, parse_answer, predicted_path, trail
from quiz.engine.reasons import reason_for
from quiz.engine.scoring import recommend
from quiz.errors import ProductNotFound, QuizNotFound
from quiz.format.conditions import Answer
from quiz.format.questions import RESULTS, Question
from quiz.format.schema import Quiz
from quiz.format.text import best_locale, resolve
from quiz.line.offer import LINKED_ON_LINE, LineOffer, line_offer
from quiz.web.middleware import content_security_policy
from quiz.web.tokens import Progress, TokenError
from quiz.web.wording import answer_error, preferred_locales, ui_locale, words

CONTEXT_FIELDS = ("locale", "product", "page")
MAX_CONTEXT_CHARS = 500


@dataclass(frozen=True)
class OptInForm:
    """The email opt-in on the results step, as the quiz's ``lead_capture`` places it."""

    consent: str  # the marketing consent line next to the unticked box; "" if the quiz has none
    required: bool  # results wait for an address (only when the quiz says so)
    gate: bool  # shown before the results, instead of them
    email: str = ""  # what the shopper typed, shown again with an error
    ticked: bool = False
    error: str = ""
    sent: str = ""  # "sent" or "confirm" once the form went through


@dataclass(frozen=True)
class Step:
    """Everything a step's template shows, as plain data."""

    quiz: Quiz
    locale: str
    token: str = ""
    question: Question | None = None
    answer: Answer | None = None
    error: str = ""
    step: int = 0
    total: int = 0
    can_go_back: bool = False
    results: list[dict[str, Any]] | None = None
    fallback: bool = False
    notice: str = ""
    context: dict[str, str] | None = None
    optin: OptInForm | None = None
    line: LineOffer | None = None
    gate: bool = False  # the results wait behind the opt-in (email, LINE or both)

    def t(self, text: Any) -> str:
        """A quiz text in the shopper's locale."""
        return resolve(text, self.locale, self.quiz.locale) if text is not None else ""


async def show_intro(request: Request) -> Response:
    quiz = quiz_for(request)
    context = _page_context(request.query_params)
    locale = locale_for(request, quiz, context)
    record_event(request, quiz, "viewed", context)
    return render(request, Step(quiz=quiz, locale=locale, context=context), status_code=200)


async def start_quiz(request: Request) -> Response:
    quiz = quiz_for(request)
    form = await request.form()
    context = _page_context(form)
    progress = Progress(quiz_id=quiz.id, current=first_question(quiz).id, context=context, started=time.time())
    record_event(request, quiz, "started", context)
    return respond(request, quiz, progress)


async def show_step(request: Request) -> Response:
    quiz = quiz_for(request)
    progress = progress_for(request, quiz, request.query_params.get("t", ""))
    if progress is None:
        return restart(request, quiz)
    return render(request, step_for(request, quiz, progress), status_code=200)


async def submit_answer(request: Request) -> Response:
    quiz = quiz_for(request)
    form = await request.form()
    progress = progress_for(request, quiz, str(form.get("t", "")))
    if progress is None:
        return restart(request, quiz)
    if form.get("action") == "back":
        return respond(request, quiz, _back(quiz, progress))
    if progress.current == RESULTS:
        return respond(request, quiz, progress)
    question = quiz.question(progress.current)
    try:
        answer = parse_answer(question, [str(value) for value in form.getlist("a")])
    except AnswerError as error:
        step = step_for(request, quiz, progress)
        locale = ui_locale(step.locale)
        message = answer_error(locale, error.code, error.params)
        step = replace(step, error=message, answer=_raw_answer(form))
        return render(request, step, status_code=200 if is_htmx(request) else 422)
    answers = {**progress.answers, question.id: answer}
    on_path = {**(trail(quiz, answers, question.id) or {}), question.id: answer}
    target = next_after(quiz, question, on_path)
    record_event(request, quiz, "answered", progress.context, question=question.id)
    progress = replace(progress, current=target, answers=answers)
    if target == RESULTS:
        record_event(request, quiz, "completed", progress.context)
        progress = replace(progress, response=_keep_response(request, quiz, progress))
    return respond(request, quiz, progress)


async def follow_product(request: Request) -> Response:
    """A product link from the results: count the click, then send the shopper to the shop's page.

    The address is the quiz's own product URL, never one from the request, so this is no open redirect.
    """
    quiz = quiz_for(request)
    product = quiz.product_index.get(request.path_params["product_id"])
    if product is None:
        raise ProductNotFound(request.path_params["product_id"])
    progress = progress_for(request, quiz, request.query_params.get("t", ""))
    context = progress.context if progress else {}  # an expired token still reaches the product
    record_event(request, quiz, "clicked", context, product=product.id)
    shop = shop_origin(context, embedders_for(request, quiz))
    return RedirectResponse(tracked(urljoin(shop, product.url), quiz.id), status_code=303)


def _keep_response(request: Request, quiz: Quiz, progress: Progress) -> str:
    """Store the completed run (written within a second, like funnel events); its id goes into the token."""
    response = response_record(quiz, progress, locale_for(request, quiz, progress.context))
    request.app.state.store.add_soon("responses", response)
    if request.app.state.settings.line is not None and quiz.lead_capture and "line" in quiz.lead_capture.channels:
        request.app.state.linebook.remember_code(response["id"])  # the code the results show, for the chat
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
        "site": _page_site(progress.context),
        "started_at": iso_time(progress.started) if progress.started else None,
        "completed_at": now(),
    }


def record_event(request: Request, quiz: Quiz, kind: str, context: dict[str, str], **details: str) -> None:
    """A funnel event, written within a second (see quiz.store.tiny): no personal data, the page's site only."""
    event = {
        "kind": kind,
        "quiz": quiz.id,
        "at": now(),
        "site": _page_site(context),
        "product_page": context.get("product", ""),
        **details,
    }
    request.app.state.store.add_soon("events", event)


def quiz_for(request: Request) -> Quiz:
    quiz_id = request.path_params["quiz_id"]
    quiz: Quiz | None = request.app.state.library.get(quiz_id)
    if quiz is None:
        raise QuizNotFound(quiz_id)
    return quiz


def progress_for(request: Request, quiz: Quiz, token: str) -> Progress | None:
    try:
        progress: Progress = request.app.state.tokens.load(token, quiz_id=quiz.id)
    except TokenError:
        return None
    valid_current = progress.current == RESULTS or progress.current in quiz.question_index
    if not valid_current or trail(quiz, progress.answers, progress.current) is None:
        return None  # the quiz changed under the shopper, or the token lies
    return progress


def _back(quiz: Quiz, progress: Progress) -> Progress:
    path = list(trail(quiz, progress.answers, progress.current) or {})
    previous = path[-1] if path else first_question(quiz).id
    return replace(progress, current=previous)


def respond(request: Request, quiz: Quiz, progress: Progress) -> Response:
    """The next step: its fragment for htmx, otherwise a redirect to its page."""
    if is_htmx(request):
        return render(request, step_for(request, quiz, progress), status_code=200)
    token = request.app.state.tokens.dump(progress)
    path = under_root(request, request.app.url_path_for("show_step", quiz_id=quiz.id))
    return RedirectResponse(f"{path}?{urlencode({'t': token})}", status_code=303)


def under_root(request: Request, path: str) -> str:
    """``path`` below the prefix a proxy serves the app under (`uvicorn --root-path`), if any."""
    return str(request.scope.get("root_path", "")) + path


def restart(request: Request, quiz: Quiz) -> Response:
    context = _page_context(request.query_params)
    locale = locale_for(request, quiz, context)
    notice = words(locale)["restarted"]
    return render(request, Step(quiz=quiz, locale=locale, notice=notice, context=context), status_code=200)


def step_for(request: Request, quiz: Quiz, progress: Progress) -> Step:
    locale = locale_for(request, quiz, progress.context)
    token = request.app.state.tokens.dump(progress)
    kept = trail(quiz, progress.answers, progress.current) or {}
    if progress.current == RESULTS:
        results, fallback = results_for(quiz, progress, locale, embedders_for(request, quiz))
        line = _line_offer(request, quiz, progress, locale)
        gate = _gated(quiz, progress, line)
        return Step(quiz=quiz, locale=locale, token=token, results=results, fallback=fallback,
                    can_go_back=bool(kept), context=progress.context, gate=gate,
                    optin=_optin_form(quiz, progress, locale, gate=gate, line=line), line=line)  # fmt: skip
    ahead = predicted_path(quiz, kept, progress.current)
    return Step(
        quiz=quiz,
        locale=locale,
        token=token,
        question=quiz.question(progress.current),
        answer=progress.answers.get(progress.current),
        step=len(kept) + 1,
        total=len(kept) + len(ahead),
        can_go_back=bool(kept),
        context=progress.context,
    )


def _gated(quiz: Quiz, progress: Progress, line: LineOffer | None) -> bool:
    """The quiz shows its opt-in before the results, and the shopper has not answered it yet.

    An address sent or the form skipped (in the token), or a LINE user linked to this response
    (in the store), opens the gate.
    """
    capture = quiz.lead_capture
    if capture is None or capture.placement != "before_results" or progress.lead:
        return False
    if line is not None and line.status in LINKED_ON_LINE:
        return False
    return "email" in capture.channels or line is not None  # a gate with no way through is no gate


def _optin_form(quiz: Quiz, progress: Progress, locale: str, *, gate: bool, line: LineOffer | None) -> OptInForm | None:
    capture = quiz.lead_capture
    if capture is None or "email" not in capture.channels or progress.lead == "skipped":
        return None
    consent = consent_text(quiz, locale)
    return OptInForm(
        consent=consent.text if consent else "",
        required=gate and capture.required and line is None,  # where LINE also opens the gate, email is a choice
        gate=gate,
        sent=progress.lead,
    )


def _line_offer(request: Request, quiz: Quiz, progress: Progress, locale: str) -> LineOffer | None:
    line = request.app.state.settings.line
    if line is None or not progress.response:
        return None
    status = request.app.state.linebook.status_of(progress.response)
    if not status and request.query_params.get("line") == "check":
        status = "waiting"  # the shopper asks whether LINE has linked them (code sent, login done): not yet
    return line_offer(line, quiz, progress.response, locale, status)


def results_for(quiz: Quiz, progress: Progress, locale: str, embedders: list[str]) -> tuple[list[dict[str, Any]], bool]:
    recommendation = recommend(quiz, progress.answers)
    shop = shop_origin(progress.context, embedders)
    results = []
    for item in recommendation.items:
        product = item.product
        results.append(
            {
                "id": product.id,
                "title": resolve(product.title, locale, quiz.locale),
                "image": urljoin(shop, product.image) if product.image else "",
                "url": urljoin(shop, product.url),
                "price": _price(product.price, product.currency or quiz.currency, locale),
                "in_stock": product.in_stock,
                "reason": reason_for(quiz, item, locale, fallback=recommendation.fallback),
            }
        )
    return results, recommendation.fallback


@functools.lru_cache(maxsize=4096)  # Babel's formatting cost more than scoring the results
def _price(price: float | None, currency: str, locale: str) -> str:
    if price is None:
        return ""
    return str(format_currency(price, currency, locale=locale.replace("-", "_")))


def tracked(url: str, quiz_id: str, *, medium: str = "quiz") -> str:
    """The product URL with UTM parameters naming the quiz, keeping the shop's own parameters."""
    parts = urlsplit(url)
    utm = urlencode({"utm_source": "quiz", "utm_medium": medium, "utm_campaign": quiz_id})
    query = f"{parts.query}&{utm}" if parts.query else utm
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def shop_origin(context: dict[str, str], embedders: list[str]) -> str:
    """Where relative product URLs live: the embedding page's site if it may embed the quiz, else the first.

    The page address comes from the shopper's browser, so it is only a choice among allowed sites:
    a link crafted with ``page=https://evil.example`` must not send shoppers there.
    """
    origin = _page_site(context)
    if origin in embedders:
        return origin + "/"
    return embedders[0] + "/" if embedders else ""


def _page_site(context: dict[str, str]) -> str:
    """The origin of the embedding page the browser named, or "" if it named none we can read."""
    try:
        page = urlsplit(context.get("page", ""))
    except ValueError:  # e.g. "http://[" from a hand-made link
        return ""
    return f"{page.scheme}://{page.netloc}" if page.scheme in ("http", "https") and page.netloc else ""


def _page_context(source: QueryParams | FormData) -> dict[str, str]:
    """The embedding page's context (locale, product, page URL), kept short and textual."""
    context = {}
    for name in CONTEXT_FIELDS:
        value = source.get(name)
        if isinstance(value, str) and value.strip():
            context[name] = value.strip()[:MAX_CONTEXT_CHARS]
    return context


def locale_for(request: Request, quiz: Quiz, context: dict[str, str]) -> str:
    """The quiz locale to use: the embed's choice, else the browser's Accept-Language, else the default."""
    wanted = [context["locale"]] if "locale" in context else []
    wanted += preferred_locales(request.headers.get("accept-language", ""))
    available = quiz.all_locales()
    for locale in wanted:
        chosen = best_locale(locale, available, "")
        if chosen:
            return chosen
    return quiz.locale


def _raw_answer(form: FormData) -> Answer | None:
    values = [str(value) for value in form.getlist("a")]
    if not values:
        return None
    return values if len(values) > 1 else values[0]


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(request: Request, step: Step, *, status_code: int) -> Response:
    templates = request.app.state.templates
    name = "quiz/_step.html" if is_htmx(request) else "quiz/page.html"
    ui = words(step.locale)
    embedders = embedders_for(request, step.quiz)
    context = {"s": step, "ui": ui, "lang": step.locale, "embedders": embedders}
    response: Response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Vary"] = "HX-Request, Accept-Language"
    response.headers["Cache-Control"] = "no-store"
    line = request.app.state.settings.line
    forms = (line.access_url,) if line is not None and line.login is not None else ()
    response.headers["Content-Security-Policy"] = content_security_policy(embedders, forms=forms)
    return response


def embedders_for(request: Request, quiz: Quiz) -> list[str]:
    """The origins allowed to frame this quiz: the quiz's own, then the server-wide ones."""
    origins = list(quiz.embed.allowed_origins)
    origins += [origin for origin in request.app.state.settings.embed_origins if origin not in origins]
    return origins

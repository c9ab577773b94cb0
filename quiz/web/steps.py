"""The web kernel: the quiz and progress a request names, the step it shows, and the answer it gets.

The shopper's handlers (``quiz.web.shopper``) and the channels' (the opt-in, LINE Login) share these:
a step is built as plain data (``Step``), then rendered as the full page or, for htmx, its fragment;
a POST that moves the shopper on answers with the next step's fragment, or 303 to its page.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode, urljoin

from starlette.applications import Starlette
from starlette.datastructures import FormData, QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from quiz.engine.flow import first_question, predicted_path, trail
from quiz.errors import FormRefused, QuizNotFound
from quiz.format.conditions import Answer, Answers
from quiz.format.questions import RESULTS, Question
from quiz.format.schema import Quiz
from quiz.format.text import best_locale, fill, resolve, without_controls
from quiz.web.middleware import content_security_policy
from quiz.web.offers import Offer
from quiz.web.once import once_per_request
from quiz.web.pages import TOKEN_MARK, pages_of, reusable, step_key, with_mark
from quiz.web.results import embedders_for, results_for, shop_origin
from quiz.web.services import services
from quiz.web.tokens import Progress, TokenError
from quiz.web.wording import preferred_locales, ui_locale, words

MAX_CAMPAIGN_CHARS = 100
# What the embedding page may tell, and at most how many characters of each are kept: every field
# travels in the progress token, whose room is counted in quiz.format.sizes.
CONTEXT_FIELDS = {
    "locale": 35,
    "product": 200,
    "page": 500,
    "utm_source": MAX_CAMPAIGN_CHARS,
    "utm_medium": MAX_CAMPAIGN_CHARS,
    "utm_campaign": MAX_CAMPAIGN_CHARS,
    "preview": 48,  # the dashboard preview's signed mark (quiz.web.tokens.LinkTokens.preview_mark), ~40
}
# A step posts its token, its action, the page's context and its answer: one field per option
# ticked, and a question has at most 100 options. A form of a thousand fields is no step's.
MAX_FORM_FIELDS = 150


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
    offers: tuple[Offer, ...] = ()  # what each channel offers with the results (quiz.web.offers)
    gate: bool = False  # the results wait behind the opt-in (email, LINE or both)
    url: str = ""  # the step's own address, for the browser's history: set when the step is new

    def t(self, text: Any) -> str:
        """A quiz text in the shopper's locale."""
        return resolve(text, self.locale, self.quiz.locale) if text is not None else ""

    def intro(self) -> str:
        """The quiz's intro, its ``{questions}`` the number of questions a shopper starting now will see.

        Counted as the progress bar counts them on the first question, so "7 questions" is a promise
        the quiz keeps even after the merchant adds one.
        """
        text = self.t(self.quiz.intro)
        if "{questions}" not in text:
            return text
        count = len(predicted_path(self.quiz, {}, first_question(self.quiz).id))
        return fill(text, {"questions": str(count)})


def quiz_for(request: Request) -> Quiz:
    quiz_id = request.path_params["quiz_id"]
    quiz = services(request).library.get(quiz_id)
    if quiz is None:
        raise QuizNotFound(quiz_id)
    return quiz


def progress_for(request: Request, quiz: Quiz, token: str) -> Progress | None:
    """The progress a token carries, or None if it is forged, expired or no longer fits the quiz."""
    try:
        progress = services(request).tokens.load(token, quiz_id=quiz.id)
    except TokenError:
        return None
    valid_current = progress.current == RESULTS or progress.current in quiz.question_index
    if not valid_current or trailed(request, quiz, progress.answers, progress.current) is None:
        return None  # the quiz changed under the shopper, or the token lies
    return progress


@dataclass(frozen=True)
class Posted:
    """What a step's form sent: its quiz, the form, the token it carried and the progress in that."""

    quiz: Quiz
    form: FormData
    token: str
    progress: Progress


async def form_of(request: Request) -> FormData:
    """The posted form, parsed only as far as a quiz's forms go: no files, at most ``MAX_FORM_FIELDS`` fields."""
    try:
        return await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    except HTTPException as error:  # Starlette's own 400 for a form past the limits, as a located sentence
        raise FormRefused(f"form: {error.detail}") from None


async def posted(request: Request) -> Posted | Response:
    """The form a step posted, or the restart page where its token is refused."""
    quiz = quiz_for(request)
    form = await form_of(request)
    token = str(form.get("t", ""))
    progress = progress_for(request, quiz, token)
    if progress is None:
        return restart(request, quiz)
    return Posted(quiz=quiz, form=form, token=token, progress=progress)


def respond(request: Request, quiz: Quiz, progress: Progress) -> Response:
    """The next step: its fragment for htmx, otherwise a redirect to its page.

    Either way the step gets its own address, ``/q/<quiz>/step?t=<token>``: the fragment carries it
    (``data-url``, where gzip finds the token already in the form, unlike in a header) and
    ``frame.js`` pushes it into the browser's history, so back, forward and reload keep the
    shopper's place, on the hosted page and inside a frame, whose history the browser joins to the
    shop page's. The token in it is encrypted (``quiz.web.tokens``): the address shows no answer.
    """
    if is_htmx(request):
        step = step_for(request, quiz, progress)
        return render(request, replace(step, url=step_url(request, quiz, step.token)), status_code=200)
    return RedirectResponse(step_url(request, quiz, services(request).tokens.dump(progress)), status_code=303)


def step_url(request: Request, quiz: Quiz, token: str) -> str:
    return f"{path_to(request, 'show_step', quiz_id=quiz.id)}?{urlencode({'t': token})}"


def path_to(request: Request, name: str, **params: str) -> str:
    """The path of a route, below the proxy's prefix: templates link by path, so any host name works."""
    return under_root(request, _route_path(request.app, name, tuple(params.items())))


@functools.lru_cache(maxsize=4096)  # Starlette tries every route in turn; a step page links a dozen times
def _route_path(app: Starlette, name: str, params: tuple[tuple[str, str], ...]) -> str:
    return str(app.url_path_for(name, **dict(params)))


def restart(request: Request, quiz: Quiz) -> Response:
    """The intro again, saying why: the token was refused (forged, expired, or the quiz changed).

    A 400, so a program (or a test) can tell a refused token from a fresh start; browsers show the
    page all the same, and htmx swaps it in (``responseHandling`` in ``quiz/page.html``).
    """
    context = page_context(request.query_params)
    locale = locale_for(request, quiz, context)
    notice = words(locale)["restarted"]
    return render(request, Step(quiz=quiz, locale=locale, notice=notice, context=context), status_code=400)


def trailed(request: Request, quiz: Quiz, answers: Answers, current: str) -> dict[str, Answer | None] | None:
    """``trail()``, once per request for the same answers: checking a token and showing its step both need it.

    The result is shared: read it, do not change it.
    """
    return once_per_request(request, trail, quiz, answers, current)


def step_for(request: Request, quiz: Quiz, progress: Progress) -> Step:
    locale = locale_for(request, quiz, progress.context)
    token = services(request).tokens.dump(progress)
    kept = trailed(request, quiz, progress.answers, progress.current) or {}
    if progress.current == RESULTS:
        results, fallback = results_for(request, quiz, progress, locale)
        offers = tuple(_offers(request, quiz, progress, locale))
        return Step(quiz=quiz, locale=locale, token=token, results=results, fallback=fallback,
                    can_go_back=bool(kept), context=progress.context, offers=offers,
                    gate=_gated(quiz, progress, offers))  # fmt: skip
    ahead = predicted_path(quiz, kept, progress.current)
    return Step(
        quiz=quiz,
        locale=locale,
        token=token,
        question=quiz.question(progress.current),
        answer=progress.answers.get(progress.current),
        step=len(kept) + 1,
        total=len(kept) + len(ahead),
        can_go_back=bool(kept),  # no context: a question shows none, so its page is the same on every shop page
    )


def _offers(request: Request, quiz: Quiz, progress: Progress, locale: str) -> list[Offer]:
    offers = (channel.offer(request, quiz, progress, locale) for channel in services(request).channels)
    return [offer for offer in offers if offer is not None]


def _gated(quiz: Quiz, progress: Progress, offers: tuple[Offer, ...]) -> bool:
    """The quiz shows its opt-in before the results, and the shopper has not answered it yet.

    An address sent or the form skipped (in the token), or an offer that already took the shopper
    (a LINE user linked to this response, in the store), opens the gate.
    """
    capture = quiz.lead_capture
    if capture is None or capture.placement != "before_results" or progress.lead:
        return False
    return bool(offers) and not any(offer.opened for offer in offers)  # a gate with no way through is no gate


def page_context(source: QueryParams | FormData) -> dict[str, str]:
    """The embedding page's context (locale, product, page URL), kept short and textual."""
    context = {}
    for name, most in CONTEXT_FIELDS.items():
        value = source.get(name)
        text = without_controls(value).strip() if isinstance(value, str) else ""
        if text:
            context[name] = text[:most]
    return context


def locale_for(request: Request, quiz: Quiz, context: dict[str, str]) -> str:
    """The quiz locale to use: the embed's choice, else the browser's Accept-Language, else the default.

    Kept on ``request.state.locale`` too, so an error later in the request speaks the step's language.
    """
    request.state.locale = _chosen_locale(request, quiz, context)
    return str(request.state.locale)


def _chosen_locale(request: Request, quiz: Quiz, context: dict[str, str]) -> str:
    wanted = [context["locale"]] if "locale" in context else []
    wanted += preferred_locales(request.headers.get("accept-language", ""))
    available = quiz.all_locales()
    for locale in wanted:
        chosen = best_locale(locale, available, "")
        if chosen:
            return chosen
    return quiz.locale


def page_locale(request: Request) -> str:
    """The widget's language for a page of its own (an error, a notice, LINE's popup).

    The quiz's once ``locale_for`` chose it in this request, else the browser's first choice.
    """
    wanted = [getattr(request.state, "locale", "")]
    wanted += preferred_locales(request.headers.get("accept-language", ""))
    return ui_locale(next(filter(None, wanted), "en"))


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def under_root(request: Request, path: str) -> str:
    """``path`` below the prefix a proxy serves the app under (`uvicorn --root-path`), if any."""
    return str(request.scope.get("root_path", "")) + path


def render(request: Request, step: Step, *, status_code: int) -> Response:
    """The step's page, or its fragment for htmx: rendered once per distinct step (``quiz.web.pages``)."""
    name = "quiz/_step.html" if is_htmx(request) else "quiz/page.html"
    embedders = embedders_for(request, step.quiz)
    found = services(request)
    found.framing.note(request, step.quiz.id, found.library.file_of(step.quiz.id), embedders)
    intro_image = ""
    if step.quiz.intro_image and step.question is None and step.results is None:
        intro_image = urljoin(shop_origin(step.context or {}, embedders), step.quiz.intro_image)

    def page(shown: Step) -> str:
        context = {"request": request, "s": shown, "ui": words(shown.locale), "lang": shown.locale}
        context |= {"embedders": embedders, "intro_image": intro_image}
        return found.templates.get_template(name).render(context)

    if reusable(step):
        key = step_key(step, name, tuple(embedders), intro_image, under_root(request, ""))
        body = pages_of(step.quiz).page(key, lambda: page(with_mark(step))).replace(TOKEN_MARK, step.token)
    else:
        body = page(step)
    line = found.settings.line
    forms = (line.access_url,) if line is not None and line.login is not None else ()  # LINE Login's popup
    headers = {
        "Vary": "HX-Request, Accept-Language",
        "Cache-Control": "no-store",
        "Content-Security-Policy": content_security_policy(embedders, forms=forms),
    }
    return HTMLResponse(body, status_code=status_code, headers=headers)

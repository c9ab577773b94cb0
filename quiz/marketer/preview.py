"""The merchant's preview: the quiz as a shopper sees it, and beside each step why the results are what they are.

``/admin/preview/<quiz>`` frames the real quiz (same origin) with a signed preview mark, so the runs
played there are neither counted in the funnel nor stored as responses. After each step
``static/preview.js`` reads the step's progress token from the frame and asks for the trace
(``quiz.engine.explain``) of the answers it carries. The paths page groups every answer path
(or a sample) by the results it ends on, each with a link that replays that path. The page watches
the quiz file and reloads the quiz and its trace when the file is saved.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from quiz.engine.explain import explain
from quiz.engine.simulate import outcomes
from quiz.format.questions import CHOICE_TYPES, RESULTS
from quiz.format.schema import Quiz
from quiz.format.text import resolve
from quiz.marketer.gate import HEADERS, PREFIX, Visit, page, signed_in
from quiz.web.services import services
from quiz.web.steps import progress_for, under_root
from quiz.web.tokens import Progress

# The preview frames the quiz, which is on this same site; nothing else about the dashboard's policy changes.
PREVIEW_POLICY = HEADERS["Content-Security-Policy"] + "; frame-src 'self'"


def _quiz(request: Request) -> Quiz | None:
    return services(request).library.get(request.path_params["quiz_id"])


def _not_found(request: Request, visit: Visit) -> Response:
    return page(request, visit.locale, "admin/message.html", {"title": visit.words["not_found"]}, 404)


@signed_in("viewer")
async def list_previews(request: Request, visit: Visit) -> Response:
    """Every quiz the server has, each with its preview and its endings; straight to one the report was on."""
    library = services(request).library
    chosen = request.query_params.get("quiz", "")
    if chosen and library.get(chosen) is not None:  # the nav keeps a report's filters: its quiz is the one wanted
        return RedirectResponse(under_root(request, f"{PREFIX}/preview/{chosen}"), status_code=303, headers=HEADERS)
    quizzes = sorted(library.all(), key=lambda quiz: quiz.id)
    rows = [(quiz.id, resolve(quiz.title, visit.locale, quiz.locale)) for quiz in quizzes]
    return page(request, visit.locale, "admin/previews.html", {"visit": visit, "section": "preview", "rows": rows})


@signed_in("viewer")
async def show_preview(request: Request, visit: Visit) -> Response:
    quiz = _quiz(request)
    if quiz is None:
        return _not_found(request, visit)
    found = services(request)
    mark = found.links.preview_mark()
    replay = request.query_params.get("t", "")
    progress = progress_for(request, quiz, replay) if replay else None
    if progress is not None:  # a path from the paths page, replayed at its results, still marked as a preview
        marked = Progress(quiz.id, progress.current, progress.answers, {"preview": mark}, started=time.time())
        start = f"/q/{quiz.id}/step?t={found.tokens.dump(marked)}"
    else:
        start = f"/q/{quiz.id}?preview={mark}"
    context = {
        "visit": visit,
        "section": "preview",
        "quiz": quiz,
        "quiz_title": resolve(quiz.title, visit.locale, quiz.locale),
        "frame_src": under_root(request, start),
        "version": found.library.stamp(quiz.id),
    }
    response = page(request, visit.locale, "admin/preview.html", context)
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    return response


@signed_in("viewer")
async def preview_trace(request: Request, visit: Visit) -> Response:
    """The trace of the answers a step's token carries (none: the intro)."""
    quiz = _quiz(request)
    if quiz is None:
        return _not_found(request, visit)
    token = request.query_params.get("t", "")
    progress = progress_for(request, quiz, token) if token else None
    answers = progress.answers if progress is not None else {}
    explanation = await run_in_threadpool(explain, quiz, answers)
    context = {"visit": visit, "quiz": quiz, "trace": explanation, "labels": _labels(quiz, visit.locale)}
    context["said"] = {  # each trace line's answer, as the shopper read it
        line.source: resolve(line.label, visit.locale, quiz.locale)
        for standing in explanation.standings
        for line in standing.lines
        if line.label is not None
    }
    context |= {"answered": _answered(quiz, explanation.answers, visit.locale), "fragment": True}
    return page(request, visit.locale, "admin/_trace.html", context)


@signed_in("viewer")
async def preview_version(request: Request, visit: Visit) -> Response:
    """What preview.js polls: the quiz file's stamp, which changes when it is saved."""
    quiz = _quiz(request)
    version = services(request).library.stamp(quiz.id) if quiz is not None else ""
    return JSONResponse({"version": version}, headers={"Cache-Control": "no-store"})


@signed_in("viewer")
async def preview_paths(request: Request, visit: Visit) -> Response:
    """Every distinct ending of the quiz, with how many answer paths reach it and a link replaying one."""
    quiz = _quiz(request)
    if quiz is None:
        return _not_found(request, visit)
    mode, played, found = await run_in_threadpool(outcomes, quiz)
    tokens = services(request).tokens
    rows = []
    for outcome in found:
        progress = Progress(quiz.id, RESULTS, dict(outcome.example), {})
        rows.append(
            {
                "outcome": outcome,
                "replay": tokens.dump(progress),
                "path": _answered(quiz, outcome.example, visit.locale),
            }
        )
    context = {"visit": visit, "section": "preview", "quiz": quiz, "mode": mode, "played": played, "rows": rows}
    context["quiz_title"] = resolve(quiz.title, visit.locale, quiz.locale)
    context["labels"] = _labels(quiz, visit.locale)
    return page(request, visit.locale, "admin/paths.html", context)


async def to_preview(request: Request) -> Response:
    """``/q/<quiz>/preview``, the address a merchant guesses: the preview lives in the dashboard."""
    target = under_root(request, f"{PREFIX}/preview/{request.path_params['quiz_id']}")
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


def _labels(quiz: Quiz, locale: str) -> dict[str, str]:
    """Product titles by id, in the dashboard's language where the quiz has it."""
    return {product.id: resolve(product.title, locale, quiz.locale) for product in quiz.products}


def _answered(quiz: Quiz, answers: dict[str, Any], locale: str) -> list[tuple[str, str]]:
    """(question title, answer as the shopper saw it) for each answer, in the quiz's order."""
    shown = []
    for question in quiz.questions:
        if question.id not in answers:
            continue
        answer = answers[question.id]
        options = question.choices() if isinstance(question, CHOICE_TYPES) else []
        labels = {option.id: resolve(option.label, locale, quiz.locale) for option in options}
        picked = answer if isinstance(answer, list) else [answer]
        text = ", ".join(labels.get(str(item), str(item)) for item in picked if item is not None) or "—"
        shown.append((resolve(question.title, locale, quiz.locale), text))
    return shown

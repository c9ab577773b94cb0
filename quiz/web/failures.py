"""The one handler for every ``QuizError``: a page, an htmx fragment or JSON, in the shopper's language.

Handlers raise these instead of building error responses (what they answer themselves is their
own flow: a form shown again with what to fix, a 401 naming the header to send). A full disk or a
damaged store file (``Unavailable``, or an ``OSError`` from a queue) is logged here once, with its
traceback, and the person is told to try again shortly; the store never keeps half a write.
"""

from __future__ import annotations

import logging
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from quiz.errors import QuizError, Unavailable
from quiz.web.services import services
from quiz.web.steps import page_locale
from quiz.web.wording import words

log = logging.getLogger(__name__)

# Programs, not people, call these: the marketer's API and LINE's webhook get JSON.
MACHINE_PATHS = ("/api/", "/line/webhook")
VARY = "HX-Request, Accept, Accept-Language"


async def render_error(request: Request, error: Exception) -> Response:
    """Every ``QuizError`` (and every ``OSError``, as ``Unavailable``) as the caller can read it."""
    if not isinstance(error, QuizError):
        log.error("%s %s could not be done", request.method, request.url.path, exc_info=error)
        error = Unavailable(str(error))
    elif error.status_code >= 500:
        log.error("%s %s could not be done: %s", request.method, request.url.path, error, exc_info=error)
    if _wants_json(request):
        english = words("en")
        body = {"error": error.wording, "message": english[f"{error.wording}_text"]}
        return JSONResponse(body, status_code=error.status_code, headers={"Cache-Control": "no-store", "Vary": VARY})
    locale = page_locale(request)
    ui = words(locale)
    if request.headers.get("hx-request") == "true" and error.transient:
        return _alert(ui[f"{error.wording}_text"], status_code=error.status_code)
    template = "quiz/_error.html" if request.headers.get("hx-request") == "true" else "quiz/error.html"
    context = {"ui": ui, "lang": locale, "title": ui[f"{error.wording}_title"], "text": ui[f"{error.wording}_text"]}
    response = services(request).templates.TemplateResponse(request, template, context, status_code=error.status_code)
    response.headers["Vary"] = VARY
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # a refused link's token stays on this page
    return response


def _alert(text: str, *, status_code: int) -> Response:
    """An error to try again after, shown above the step the shopper is on: what they typed stays."""
    body = f'<p class="quiz-error quiz-alert" role="alert">{escape(text)}</p>'
    # Reselect: a request from the LINE section selects only #quiz-line out of what comes back.
    headers = {"HX-Retarget": "#quiz-step", "HX-Reswap": "afterbegin", "HX-Reselect": ".quiz-alert", "Vary": VARY}
    return HTMLResponse(body, status_code=status_code, headers={**headers, "Cache-Control": "no-store"})


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    path, root = str(request.scope["path"]), str(request.scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]  # behind `--root-path` the path still carries the proxy's prefix
    return path.startswith(MACHINE_PATHS) or ("application/json" in accept and "text/html" not in accept)

"""A quiz's theme as a stylesheet of CSS custom properties (inline styles are forbidden by our CSP)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from quiz.format.colour import text_on
from quiz.format.schema import Quiz
from quiz.format.text import resolve
from quiz.web.services import services
from quiz.web.steps import quiz_for


async def theme_css(request: Request) -> Response:
    quiz = quiz_for(request)
    theme = quiz.theme  # each value is checked by a pattern in the format: nothing can end the rule
    ink = text_on(theme.accent)  # the merchant's brand colour may be too light for white button text
    css = (
        f":root{{--accent:{theme.accent};--on-accent:{ink};--radius:{theme.radius}px;--font:{theme.font};"
        f"--background:{theme.background}}}\n"
    )
    return Response(css, media_type="text/css", headers={"Cache-Control": "no-cache"})


def branding(request: Request, quiz: Quiz | None, locale: str) -> dict[str, str]:
    """What a page after the quiz (confirmation, unsubscribe, LINE's last page) needs to look like the quiz.

    The quiz's theme, and the names a shopper knows: the shop's (the quiz's ``shop``, else the
    controller) and the quiz's title. A page that cannot tell the quiz shows the plain theme.
    """
    shop = services(request).settings.controller
    if quiz is None:
        return {"shop": shop}
    return {
        "theme_css": str(request.app.url_path_for("theme_css", quiz_id=quiz.id)),
        "shop": quiz.shop or shop,
        "quiz_title": resolve(quiz.title, locale, quiz.locale),
    }


def quiz_named(request: Request, quiz_id: str | None) -> Quiz | None:
    """The quiz a presentation-only ``?quiz=`` parameter names, or None for a missing or unknown one."""
    return services(request).library.get(quiz_id) if quiz_id else None

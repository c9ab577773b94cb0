"""A quiz's theme as a stylesheet of CSS custom properties (inline styles are forbidden by our CSP)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from quiz.format.colour import text_on
from quiz.web.steps import quiz_for


async def theme_css(request: Request) -> Response:
    quiz = quiz_for(request)
    theme = quiz.theme  # each value is checked by a pattern in the format: nothing can end the rule
    ink = text_on(theme.accent)  # the merchant's brand colour may be too light for white button text
    css = f":root{{--accent:{theme.accent};--on-accent:{ink};--radius:{theme.radius}px;--font:{theme.font}}}\n"
    return Response(css, media_type="text/css", headers={"Cache-Control": "no-cache"})

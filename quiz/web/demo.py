"""A pretend shop on a second origin that embeds the quizzes, for `make run` and the browser tests.

Its stylesheet is deliberately hostile (global rules on iframe, button, dialog and *), so the embed's
isolation is exercised wherever it is shown.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from quiz.web.library import QuizLibrary

MODES = ("inline", "popup", "iframe")


@dataclass(frozen=True)
class DemoShop:
    library: QuizLibrary
    quiz_server: str  # the quiz server's origin, e.g. ``http://127.0.0.1:8000``
    templates: Jinja2Templates


def create_demo_app(library: QuizLibrary, quiz_server: str, templates: Jinja2Templates) -> Starlette:
    """The shop's pages; ``quiz_server`` is the quiz server's origin, e.g. ``http://127.0.0.1:8000``."""
    app = Starlette(
        routes=[
            Route("/", shop_index, methods=["GET"]),
            Route("/quizzes/{quiz_id}", quiz_page, methods=["GET"]),
            Route("/products/{slug}", product_page, methods=["GET"]),
            Route("/images/{name}", placeholder_image, methods=["GET"]),
        ]
    )
    app.state.shop = DemoShop(library, quiz_server, templates)
    return app


def _shop(request: Request) -> DemoShop:
    shop = request.app.state.shop
    assert isinstance(shop, DemoShop)
    return shop


async def shop_index(request: Request) -> Response:
    quizzes = _shop(request).library.all()
    return _render(request, "demo/index.html", {"quizzes": quizzes})


async def quiz_page(request: Request) -> Response:
    """A product page of the shop with the quiz embedded one of the three ways."""
    quiz = _shop(request).library.get(request.path_params["quiz_id"])
    if quiz is None:
        return Response("No such quiz.", status_code=404, media_type="text/plain")
    mode = request.query_params.get("mode", "inline")
    if mode not in MODES:
        mode = "inline"
    return _render(request, "demo/quiz.html", {"quiz": quiz, "mode": mode})


async def product_page(request: Request) -> Response:
    """Where a recommended product's link lands, showing what the quiz added to the address."""
    context = {"slug": request.path_params["slug"], "campaign": request.query_params.get("utm_campaign", "")}
    return _render(request, "demo/product.html", context)


async def placeholder_image(request: Request) -> Response:
    """A soft gradient standing in for the shop's photos, its colour from the name: each product looks its own."""
    hue = zlib.crc32(request.path_params["name"].encode()) % 360
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320" viewBox="0 0 320 320">'
        '<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="hsl({hue},55%,88%)"/>'
        f'<stop offset="1" stop-color="hsl({(hue + 40) % 360},45%,70%)"/>'
        '</linearGradient></defs><rect width="320" height="320" fill="url(#g)"/></svg>'
    )
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=3600"})


def _render(request: Request, name: str, context: dict[str, object]) -> Response:
    shop = _shop(request)
    server = shop.quiz_server
    context = {**context, "server": server, "modes": MODES}
    response = shop.templates.TemplateResponse(request, name, context)
    # What a careful shop would send: scripts and frames only from itself and the quiz server.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {server}; frame-src {server}; style-src 'self' 'unsafe-inline'"
    )
    return response

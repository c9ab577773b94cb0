"""ASGI middleware: security headers on every response, and a limit on request bodies."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(frame_ancestors: Sequence[str], *, forms: Sequence[str] = ()) -> str:
    """No inline script or style anywhere; only the listed sites (and this one) may frame the page.

    ``forms`` are other sites a form may lead to (LINE Login, reached by a redirect from our own form).
    """
    return _policy(tuple(frame_ancestors), tuple(forms))


@functools.lru_cache(maxsize=1024)  # one per quiz's allowed sites: made for every page otherwise
def _policy(frame_ancestors: tuple[str, ...], forms: tuple[str, ...]) -> str:
    ancestors = " ".join(["'self'", *frame_ancestors])
    # Product images live on the shop, which during development may be plain http.
    images = " ".join(
        ["'self'", "https:", "data:", *(origin for origin in frame_ancestors if origin.startswith("http:"))]
    )
    form_targets = " ".join(["'self'", *forms])
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; "
        f"connect-src 'self'; form-action {form_targets}; base-uri 'none'; frame-ancestors {ancestors}"
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", content_security_policy([]))
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuses bodies over ``max_bytes`` with 413, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            await _too_large(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _too_large(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = PlainTextResponse("Request body too large.", status_code=413)
    await response(scope, receive, send)

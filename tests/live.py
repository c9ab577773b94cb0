"""Real servers for the browser tests: uvicorn on a loopback port chosen by the system, in a thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from quiz.app import create_app
from quiz.settings import Settings
from quiz.web.demo import create_demo_app
from quiz.web.services import services_of


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serving(app: ASGIApp, sock: socket.socket) -> Iterator[None]:
    """Serve ``app`` on an already bound socket until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def quiz_beside_shop(settings_for: Callable[[str, str], Settings]) -> Iterator[tuple[Starlette, str, str]]:
    """The quiz server on 127.0.0.1 and the demo shop embedding it on localhost: two sites, as shops are.

    ``settings_for(quiz_origin, shop_origin)`` gives the quiz server's settings; yields the app and both origins.
    """
    quiz_socket, shop_socket = bound_socket(), bound_socket()
    quiz_origin = f"http://127.0.0.1:{quiz_socket.getsockname()[1]}"
    shop_origin = f"http://localhost:{shop_socket.getsockname()[1]}"
    app = create_app(settings_for(quiz_origin, shop_origin))
    shop = create_demo_app(services_of(app).library, quiz_origin, services_of(app).templates)
    with serving(app, quiz_socket), serving(shop, shop_socket):
        yield app, quiz_origin, shop_origin

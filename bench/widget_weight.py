"""What a shopper's browser downloads to see a quiz's first question, against the 25 KB budget, and the
part of it that blocks the first paint (the loader, the page and its stylesheets) against 10 KB.

Starts `quiz serve --demo-port` on the examples, opens the demo shop's product page in Chromium
(the quiz embedded with the one-line script), presses Start, and sums what came from the quiz
server: widget.js, the intro page, its CSS and scripts, and the first question's fragment. Every
figure is what Chromium reports as transferred (headers and compressed body). Prints, asserts nothing.

    python bench/widget_weight.py [QUIZ_ID]
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Request, sync_playwright

ROOT = Path(__file__).parent.parent
BUDGET = 25 * 1024
RENDER_BLOCKING_BUDGET = 10 * 1024  # with ~14 KB in TCP's first window, the first paint takes one round trip
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@dataclass
class Transfer:
    path: str
    encoding: str
    body: int
    headers: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, demo_port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "quiz.cli", "serve", str(ROOT / "quizzes"), "--port", str(port)]
    command += ["--demo-port", str(demo_port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/widget.js", timeout=1).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the quiz server did not start")


def first_question_transfers(quiz_origin: str, shop_origin: str, quiz_id: str) -> list[Transfer]:
    transfers: list[Transfer] = []

    def record(request: Request) -> None:
        if not request.url.startswith(quiz_origin):
            return
        response = request.response()
        sizes = request.sizes()
        encoding = response.headers.get("content-encoding", "none") if response else "none"
        path = urlsplit(request.url).path
        transfers.append(Transfer(path, encoding, sizes["responseBodySize"], sizes["responseHeadersSize"]))

    with sync_playwright() as playwright:
        options: dict[str, object] = {"headless": True, "args": FLAGS}
        if DEBIAN_CHROMIUM.exists():
            options["executable_path"] = str(DEBIAN_CHROMIUM)
        browser = playwright.chromium.launch(**options)
        page = browser.new_page()
        page.on("requestfinished", record)
        page.goto(f"{shop_origin}/quizzes/{quiz_id}")
        frame = page.frame_locator("quiz-widget iframe")
        frame.locator("#quiz-step button").first.click()
        frame.locator("fieldset[data-question]").wait_for()
        page.wait_for_load_state("networkidle")
        browser.close()
    return transfers


def main() -> None:
    quiz_id = sys.argv[1] if len(sys.argv) > 1 else "serum-finder"
    port, demo_port = free_port(), free_port()
    server = start_server(port, demo_port)
    try:
        transfers = first_question_transfers(f"http://127.0.0.1:{port}", f"http://localhost:{demo_port}", quiz_id)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"First question of {quiz_id!r}, embedded with widget.js, as Chromium transferred it:\n")
    print(f"{'path':<56} {'encoding':>8} {'body':>8} {'headers':>8}")
    for transfer in transfers:
        print(f"{transfer.path[:56]:<56} {transfer.encoding:>8} {transfer.body:>8} {transfer.headers:>8}")
    body = sum(transfer.body for transfer in transfers)
    total = body + sum(transfer.headers for transfer in transfers)
    print(f"\n{len(transfers)} requests: {body:,} bytes of bodies, {total:,} with headers")
    print(f"budget {BUDGET:,} bytes: {100 * total / BUDGET:.0f}% used")
    blocking = [transfer for transfer in transfers if render_blocking(transfer.path, quiz_id)]
    blocking_total = sum(transfer.body + transfer.headers for transfer in blocking)
    names = ", ".join(transfer.path.rsplit("/", 1)[-1] or transfer.path for transfer in blocking)
    print(f"render-blocking ({names}): {blocking_total:,} bytes with headers")
    print(f"budget {RENDER_BLOCKING_BUDGET:,} bytes: {100 * blocking_total / RENDER_BLOCKING_BUDGET:.0f}% used")


def render_blocking(path: str, quiz_id: str) -> bool:
    """The loader, the quiz's page and its stylesheets; htmx and frame.js are deferred, the fragment comes later."""
    return path in ("/widget.js", f"/q/{quiz_id}") or path.endswith(".css")


if __name__ == "__main__":
    main()

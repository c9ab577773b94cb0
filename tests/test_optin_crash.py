"""kill -9 of the real server in the middle of a burst of opt-ins: every acknowledged lead is there after.

The server runs as `quiz serve` in its own process; concurrent clients (each its own address, given
to uvicorn as X-Forwarded-For from loopback, which it trusts by default) complete the quiz, wait as
a person would, then all send their address at once. The moment a shopper has seen "sent" counts
as acknowledged.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx  # what Starlette's TestClient uses: already a test dependency
from html_page import Page
from live import bound_socket
from served import serve

from quiz.leads import optin
from quiz.store.tiny import TinyStore

EXAMPLES = Path(__file__).parent.parent / "quizzes"
CLIENTS = 40
KILL_AFTER_ACKNOWLEDGED = 12


def test_every_acknowledged_opt_in_survives_kill_9_of_the_server(tmp_path):
    data = tmp_path / "data"
    port = _free_port()
    server = _start_server(data, port)
    base = f"http://127.0.0.1:{port}"
    acknowledged: list[str] = []
    lock = threading.Lock()
    try:
        tokens = [_results_token(base, index) for index in range(CLIENTS)]
        time.sleep(optin.MIN_SECONDS_ON_FORM + 0.2)

        def send(index: int) -> None:
            address = f"shopper{index}@example.com"
            if _opt_in(base, index, tokens[index], address):
                with lock:
                    acknowledged.append(address)
                    if len(acknowledged) == KILL_AFTER_ACKNOWLEDGED:
                        os.kill(server.pid, signal.SIGKILL)

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(send, range(CLIENTS)))
    finally:
        server.kill()
        server.wait(timeout=10)
    assert KILL_AFTER_ACKNOWLEDGED <= len(acknowledged) < CLIENTS  # the kill fell inside the burst

    restarted = _start_server(data, port)  # the crashed server's data must load as it is
    try:
        assert httpx.get(f"{base}/q/coffee-finder", timeout=5).status_code == 200
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=10)
    store = TinyStore(data / "store", read_only=True)
    leads = {lead["email"] for lead in store.records("leads")}
    evidence = {record["email"] for record in store.records("consent")}
    assert set(acknowledged) <= leads
    assert set(acknowledged) <= evidence
    for path in (data / "store").rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))  # every file whole


def _start_server(data: Path, port: int) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "QUIZ_DATA_DIR": str(data), "QUIZ_SECRET_KEYS": "crash-test", "QUIZ_PORT": str(port)}
    return serve(EXAMPLES, environment, data.parent / f"server-{time.monotonic_ns()}.log")


def _results_token(base: str, index: int) -> str:
    """Complete the coffee quiz as client ``index``; the token of its results step."""
    with httpx.Client(base_url=base, headers=_client_headers(index), timeout=10) as client:
        page = Page(client.post("/q/coffee-finder/start", data={}).text)
        for _ in range(20):
            questions = [field for field in page.inputs if field.get("name") == "a"]
            if not questions:
                return page.value("t")
            value = questions[0].get("value") or "3"
            page = Page(client.post("/q/coffee-finder/answer", data={"t": page.value("t"), "a": value}).text)
    raise AssertionError("no results after 20 answers")


def _opt_in(base: str, index: int, token: str, address: str) -> bool:
    data = {"t": token, "email": address, "consent": "yes", "action": "send"}
    try:
        response = httpx.post(f"{base}/q/coffee-finder/optin", data=data, headers=_client_headers(index), timeout=10)
    except httpx.TransportError:
        return False  # the server died before answering: this shopper was never told "sent"
    return response.status_code == 200 and "quiz-optin-sent" in response.text


def _client_headers(index: int) -> dict[str, str]:
    return {"HX-Request": "true", "X-Forwarded-For": f"10.0.{index // 250}.{index % 250 + 1}"}


def _free_port() -> int:
    sock = bound_socket()
    port: int = sock.getsockname()[1]
    sock.close()
    return port

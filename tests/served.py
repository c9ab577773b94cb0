"""`quiz serve` in a process of its own, for the tests and benchmarks that need real server processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

START_SECONDS = 30.0


def serve(quizzes: Path, environment: dict[str, str], log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """Start ``quiz serve QUIZZES`` on ``QUIZ_PORT`` and return once it answers; its output goes to ``log``.

    A server that exits or does not answer in time is killed, and the error shows the end of its log.
    """
    command = [sys.executable, "-m", "quiz.cli", "serve", str(quizzes), *extra]
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen(command, env=environment, stdout=output, stderr=output)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{environment['QUIZ_PORT']}/widget.js", timeout=1)
            return server
        except httpx.TransportError:
            if server.poll() is not None:
                break
            time.sleep(0.1)
    server.kill()
    server.wait(timeout=10)
    raise RuntimeError(f"the server did not start:\n{log.read_text(errors='replace')[-3000:]}")

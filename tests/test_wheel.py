"""The built wheel installs into a fresh virtualenv outside the checkout and serves a quiz with its assets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx2 as httpx
from live import bound_socket

CHECKOUT = Path(__file__).resolve().parent.parent


def test_the_wheel_installs_without_warnings_and_serves_a_quiz_outside_the_checkout(tmp_path: Path) -> None:
    wheel, build_output = _build_wheel(tmp_path)
    python = _fresh_venv(tmp_path / "venv")
    installed = _run(
        [str(python), "-m", "pip", "--isolated", "install", "--no-deps", "--no-index", str(wheel)], tmp_path
    )
    for output in (build_output, installed):
        assert not re.search(r"warning", output, re.IGNORECASE), output

    where = _run([str(python), "-c", "import quiz.app; print(quiz.app.__file__)"], tmp_path).strip()
    assert Path(where).is_relative_to(tmp_path / "venv"), where  # the wheel's copy, not the checkout's
    schema = "from quiz.store.postgres import latest_version; print(latest_version())"
    assert int(_run([str(python), "-c", schema], tmp_path)) >= 1  # the PostgreSQL migrations are in the wheel

    quizzes = shutil.copytree(CHECKOUT / "quizzes", tmp_path / "quizzes")
    port = _free_port()
    environment = {**os.environ, "QUIZ_DATA_DIR": str(tmp_path / "data"), "QUIZ_SECRET_KEYS": "wheel-test"}
    command = [str(python.parent / "quiz"), "serve", str(quizzes), "--port", str(port)]
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=output, stderr=output)
    try:
        base = f"http://127.0.0.1:{port}"
        page = _get_when_up(f"{base}/q/serum-finder", server, log)
        assert page.status_code == 200 and "<form" in page.text
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
        assert any(path.endswith(".css") for path in assets) and any("htmx" in path for path in assets), assets
        for path in [*assets, "/widget.js"]:
            response = httpx.get(base + path, timeout=5)
            assert response.status_code == 200 and response.content, path
        assert "postMessage" in httpx.get(f"{base}/widget.js", timeout=5).text
        sign_in = httpx.get(f"{base}/admin/login", timeout=5)  # the dashboard's templates and styles came too
        assert sign_in.status_code == 200 and 'name="password"' in sign_in.text
        (admin_css,) = re.findall(r'href="(/static/admin[^"]+)"', sign_in.text)
        assert httpx.get(base + admin_css, timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)


def _build_wheel(tmp_path: Path) -> tuple[Path, str]:
    """A wheel built from a copy of the tracked files, as a release would be (no stray build folder here)."""
    source = tmp_path / "source"
    tracked = _run(["git", "ls-files", "-z"], CHECKOUT).split("\0")
    for name in filter(None, tracked):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        if (CHECKOUT / name).is_symlink():  # quiz/web/static and quiz/web/widgets, as git keeps them
            (source / name).symlink_to(os.readlink(CHECKOUT / name))
        elif (CHECKOUT / name).is_file():
            shutil.copy2(CHECKOUT / name, source / name)
    # Without network: the test environment's setuptools builds it (no isolated environment to download).
    output = _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."], source)
    (wheel,) = (source / "dist").glob("quiz_server-*.whl")
    return wheel, output


def _fresh_venv(folder: Path) -> Path:
    """A new virtualenv whose only extra path is this environment's libraries (not its editable checkout)."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], folder).strip()
    # A path line in a .pth file adds the folder without running its .pth files, so the editable
    # install's finder there is never loaded and `import quiz` can only find the wheel.
    (Path(purelib) / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python


def _run(command: list[str], cwd: Path) -> str:
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _get_when_up(url: str, server: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(log.read_text(encoding="utf-8", errors="replace"))
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the installed server did not start within 30 s")


def _free_port() -> int:
    sock = bound_socket()
    port: int = sock.getsockname()[1]
    sock.close()
    return port

"""A throwaway PostgreSQL for the tests: one cluster per session, one empty database per test.

Fixtures:
    postgres_url       (session)  the URL of the cluster's maintenance database, e.g.
                                  postgresql://quiz@127.0.0.1:54321/postgres (user quiz, trust auth, no password)
    postgres_database  (function) the URL of a fresh, empty database made for the test and dropped after it

The binaries come from $QUIZ_PG_BIN, else the highest /usr/lib/postgresql/*/bin (Debian), else PATH (pg_ctl, or
pg_config --bindir). PostgreSQL refuses to run as root, so as root the cluster runs as the postgres user (else
nobody) through setpriv or runuser. The cluster lives in a temporary folder, listens on 127.0.0.1 only (and a
Unix socket in that folder) and is stopped and deleted when the session ends.

Where no PostgreSQL can be found or started, the tests that ask for these fixtures are skipped, with the reason,
and the run ends with a banner that says so; with QUIZ_REQUIRE_POSTGRES=1 (CI) they fail instead.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql

BIN_ENV = "QUIZ_PG_BIN"
REQUIRE_ENV = "QUIZ_REQUIRE_POSTGRES"
USER = "quiz"
START_TIMEOUT = 30.0  # seconds for the server to accept connections
MARK = "PostgreSQL unavailable:"  # starts every skip or failure message, so the summary can count them
TOOLS = ("initdb", "pg_ctl", "postgres")


class Unavailable(Exception):
    """No PostgreSQL could be found or started; the message says why."""


@dataclass
class _Outcome:
    """What the session's cluster came to, for the terminal summary."""

    reason: str | None = None
    version: str = ""
    initdb_seconds: float = 0.0
    start_seconds: float = 0.0


_OUTCOME = pytest.StashKey[_Outcome]()


# -- finding the binaries ---------------------------------------------------------------------------------------


def _missing_tools(folder: Path) -> list[str]:
    return [tool for tool in TOOLS if not os.access(folder / tool, os.X_OK)]


def _version_key(name: str) -> tuple[int, ...] | None:
    return tuple(int(part) for part in name.split(".")) if re.fullmatch(r"\d+(\.\d+)*", name) else None


def find_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres, or Unavailable saying where it looked."""
    named = os.environ.get(BIN_ENV)
    if named:  # asked for explicitly: no falling back to another PostgreSQL
        missing = _missing_tools(Path(named))
        if missing:
            raise Unavailable(f"{MARK} {BIN_ENV}={named} has no executable {', '.join(missing)}")
        return Path(named)
    debian = [
        (key, folder)
        for folder in Path("/usr/lib/postgresql").glob("*/bin")
        if (key := _version_key(folder.parent.name)) is not None and not _missing_tools(folder)
    ]
    if debian:
        return max(debian)[1]
    candidates: list[Path] = []
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:  # a symlink farm (/usr/local/bin, Homebrew) may hold pg_ctl without initdb: try its target too
        candidates += [Path(pg_ctl).parent, Path(pg_ctl).resolve().parent]
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            bindir = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if bindir:
                candidates.append(Path(bindir))
    for folder in candidates:
        if not _missing_tools(folder):
            return folder
    looked = f"no {BIN_ENV}, no /usr/lib/postgresql/*/bin with {', '.join(TOOLS)}"
    if candidates:
        led_to = ", ".join(sorted({str(c) for c in candidates}))
        looked += f"; pg_ctl or pg_config on PATH led to {led_to}, which lacks some"
    else:
        looked += ", no pg_ctl or pg_config on PATH"
    raise Unavailable(f"{MARK} no PostgreSQL server binaries found ({looked})")


# -- dropping root ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunAs:
    """How to run the server's tools: as ourselves, or (when root) as an unprivileged user."""

    prefix: tuple[str, ...] = ()
    uid: int | None = None
    gid: int | None = None
    name: str = ""


def run_as() -> RunAs:
    if os.geteuid() != 0:
        return RunAs()
    account = None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            found = pwd.getpwnam(name)
            if found.pw_uid != 0:
                account = found
                break
    if account is None:
        raise Unavailable(
            f"{MARK} running as root, which PostgreSQL refuses, "
            "and there is no 'postgres' or 'nobody' user to run it as"
        )
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    setpriv = shutil.which("setpriv", path=search)
    prefix: tuple[str, ...]
    if setpriv:
        prefix = (setpriv, f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups", "--")
    elif runuser := shutil.which("runuser", path=search):
        prefix = (runuser, "-u", account.pw_name, "--")
    else:
        raise Unavailable(
            f"{MARK} running as root, which PostgreSQL refuses, and neither setpriv nor runuser is there to run it "
            f"as {account.pw_name}"
        )
    return RunAs(prefix, account.pw_uid, account.pw_gid, account.pw_name)


# -- the cluster ------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Cluster:
    bindir: Path
    user: RunAs
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="quiz-pg-")))
    port: int = 0
    running: bool = False
    initdb_seconds: float = 0.0
    start_seconds: float = 0.0
    version: str = ""
    durable: bool = False  # the benchmarks measure with fsync on, as a real server runs

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _env(self) -> dict[str, str]:
        # No PG* variable of the caller's (PGDATA, PGPORT, PGHOST...) reaches the tools; UTC and C messages
        # whatever the machine's zone and language, so the cluster behaves the same everywhere.
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env.update(TZ="UTC", LC_ALL="C", LANG="C", HOME=str(self.folder))
        return env

    def _run(self, tool: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        command = [*self.user.prefix, str(self.bindir / tool), *args]
        try:
            return subprocess.run(
                command,
                cwd=self.folder,  # the unprivileged user may not enter ours (/root)
                env=self._env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise Unavailable(f"{MARK} {shlex.join(command)} failed: {error}") from error

    def start(self) -> str:
        """Make and start the cluster; its URL, or Unavailable (having cleaned up) saying why."""
        try:
            if self.user.uid is not None and self.user.gid is not None:
                os.chown(self.folder, self.user.uid, self.user.gid)
            began = time.perf_counter()
            self._initdb()
            self.initdb_seconds = time.perf_counter() - began
            began = time.perf_counter()
            self._start_server()
            self.start_seconds = time.perf_counter() - began
            return self.url
        except BaseException:
            self.stop()
            raise

    def _initdb(self) -> None:
        failures = []
        for locale in ("C.UTF-8", "C"):  # C.UTF-8 is on glibc >= 2.35 and Debian; plain C is everywhere
            shutil.rmtree(self.data, ignore_errors=True)
            # --no-sync: initdb does not flush its files to disk; a throwaway cluster needs no durability.
            done = self._run(
                "initdb",
                *("-D", str(self.data), "-A", "trust", "-U", USER, "--encoding=UTF8", f"--locale={locale}"),
                "--no-sync",
                timeout=120,
            )
            if done.returncode == 0:
                return
            failures.append(f"--locale={locale}: {(done.stderr or done.stdout).strip()}")
        raise Unavailable(f"{MARK} initdb in {self.data} failed\n" + "\n".join(failures))

    def pause(self) -> None:
        """Stop the server as an outage would, keeping its data (``resume`` brings it back on its port)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=30)

    def resume(self) -> None:
        self._start_server(port=self.port)

    def _start_server(self, port: int = 0) -> None:
        for _attempt in range(3):  # the free port may be taken between choosing it and the server binding it
            self.port = port or _free_port()
            options = [
                ("listen_addresses", "127.0.0.1"),
                ("port", str(self.port)),
                ("unix_socket_directories", str(self.folder)),
                # Durability off, for test speed only: this cluster is deleted at the end of the session,
                # never point these settings at a database whose data matters.
                ("fsync", "on" if self.durable else "off"),
                ("synchronous_commit", "on" if self.durable else "off"),
                ("full_page_writes", "on" if self.durable else "off"),
                ("max_connections", "200"),
                ("timezone", "UTC"),
                ("log_timezone", "UTC"),
            ]
            # pg_ctl hands -o to a shell: quote each word.
            server_options = " ".join(shlex.quote(f"-c{name}={value}") for name, value in options)
            done = self._run(
                "pg_ctl",
                *("-D", str(self.data), "-l", str(self.log), "-o", server_options),
                *("-w", "-t", str(int(START_TIMEOUT)), "start"),
                timeout=START_TIMEOUT + 10,
            )
            self.running = True  # pg_ctl may have started a postmaster even when it reports failure
            if done.returncode == 0:
                self._wait_ready()
                return
            log = _tail(self.log)
            if "could not bind" not in log and "Address already in use" not in log:
                raise Unavailable(
                    f"{MARK} pg_ctl start failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}\n"
                    f"{self.log}:\n{log}"
                )
        raise Unavailable(f"{MARK} the server could not bind a free port on 127.0.0.1 in 3 tries\n{_tail(self.log)}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2, autocommit=True) as connection:
                    connection.execute("SELECT 1")
                    self.version = connection.info.parameter_status("server_version") or "?"
                    return
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    raise Unavailable(
                        f"{MARK} the server took no connection at {self.url} in {START_TIMEOUT:.0f} s: {error}\n"
                        f"{_tail(self.log)}"
                    ) from error
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server, if any, and delete the folder. Safe to call more than once."""
        if self.running:
            self.running = False
            try:
                done = self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
                stopped = done.returncode == 0
            except Unavailable:
                stopped = False
            if not stopped:
                self._kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _kill(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)


# -- fixtures and hooks -----------------------------------------------------------------------------------------


def _required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def _start_cluster() -> Cluster | str:
    """The running cluster, or why there is none."""
    try:
        cluster = Cluster(find_bindir(), run_as())
        atexit.register(cluster.stop)  # should the session end without its teardown (an interrupted run)
        cluster.start()
    except Unavailable as error:
        return str(error)
    except OSError as error:
        return f"{MARK} {error}"
    return cluster


def _give_up(reason: str) -> NoReturn:
    if _required():
        pytest.fail(f"{reason}\n({REQUIRE_ENV}=1: a missing PostgreSQL fails the run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a PostgreSQL cluster started for this session (its maintenance database, ``postgres``)."""
    outcome = request.config.stash.setdefault(_OUTCOME, _Outcome())
    cluster = _start_cluster()
    if isinstance(cluster, str):  # outside the except block, so the report shows the reason alone
        outcome.reason = cluster
        _give_up(cluster)
    outcome.version = cluster.version
    outcome.initdb_seconds, outcome.start_seconds = cluster.initdb_seconds, cluster.start_seconds
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def own_postgres(postgres_url: str) -> Iterator[Cluster]:
    """A cluster of this test's own, to stop and start as an outage would (``pause``, ``resume``)."""
    cluster = _start_cluster()
    if isinstance(cluster, str):
        _give_up(cluster)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """The URL of a fresh, empty database on the session's cluster, dropped when the test ends."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield postgres_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            # WITH (FORCE), PostgreSQL 13 and later: drops it even if the test left a connection open.
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    outcome = config.stash.get(_OUTCOME, None)
    if outcome is None:  # no test asked for PostgreSQL
        return
    if outcome.reason is None:
        terminalreporter.write_line(
            f"PostgreSQL {outcome.version}: cluster made in {outcome.initdb_seconds:.2f} s (initdb) "
            f"+ {outcome.start_seconds:.2f} s (start)"
        )
        return
    stat, word = ("error", "FAILED") if _required() else ("skipped", "SKIPPED")
    count = sum(
        1
        for report in terminalreporter.stats.get(stat, [])
        if getattr(report, "when", None) == "setup" and MARK in str(getattr(report, "longrepr", ""))
    )
    headline, _, detail = outcome.reason.removeprefix(MARK).strip().partition("\n")
    terminalreporter.write_sep(
        "!",
        f"PostgreSQL: {count} store tests {word} ({headline}) — set {BIN_ENV} or install postgresql",
        red=True,
        bold=True,
    )
    if detail:
        terminalreporter.write_line(detail)

"""Two real server processes on one PostgreSQL store, as two machines behind a load balancer.

The same opt-in form sent to both at once is one lead, one consent row and one email; mail queued by
either is delivered once; `quiz serve --workers N` runs on a shared store and refuses the embedded one.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from line_platform import LinePlatform
from served import serve
from smtp_server import Inbox, Server
from test_optin_crash import EXAMPLES, _free_port, _opt_in, _results_token
from together import together

from quiz import cli
from quiz.consent import Provenance
from quiz.leads import optin
from quiz.store.postgres import PostgresStore

SHOPPERS = 6


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    received = Inbox()
    server = Server(received)
    server.start()
    received.port = server.port  # type: ignore[attr-defined]
    yield received
    server.stop()


def _environment(url: str, data: Path, port: int, smtp_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "QUIZ_STORE_URL": url,
        "QUIZ_SECRET_KEYS": "two-machines",  # both sign alike: a token from one is good on the other
        "QUIZ_DATA_DIR": str(data),
        "QUIZ_PORT": str(port),
        "QUIZ_SMTP_HOST": "127.0.0.1",
        "QUIZ_SMTP_PORT": str(smtp_port),
        "QUIZ_SMTP_TLS": "none",
    }


def _start(environment: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    log = Path(environment["QUIZ_DATA_DIR"]).parent / f"server-{environment['QUIZ_PORT']}.log"
    return serve(EXAMPLES, environment, log, *extra)


def _line_environment(platform: LinePlatform) -> dict[str, str]:
    """The LINE settings of a server whose platform is the tests' local one."""
    return {
        "QUIZ_LINE_CHANNEL_SECRET": platform.bot_secret,
        "QUIZ_LINE_CHANNEL_ACCESS_TOKEN": platform.access_token,
        "QUIZ_LINE_ADD_FRIEND_URL": "https://line.me/R/ti/p/@123abcde",
        "QUIZ_LINE_API_URL": platform.url,
        "QUIZ_LINE_ACCESS_URL": platform.url,
    }


def _machines(
    url: str, folder: Path, *, smtp_port: int = 9, **settings: str
) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    """Two servers on one store, as two machines, each with its own data folder; and their ports."""
    ports = [_free_port(), _free_port()]
    environments = [
        {**_environment(url, folder / f"m{index}", port, smtp_port), **settings} for index, port in enumerate(ports)
    ]
    return [_start(environment) for environment in environments], ports


def _stop(*servers: subprocess.Popen[bytes]) -> None:
    for server in servers:
        if server.poll() is None:
            server.terminate()
    for server in servers:
        server.wait(timeout=15)


def _wait_for_mail(inbox: Inbox, count: int, store: PostgresStore) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (len(inbox.envelopes) < count or store.count("outbox")):
        time.sleep(0.1)
    time.sleep(1.5)  # a second delivery would come within a pass or two: give it the chance to show


def test_one_form_sent_to_two_machines_at_once_is_one_lead_one_consent_row_one_email(
    postgres_database, tmp_path, inbox
):
    machines, ports = _machines(postgres_database, tmp_path, smtp_port=inbox.port)  # type: ignore[attr-defined]
    store = PostgresStore(postgres_database)
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        tokens = [_results_token(bases[index % 2], index) for index in range(SHOPPERS)]  # started on either
        time.sleep(optin.MIN_SECONDS_ON_FORM + 0.2)
        answers: list[bool] = []

        def both_at_once(index: int) -> None:
            start = threading.Barrier(2)

            def send(base: str) -> None:
                start.wait()
                answers.append(_opt_in(base, index, tokens[index], f"shopper{index}@example.com"))

            together(send, [(base,) for base in bases])

        for index in range(SHOPPERS):
            both_at_once(index)
        assert answers == [True] * (2 * SHOPPERS)  # both machines answered "sent" to each
        _wait_for_mail(inbox, SHOPPERS, store)
        leads = Counter(lead["email"] for lead in store.records("leads"))
        consent = Counter(record["email"] for record in store.records("consent"))
        mails = Counter(str(message["To"]) for message in inbox.messages())
        addresses = {f"shopper{index}@example.com" for index in range(SHOPPERS)}
        assert leads == consent == mails == Counter(addresses)
        assert store.count("outbox") == 0
        _stop(*machines)  # each writes the funnel events it holds, into the one store
        kinds = Counter(event["kind"] for event in store.records("events"))
        assert kinds["opted_in"] == SHOPPERS and kinds["completed"] == SHOPPERS
    finally:
        _stop(*machines)
        store.close()


def test_workers_share_one_postgresql_store(postgres_database, tmp_path, inbox):
    port = _free_port()
    environment = _environment(postgres_database, tmp_path / "data", port, inbox.port)  # type: ignore[attr-defined]
    server = _start(environment, "--workers", "2")
    store = PostgresStore(postgres_database)
    try:
        base = f"http://127.0.0.1:{port}"
        tokens = [_results_token(base, index) for index in range(4)]
        time.sleep(optin.MIN_SECONDS_ON_FORM + 0.2)
        assert all(_opt_in(base, index, tokens[index], f"w{index}@example.com") for index in range(4))
        _wait_for_mail(inbox, 4, store)
        assert sorted(str(message["To"]) for message in inbox.messages()) == [
            f"w{index}@example.com" for index in range(4)
        ]
        workers = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        assert len(workers) >= 2  # the supervisor's children: one process per worker
    finally:
        _stop(server)
        store.close()


def test_more_than_one_worker_on_the_embedded_store_is_refused_with_the_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QUIZ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QUIZ_SECRET_KEYS", "k")
    monkeypatch.delenv("QUIZ_STORE_URL", raising=False)
    assert cli.main(["serve", str(EXAMPLES), "--workers", "2"]) == 2
    error = capsys.readouterr().err
    assert "takes one writer process" in error and "QUIZ_STORE_URL" in error


def test_a_postgresql_that_is_not_there_stops_the_start_with_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QUIZ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QUIZ_SECRET_KEYS", "k")
    monkeypatch.setenv("QUIZ_STORE_URL", f"postgresql://shop:hunter2@127.0.0.1:{_free_port()}/quiz")
    assert cli.main(["serve", str(EXAMPLES)]) == 2
    error = capsys.readouterr().err
    assert "cannot reach PostgreSQL at postgresql://shop@127.0.0.1:" in error and "hunter2" not in error


def test_one_line_webhook_delivery_sent_to_two_machines_takes_effect_once(postgres_database, tmp_path):
    import json

    with LinePlatform() as platform:
        attempts: list[str] = []  # every reply the servers try, taken or not (a used reply token is refused)
        reply = platform._routes[("POST", "/v2/bot/message/reply")]

        def counted(call):  # type: ignore[no-untyped-def]
            attempts.append(call.path)
            return reply(call)

        platform._routes[("POST", "/v2/bot/message/reply")] = counted
        machines, ports = _machines(postgres_database, tmp_path, **_line_environment(platform))
        store = PostgresStore(postgres_database)
        try:
            statuses: list[int] = []
            for number in range(10):
                user = "U" + f"{number:032x}"
                body = json.dumps({"destination": "Ubot", "events": [platform.message_event("結果", user_id=user)]})
                signature = platform.signature(body.encode())
                start = threading.Barrier(2)

                def deliver(
                    port: int, body: str = body, signature: str = signature, start: threading.Barrier = start
                ) -> None:
                    start.wait()
                    headers = {"x-line-signature": signature, "content-type": "application/json"}
                    response = httpx.post(f"http://127.0.0.1:{port}/line/webhook", content=body, headers=headers)
                    statuses.append(response.status_code)

                together(deliver, [(port,) for port in ports])
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (store.count("outbox") or len(platform.replies) < 10):
                time.sleep(0.1)
            time.sleep(1.5)  # a second reply would come within a pass or two
            assert statuses == [200] * 20  # both machines acknowledged every delivery
            assert len(platform.replies) == len(attempts) == 10  # each event answered once, never tried twice
            assert store.count("line_events") == 10
        finally:
            _stop(*machines)
            store.close()


def test_erasure_from_the_command_line_runs_beside_the_servers_on_postgresql(postgres_database, tmp_path, monkeypatch):
    store = PostgresStore(postgres_database)
    store.put("leads", "l1", {"email": "gone@example.com", "quiz": "serum", "response": "r1"})
    store.put("responses", "r1", {"quiz": "serum"})
    store.add("consent", {"email": "gone@example.com"})
    store.close()
    port = _free_port()
    server = _start(_environment(postgres_database, tmp_path / "data", port, 9))  # a server holds the store
    try:
        for name, value in _environment(postgres_database, tmp_path / "cli", port, 9).items():
            monkeypatch.setenv(name, value)
        assert cli.main(["forget", "gone@example.com"]) == 0
    finally:
        _stop(server)
    store = PostgresStore(postgres_database)
    try:
        assert store.find("leads", email="gone@example.com") == [] and store.count("responses") == 0
        assert store.count("suppressions") == 1
    finally:
        store.close()


def test_one_chat_code_sent_to_two_machines_at_once_links_one_user(postgres_database, tmp_path):
    import json

    from quiz.line.book import LineBook, line_code

    store = PostgresStore(postgres_database)
    store.put("responses", "r-shared", {"quiz": "serum-finder", "locale": "ja", "answers": {}, "products": []})
    LineBook(store, Provenance()).remember_code("r-shared")
    with LinePlatform() as platform:
        machines, ports = _machines(postgres_database, tmp_path, **_line_environment(platform))
        try:
            start = threading.Barrier(2)
            statuses: list[int] = []

            def send_code(port: int, user: str) -> None:
                event = platform.message_event(line_code("r-shared"), user_id=user)
                body = json.dumps({"destination": "Ubot", "events": [event]})
                headers = {"x-line-signature": platform.signature(body.encode()), "content-type": "application/json"}
                start.wait()
                statuses.append(
                    httpx.post(f"http://127.0.0.1:{port}/line/webhook", content=body, headers=headers).status_code
                )

            users = ["U" + "a" * 32, "U" + "b" * 32]
            together(send_code, list(zip(ports, users, strict=True)))
            assert statuses == [200, 200]
            links = list(store.records("line_links"))
            assert len(links) == 1 and links[0]["user"] in users  # one of them took the code
            assert len(store.find("consent", channel="line")) == 1
        finally:
            _stop(*machines)
            store.close()

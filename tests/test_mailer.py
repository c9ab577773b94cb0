"""The mail queue against a real SMTP server on loopback, and the outbox folder a developer reads."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from smtp_server import Inbox, Server, parse

from quiz.delivery.mail import FolderTransport, MailQueue, PermanentFailure, SMTPTransport, transport_for
from quiz.settings import Settings, Smtp

START = 1_750_000_000.0  # a fixed "now" for the injected clock


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def server(inbox: Inbox) -> Iterator[Server]:
    running = Server(inbox)
    yield running
    running.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def message(to: str = "ana@example.com", *, subject: str = "Your results", body: str = "Hello") -> EmailMessage:
    built = EmailMessage()
    built["From"] = "Quiz <quiz@example.com>"
    built["To"] = to
    built["Subject"] = subject
    built.set_content(body)
    return built


def files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def state(folder: Path, message_id: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / "queue" / f"{message_id}.json").read_text())
    return loaded


class Refusing:
    def send(self, message: EmailMessage) -> None:
        raise PermanentFailure("550 no such user")


class Unreachable:
    def send(self, message: EmailMessage) -> None:
        raise ConnectionRefusedError("connection refused")


def test_message_is_delivered_through_smtp_without_tls_or_login(tmp_path: Path, server: Server) -> None:
    server.start()
    queue = MailQueue(tmp_path, server.transport())
    queue.enqueue(message(subject="Résultats du quiz"))

    assert queue.deliver_due() == 1

    [envelope] = server.inbox.envelopes
    assert envelope.rcpt_tos == ["ana@example.com"]
    assert envelope.mail_from == "quiz@example.com"
    assert server.inbox.messages()[0]["Subject"] == "Résultats du quiz"
    assert files(tmp_path / "queue") == []
    assert queue.deliver_due() == 0


def test_server_down_keeps_message_queued_then_delivers_once_when_back(
    tmp_path: Path, server: Server, clock: Clock
) -> None:
    queue = MailQueue(tmp_path, server.transport(), clock=clock)
    message_id = queue.enqueue(message())

    assert queue.deliver_due() == 0
    after_first_try = state(tmp_path, message_id)
    assert after_first_try["attempts"] == 1
    assert after_first_try["next_at"] == pytest.approx(START + 30)
    assert "ConnectionRefusedError" in after_first_try["last_error"]

    server.start()
    clock.now += 10
    assert queue.deliver_due() == 0  # not due yet
    clock.now += 20
    assert queue.deliver_due() == 1
    assert queue.deliver_due() == 0
    assert len(server.inbox.envelopes) == 1


def test_retry_delay_doubles_up_to_an_hour(tmp_path: Path, clock: Clock) -> None:
    queue = MailQueue(tmp_path, Unreachable(), clock=clock)
    message_id = queue.enqueue(message())
    delays = []
    for _ in range(9):
        clock.now = state(tmp_path, message_id)["next_at"]
        queue.deliver_due()
        delays.append(state(tmp_path, message_id)["next_at"] - clock.now)

    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


@pytest.mark.parametrize("refusal", ["refuse_rcpt", "refuse_data"])
def test_refused_message_moves_to_failed_after_one_try(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, refusal: str
) -> None:
    server = Server(Inbox(**{refusal: "550 no such user: Ana@Example.com"}))
    server.start()
    try:
        queue = MailQueue(tmp_path, server.transport())
        message_id = queue.enqueue(message())
        with caplog.at_level(logging.WARNING, logger="quiz.delivery.mail"):
            assert queue.deliver_due() == 0
    finally:
        server.stop()

    assert files(tmp_path / "queue") == []
    assert files(tmp_path / "failed") == [f"{message_id}.eml", f"{message_id}.json"]
    failed = json.loads((tmp_path / "failed" / f"{message_id}.json").read_text())
    assert failed["attempts"] == 1
    assert message_id in caplog.text
    assert "550 no such user: <recipient>" in caplog.text
    assert "Hello" not in caplog.text  # never the body
    # Logs and state files outlive an erasure request: the server's reply keeps its code, not the address.
    assert "ana@example.com" not in (caplog.text + failed["last_error"]).lower()


def test_message_failing_for_three_days_moves_to_failed(tmp_path: Path, clock: Clock) -> None:
    queue = MailQueue(tmp_path, Unreachable(), clock=clock)
    message_id = queue.enqueue(message())
    queue.deliver_due()
    clock.now += 3 * 24 * 60 * 60

    queue.deliver_due()

    assert files(tmp_path / "queue") == []
    assert f"{message_id}.eml" in files(tmp_path / "failed")


def test_new_queue_delivers_what_the_old_one_left(tmp_path: Path, server: Server, clock: Clock) -> None:
    old = MailQueue(tmp_path, server.transport(), clock=clock)
    old.enqueue(message("ana@example.com"))
    old.enqueue(message("ben@example.com"))
    old.deliver_due()
    old.close()
    (tmp_path / "queue" / ".crashed.eml.1234abcd.tmp").write_bytes(b"half a mess")

    server.start()
    clock.now += 60
    restarted = MailQueue(tmp_path, server.transport(), clock=clock)
    restarted.recover()  # what start() does first

    assert restarted.deliver_due() == 2
    assert sorted(e.rcpt_tos[0] for e in server.inbox.envelopes) == ["ana@example.com", "ben@example.com"]
    assert files(tmp_path / "queue") == []


def test_a_queue_opened_beside_a_running_one_deletes_nothing(tmp_path: Path, server: Server, clock: Clock) -> None:
    running = MailQueue(tmp_path, server.transport(), clock=clock)
    # What a live enqueue writes first: its temporary file, then the state before the message.
    (tmp_path / "queue" / ".20250101T000000-abc.json.1234abcd.tmp").write_bytes(b"being written")
    (tmp_path / "queue" / "20250101T000000-abc.json").write_text('{"queued_at": 0}', encoding="utf-8")
    before = files(tmp_path / "queue")

    reader = MailQueue(tmp_path, server.transport(), clock=clock)  # as `quiz subject` opens it
    assert reader.pending("ana@example.com") == []
    assert files(tmp_path / "queue") == before
    running.recover()  # only the server, at its start, clears such leftovers
    assert files(tmp_path / "queue") == []


def test_corrupt_state_file_does_not_stop_delivery(
    tmp_path: Path, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    server.start()
    queue = MailQueue(tmp_path, server.transport())
    damaged = queue.enqueue(message("ana@example.com"))
    queue.enqueue(message("ben@example.com"))
    (tmp_path / "queue" / f"{damaged}.json").write_text('{"attempts": ')

    with caplog.at_level(logging.WARNING, logger="quiz.delivery.mail"):
        assert queue.deliver_due() == 2

    assert damaged in caplog.text
    assert files(tmp_path / "queue") == []


def test_background_thread_delivers_soon_after_enqueue(tmp_path: Path, server: Server) -> None:
    server.start()
    queue = MailQueue(tmp_path, server.transport())
    queue.start()
    try:
        queue.enqueue(message())
        deadline = time.monotonic() + 5
        while not server.inbox.envelopes and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        queue.close()

    assert len(server.inbox.envelopes) == 1


def test_close_without_start_is_harmless(tmp_path: Path) -> None:
    MailQueue(tmp_path, Unreachable()).close()


def test_folder_transport_writes_readable_eml(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    FolderTransport(outbox).send(message(subject="診断結果", body="あなたにおすすめの化粧水です。\n"))

    [written] = outbox.iterdir()
    read = parse(written.read_bytes())
    assert read["Subject"] == "診断結果"
    body = read.get_body()
    assert body is not None
    assert body.get_content() == "あなたにおすすめの化粧水です。\n"
    assert written.name.endswith(".eml")
    assert not [name for name in files(outbox) if name.endswith(".tmp")]


def test_queue_into_folder_transport_round_trips_japanese(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    queue = MailQueue(tmp_path / "mail", FolderTransport(outbox))
    queue.enqueue(message(subject="診断結果", body="乾燥肌のためのセットです。\n"))

    assert queue.deliver_due() == 1

    [written] = outbox.iterdir()
    read = parse(written.read_bytes())
    assert read["Subject"] == "診断結果"
    assert read["Message-ID"]
    body = read.get_body()
    assert body is not None
    assert body.get_content() == "乾燥肌のためのセットです。\n"


def test_forget_erases_queued_failed_and_outbox_mail_of_that_address_only(tmp_path: Path) -> None:
    mail, outbox, old_outbox = tmp_path / "mail", tmp_path / "outbox", tmp_path / "old-outbox"
    refusing = MailQueue(mail, Refusing())
    refusing.enqueue(message("ana@example.com"))
    refusing.enqueue(message("ben@example.com"))
    refusing.deliver_due()
    FolderTransport(old_outbox).send(message("Ana <ANA@example.com>"))
    queue = MailQueue(mail, FolderTransport(outbox))
    queue.enqueue(message("ana@example.com"))
    queue.enqueue(message("ben@example.com"))
    queue.deliver_due()
    queue.enqueue(message("ana@example.com, cleo@example.com"))
    kept = queue.enqueue(message("ben@example.com"))

    erased = queue.forget("Ana@Example.com", also_in=[old_outbox])

    assert erased == 4  # one failed, one in each outbox, one queued
    assert files(mail / "queue") == [f"{kept}.eml", f"{kept}.json"]
    assert len(files(mail / "failed")) == 2
    assert len(files(outbox)) == 1
    assert files(old_outbox) == []
    assert queue.pending("ana@example.com") == []
    assert [summary["status"] for summary in queue.pending("ben@example.com")] == ["queued", "failed", "outbox"]


def test_pending_summarises_mail_for_an_access_export(tmp_path: Path, clock: Clock) -> None:
    queue = MailQueue(tmp_path, Unreachable(), clock=clock)
    message_id = queue.enqueue(message("ana@example.com", subject="Confirm your subscription"))
    queue.enqueue(message("ben@example.com"))
    queue.deliver_due()

    assert queue.pending("ANA@example.com") == [
        {
            "id": message_id,
            "status": "queued",
            "subject": "Confirm your subscription",
            "attempts": 1,
            "queued_at": "2025-06-15T15:06:40.000+00:00",
        }
    ]


def test_transport_for_settings(tmp_path: Path) -> None:
    settings = Settings(quizzes_dir=tmp_path, data_dir=tmp_path, secret_keys=("k",))
    folder = transport_for(settings)
    assert isinstance(folder, FolderTransport)
    assert folder.folder == tmp_path / "outbox"
    smtp = transport_for(Settings(quizzes_dir=tmp_path, data_dir=tmp_path, secret_keys=("k",), smtp=Smtp("mx")))
    assert isinstance(smtp, SMTPTransport)


class Gated(FolderTransport):
    """An outbox that holds each message at the door until the test lets it through."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.entered, self.release = threading.Event(), threading.Event()

    def send(self, message: EmailMessage) -> None:
        self.entered.set()
        assert self.release.wait(5)
        super().send(message)


def test_forget_waits_for_a_delivery_in_progress_and_erases_what_it_wrote(tmp_path: Path) -> None:
    outbox = Gated(tmp_path / "outbox")
    queue = MailQueue(tmp_path / "mail", outbox)
    queue.enqueue(message("ana@example.com"))
    delivery = threading.Thread(target=queue.deliver_due)
    delivery.start()
    assert outbox.entered.wait(5)
    erased: list[int] = []
    forgetting = threading.Thread(target=lambda: erased.append(queue.forget("ana@example.com")))
    forgetting.start()
    forgetting.join(0.2)
    assert forgetting.is_alive()  # waiting for the message on its way into the outbox

    outbox.release.set()
    delivery.join(5)
    forgetting.join(5)

    assert erased == [1]
    assert files(tmp_path / "outbox") == []
    assert files(tmp_path / "mail" / "queue") == []

"""The mail queue against a real SMTP server on loopback, its jobs in the store's outbox, and a developer's folder."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

import pytest
from smtp_server import Inbox, Server, parse

from quiz.delivery.mail import FolderTransport, MailQueue, PermanentFailure, SMTPTransport, Transport, transport_for
from quiz.delivery.outbox import LEASE_SECONDS, Outbox
from quiz.settings import Settings, Smtp
from quiz.store.base import Record, Store
from quiz.store.memory import MemoryStore
from quiz.store.tiny import TinyStore

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


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyStore]:
    """The embedded store, as a server opens it: the outbox's jobs are files on disk."""
    opened = TinyStore(tmp_path / "store")
    yield opened
    opened.close()


def message(to: str = "ana@example.com", *, subject: str = "Your results", body: str = "Hello") -> EmailMessage:
    built = EmailMessage()
    built["From"] = "Quiz <quiz@example.com>"
    built["To"] = to
    built["Subject"] = subject
    built.set_content(body)
    return built


def files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def jobs(store: Store) -> list[Record]:
    """Every job in the outbox, queued or failed."""
    return list(store.records("outbox"))


def job(store: Store, job_id: str) -> Record:
    found = store.get("outbox", job_id)
    assert found is not None, f"no job {job_id} in the outbox"
    return found


class Refusing:
    def send(self, message: EmailMessage) -> None:
        raise PermanentFailure("550 no such user")


class Unreachable:
    def send(self, message: EmailMessage) -> None:
        raise ConnectionRefusedError("connection refused")


def test_message_is_delivered_through_smtp_without_tls_or_login(store: TinyStore, server: Server) -> None:
    server.start()
    queue = MailQueue(Outbox(store), server.transport())
    queue.enqueue(message(subject="Résultats du quiz"))

    assert queue.deliver_due() == 1

    [envelope] = server.inbox.envelopes
    assert envelope.rcpt_tos == ["ana@example.com"]
    assert envelope.mail_from == "quiz@example.com"
    assert server.inbox.messages()[0]["Subject"] == "Résultats du quiz"
    assert jobs(store) == []
    assert queue.deliver_due() == 0


def test_server_down_keeps_message_queued_then_delivers_once_when_back(
    store: TinyStore, server: Server, clock: Clock
) -> None:
    queue = MailQueue(Outbox(store, clock=clock), server.transport())
    message_id = queue.enqueue(message())

    assert queue.deliver_due() == 0
    after_first_try = job(store, message_id)
    assert after_first_try["status"] == "queued"
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
    assert jobs(store) == []


def test_retry_delay_doubles_up_to_an_hour(clock: Clock) -> None:
    store = MemoryStore()
    queue = MailQueue(Outbox(store, clock=clock), Unreachable())
    message_id = queue.enqueue(message())
    delays = []
    for _ in range(9):
        clock.now = job(store, message_id)["next_at"]
        queue.deliver_due()
        delays.append(job(store, message_id)["next_at"] - clock.now)

    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


@pytest.mark.parametrize("refusal", ["refuse_rcpt", "refuse_data"])
def test_refused_message_is_kept_as_failed_after_one_try(
    store: TinyStore, caplog: pytest.LogCaptureFixture, refusal: str
) -> None:
    server = Server(Inbox(**{refusal: "550 no such user: Ana@Example.com"}))
    server.start()
    try:
        queue = MailQueue(Outbox(store), server.transport())
        message_id = queue.enqueue(message())
        with caplog.at_level(logging.WARNING, logger="quiz.delivery.mail"):
            assert queue.deliver_due() == 0
        assert queue.deliver_due() == 0  # given up on: not tried again
    finally:
        server.stop()

    [failed] = jobs(store)
    assert failed["id"] == message_id
    assert failed["status"] == "failed"
    assert failed["attempts"] == 1
    assert message_id in caplog.text
    assert "550 no such user: <recipient>" in caplog.text
    assert "Hello" not in caplog.text  # never the body
    # Logs and the job's error outlive an erasure request: the server's reply keeps its code, not the address.
    assert "ana@example.com" not in (caplog.text + failed["last_error"]).lower()


def test_message_failing_for_three_days_is_kept_as_failed(clock: Clock) -> None:
    store = MemoryStore()
    queue = MailQueue(Outbox(store, clock=clock), Unreachable())
    message_id = queue.enqueue(message())
    queue.deliver_due()
    clock.now += 3 * 24 * 60 * 60

    queue.deliver_due()

    [failed] = jobs(store)
    assert failed["id"] == message_id and failed["status"] == "failed" and failed["attempts"] == 2
    assert failed["last_error"].startswith("still failing after 2 attempts: ConnectionRefusedError")
    clock.now += 60 * 60
    assert queue.deliver_due() == 0
    assert job(store, message_id)["attempts"] == 2  # not tried again


def test_a_restarted_server_delivers_what_the_last_one_left(tmp_path: Path, server: Server, clock: Clock) -> None:
    first = TinyStore(tmp_path / "store")
    old = MailQueue(Outbox(first, clock=clock), server.transport())
    old.enqueue(message("ana@example.com"))
    old.enqueue(message("ben@example.com"))
    old.deliver_due()  # the mail server is down: both wait
    old.close()
    first.close()

    server.start()
    clock.now += 60
    second = TinyStore(tmp_path / "store")
    try:
        restarted = MailQueue(Outbox(second, clock=clock), server.transport())
        assert restarted.deliver_due() == 2
        assert jobs(second) == []
    finally:
        second.close()
    assert sorted(e.rcpt_tos[0] for e in server.inbox.envelopes) == ["ana@example.com", "ben@example.com"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_queue_opened_beside_a_running_server_reads_its_outbox_and_changes_nothing(
    tmp_path: Path, store: TinyStore, server: Server, clock: Clock
) -> None:
    running = MailQueue(Outbox(store, clock=clock), server.transport())
    message_id = running.enqueue(message("ana@example.com"))
    running.deliver_due()  # the mail server is down: it waits
    before = snapshot(tmp_path / "store")

    beside = TinyStore(tmp_path / "store", read_only=True)  # as `quiz subject` opens it
    try:
        reader = MailQueue(Outbox(beside, clock=clock), server.transport())
        [summary] = reader.pending("ana@example.com")
        assert summary["id"] == message_id and summary["status"] == "queued" and summary["attempts"] == 1
    finally:
        beside.close()

    assert snapshot(tmp_path / "store") == before
    server.start()
    clock.now += 60
    assert running.deliver_due() == 1  # the running server's queue is as it was


def test_background_thread_delivers_soon_after_enqueue(store: TinyStore, server: Server) -> None:
    server.start()
    queue = MailQueue(Outbox(store), server.transport())
    queue.start()
    try:
        queue.enqueue(message())
        deadline = time.monotonic() + 5
        while not server.inbox.envelopes and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        queue.close()

    assert len(server.inbox.envelopes) == 1


def test_close_without_start_is_harmless() -> None:
    MailQueue(Outbox(MemoryStore()), Unreachable()).close()


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
    queue = MailQueue(Outbox(MemoryStore()), FolderTransport(outbox))
    queue.enqueue(message(subject="診断結果", body="乾燥肌のためのセットです。\n"))

    assert queue.deliver_due() == 1

    [written] = outbox.iterdir()
    read = parse(written.read_bytes())
    assert read["Subject"] == "診断結果"
    assert read["Message-ID"]
    body = read.get_body()
    assert body is not None
    assert body.get_content() == "乾燥肌のためのセットです。\n"


def test_forget_erases_queued_failed_and_outbox_mail_of_that_address_only(tmp_path: Path, store: TinyStore) -> None:
    outbox = tmp_path / "outbox"
    refusing = MailQueue(Outbox(store), Refusing())
    refusing.enqueue(message("ana@example.com"))
    refusing.enqueue(message("ben@example.com"))
    refusing.deliver_due()
    queue = MailQueue(Outbox(store), FolderTransport(outbox))
    queue.enqueue(message("ana@example.com"))
    queue.enqueue(message("ben@example.com"))
    queue.deliver_due()
    queue.enqueue(message("Ana <ANA@example.com>"))
    kept = queue.enqueue(message("ben@example.com"))

    erased = queue.forget("Ana@Example.com")

    assert erased == 3  # one failed, one in the outbox folder, one queued
    assert sorted((job["status"], job["recipient"]) for job in jobs(store)) == [
        ("failed", "ben@example.com"),
        ("queued", "ben@example.com"),
    ]
    assert kept in {job["id"] for job in jobs(store)}
    assert len(files(outbox)) == 1
    assert queue.pending("ana@example.com") == []
    assert sorted(summary["status"] for summary in queue.pending("ben@example.com")) == ["failed", "outbox", "queued"]


def test_a_message_to_several_addresses_is_refused_so_erasure_always_finds_its_one_address() -> None:
    store = MemoryStore()
    queue = MailQueue(Outbox(store), Unreachable())
    with pytest.raises(ValueError, match="one address, not 2"):
        queue.enqueue(message("ana@example.com, cleo@example.com"))
    assert jobs(store) == []


def test_pending_summarises_mail_for_an_access_export(clock: Clock) -> None:
    queue = MailQueue(Outbox(MemoryStore(), clock=clock), Unreachable())
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
            "last_error": "ConnectionRefusedError: connection refused",
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


def test_forget_waits_for_a_delivery_in_progress_and_erases_what_it_wrote(tmp_path: Path, store: TinyStore) -> None:
    outbox = Gated(tmp_path / "outbox")
    queue = MailQueue(Outbox(store), outbox)
    queue.enqueue(message("ana@example.com"))
    delivery = threading.Thread(target=queue.deliver_due)
    delivery.start()
    assert outbox.entered.wait(5)
    erased: list[int] = []
    forgetting = threading.Thread(target=lambda: erased.append(queue.forget("ana@example.com")))
    forgetting.start()
    forgetting.join(0.2)
    waited = forgetting.is_alive()  # waiting for the message on its way into the outbox

    outbox.release.set()  # before any assertion: neither thread may be left hanging
    delivery.join(5)
    forgetting.join(5)

    assert files(tmp_path / "outbox") == []
    assert erased == [1]
    assert jobs(store) == []
    assert waited


# --- several workers on one store -----------------------------------------------------------------


class Meeting:
    """A worker's transport whose first message waits until every worker is sending one: they deliver at once."""

    def __init__(self, transport: Transport, everyone: threading.Barrier) -> None:
        self.transport = transport
        self.everyone = everyone
        self.met = False

    def send(self, message: EmailMessage) -> None:
        if not self.met:
            self.met = True
            self.everyone.wait(10)
        self.transport.send(message)


@pytest.mark.parametrize("backend", ["memory", "tiny"])
def test_two_workers_on_one_store_deliver_each_message_exactly_once(
    tmp_path: Path, server: Server, backend: str
) -> None:
    server.start()
    shared: Store = MemoryStore() if backend == "memory" else TinyStore(tmp_path / "store")
    try:
        everyone = threading.Barrier(2)
        workers = [MailQueue(Outbox(shared), Meeting(server.transport(), everyone)) for _ in range(2)]
        queued = [workers[n % 2].enqueue(message(f"shopper-{n}@example.com")) for n in range(30)]

        def work(worker: MailQueue) -> int:
            sent, deadline = 0, time.monotonic() + 30
            while shared.find("outbox", status="queued"):  # some may be the other worker's, being sent
                assert time.monotonic() < deadline, "the outbox did not empty"
                sent += worker.deliver_due()
                time.sleep(0.005)
            return sent

        with ThreadPoolExecutor(2) as pool:
            sent = list(pool.map(work, workers))
        left = jobs(shared)
    finally:
        shared.close()

    assert sum(sent) == 30 and min(sent) > 0  # both delivered, neither a message the other did
    assert left == []
    delivered = Counter(str(parse(envelope.content)["Message-ID"]) for envelope in server.inbox.envelopes)
    assert len(delivered) == 30 and set(delivered.values()) == {1}
    recipients = sorted(envelope.rcpt_tos[0] for envelope in server.inbox.envelopes)
    assert recipients == sorted(f"shopper-{n}@example.com" for n in range(30))
    assert len(set(queued)) == 30


def test_a_message_claimed_by_a_worker_that_died_is_delivered_by_another_once_its_lease_ends(
    store: TinyStore, server: Server, clock: Clock
) -> None:
    server.start()
    queue = MailQueue(Outbox(store, clock=clock), server.transport())
    message_id = queue.enqueue(message())
    [taken] = Outbox(store, clock=clock).claim("mail")  # a worker takes it, then dies before sending it
    assert taken["id"] == message_id

    assert queue.deliver_due() == 0  # the other worker leaves it alone while the lease lasts
    clock.now += LEASE_SECONDS - 1
    assert queue.deliver_due() == 0
    clock.now += 2
    assert queue.deliver_due() == 1

    assert len(server.inbox.envelopes) == 1
    assert jobs(store) == []
    assert queue.deliver_due() == 0


def test_a_damaged_queued_message_is_given_up_on_and_the_rest_still_go(server: Server) -> None:
    server.start()
    store = MemoryStore()
    queue = MailQueue(Outbox(store), server.transport())
    damaged = queue.enqueue(message("ana@example.com"))
    queue.enqueue(message("ben@example.com"))
    store.update("outbox", damaged, {"payload": {"message": "not base64!", "subject": "s"}})
    assert queue.deliver_due() == 1
    assert [str(received["To"]) for received in server.inbox.messages()] == ["ben@example.com"]
    (kept,) = jobs(store)
    assert kept["status"] == "failed" and "damaged" in kept["last_error"]

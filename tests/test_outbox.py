"""The outbox: one claim per job across workers, leases that end, and the folder queues of earlier versions moved in."""

from __future__ import annotations

import json
import threading
from email.message import EmailMessage

from together import together

from quiz.delivery.folders import move_folder_queues
from quiz.delivery.outbox import LEASE_SECONDS, Outbox
from quiz.delivery.schedule import my_turn
from quiz.store.memory import MemoryStore
from quiz.store.tiny import TinyStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_of_workers_claiming_at_once_each_job_goes_to_one():
    store = MemoryStore()
    outbox = Outbox(store)
    for index in range(40):
        outbox.enqueue("mail", {"n": index}, recipient=f"s{index}@example.com")
    claimed: list[int] = []
    start = threading.Barrier(4)

    def worker() -> None:
        start.wait()
        while jobs := outbox.claim("mail", limit=3):
            claimed.extend(job["payload"]["n"] for job in jobs)
            for job in jobs:
                outbox.done(job)

    together(worker, [()] * 4)
    assert sorted(claimed) == list(range(40))


def test_a_lease_that_ends_gives_the_job_to_another_worker_and_a_key_queues_once():
    clock = Clock()
    outbox = Outbox(MemoryStore(), clock=clock)
    assert outbox.enqueue("line", {"to": "U1"}, recipient="U1", key="push-1") == "push-1"
    outbox.enqueue("line", {"to": "U1"}, recipient="U1", key="push-1")  # the same key: still one job
    (taken,) = outbox.claim("line")
    assert outbox.claim("line") == []  # leased
    clock.now += LEASE_SECONDS + 1  # its worker died without finishing
    (again,) = outbox.claim("line")
    assert again["id"] == taken["id"] == "push-1"
    outbox.done(again)
    assert outbox.claim("line") == [] and outbox.pending("U1") == []


def test_a_retried_job_waits_its_backoff_and_erasure_reaches_queued_and_failed_jobs():
    clock = Clock()
    outbox = Outbox(MemoryStore(), clock=clock)
    outbox.enqueue("mail", {}, recipient="a@example.com")
    outbox.enqueue("mail", {}, recipient="a@example.com")
    first, second = outbox.claim("mail")
    assert outbox.retry(first, "421 try later") is True
    outbox.give_up(second, "550 no such user")
    assert outbox.claim("mail") == []
    clock.now += 31
    (retried,) = outbox.claim("mail")
    assert retried["attempts"] == 1 and retried["last_error"] == "421 try later"
    assert sorted(job["status"] for job in outbox.pending("a@example.com")) == ["failed", "queued"]
    assert outbox.forget("a@example.com") == 2


def test_scheduled_work_runs_once_per_period_whoever_asks():
    store = MemoryStore()
    turns = [my_turn(store, "prune", every=3600, now=100.0) for _ in range(5)]
    assert turns == [True, False, False, False, False]
    assert my_turn(store, "prune", every=3600, now=3700.0) is True
    assert my_turn(store, "prune", every=3600, now=3700.0) is False


def test_messages_an_earlier_version_queued_as_files_move_into_the_outbox_once(tmp_path):
    data = tmp_path / "data"
    (data / "mail" / "queue").mkdir(parents=True)
    (data / "mail" / "failed").mkdir(parents=True)
    (data / "line" / "queue").mkdir(parents=True)
    message = EmailMessage()
    message["To"], message["Subject"] = "Shopper@Example.com", "Your matches"
    message.set_content("hello")
    (data / "mail" / "queue" / "20260101T000000-a.eml").write_bytes(message.as_bytes())
    (data / "mail" / "queue" / "20260101T000000-a.json").write_text('{"queued_at": 1}')
    (data / "mail" / "failed" / "20260101T000000-b.eml").write_bytes(message.as_bytes())
    push = {"kind": "push", "to": "U" + "0" * 32, "messages": [{"type": "text", "text": "hi"}], "retry_key": "k"}
    (data / "line" / "queue" / "0000000000001-c.json").write_text(json.dumps(push))
    store = TinyStore(data / "store")
    outbox = Outbox(store)
    assert move_folder_queues(data, outbox) == 3
    assert move_folder_queues(data, outbox) == 0
    jobs = {job["id"]: job for job in store.records("outbox")}
    assert jobs["folder-20260101T000000-a"]["recipient"] == "shopper@example.com"
    assert jobs["folder-20260101T000000-a"]["status"] == "queued"
    assert jobs["folder-20260101T000000-b"]["status"] == "failed"
    assert jobs["folder-0000000000001-c"]["payload"]["retry_key"] == "k"
    assert not list((data / "mail").rglob("*.eml")) and not list((data / "line").rglob("*.json"))
    store.close()


def test_a_stale_copy_of_a_retried_job_claims_nothing():
    clock = Clock()
    store = MemoryStore()
    first, second = Outbox(store, clock=clock), Outbox(store, clock=clock)
    first.enqueue("mail", {}, recipient="x@example.com")
    (stale,) = store.find("outbox", kind="mail", status="queued")  # what a second worker read, just before
    (job,) = first.claim("mail")
    first.retry(job, "421 try later")
    seen = {field: stale[field] for field in ("lease", "status", "next_at", "attempts")}
    assert store.swap("outbox", job["id"], seen, {"lease": 1.0}) is None  # its claim, as claim() makes it
    assert second.claim("mail") == []  # the backoff holds for every worker


def test_a_worker_whose_lease_ran_out_neither_sends_nor_removes_the_job_another_took():
    clock = Clock()
    store = MemoryStore()
    slow, other = Outbox(store, clock=clock), Outbox(store, clock=clock)
    slow.enqueue("mail", {}, recipient="a@example.com")
    (mine,) = slow.claim("mail")
    clock.now += LEASE_SECONDS + 1  # the slow worker hung past its lease
    (theirs,) = other.claim("mail")
    assert not slow.still_there(mine)  # so it does not send
    slow.done(mine)
    assert other.still_there(theirs) and store.count("outbox") == 1
    other.done(theirs)
    assert store.count("outbox") == 0

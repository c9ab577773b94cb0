"""The LINE webhook under a flood: hundreds of deliveries at once from several threads, forged and genuine mixed.

Real parts only: the app on a loopback uvicorn server (tests/live.py), its reply queue delivering to the local
LINE Platform (tests/line_platform.py), and plain HTTP from a thread pool. The flood is sent once per module,
in a shuffled order so that redeliveries race their originals; each test checks one thing it must leave
behind: a status per kind of delivery, each event taking effect once, no trace of what was refused, and a
quiz that kept answering shoppers.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import random
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from html_page import Page
from line_platform import LinePlatform, sign
from live import bound_socket, serving
from starlette.applications import Starlette
from test_line import HTMX, make_client

from quiz.line.channel import LineChannel
from quiz.web.services import services_of
from quiz.web.wording import words

LINKED_SHOPPERS = 4  # their results are linked first, so a second reply to them would show: it becomes a push
VALID_DELIVERIES = 40  # of five events each, one of every kind (see delivery_events)
REDELIVERIES = 2  # each valid delivery is sent again this many times, with the same webhookEventIds
UNSIGNED = 30
FORGED = 30
OVERSIZED = 10
MALFORMED_COPIES = 4  # of each malformed body
STEP_VISITS = 20  # a shopper's GET of a quiz step, mixed into the flood
THREADS = 8
REQUEST_TIMEOUT = 10.0  # seconds; the whole flood takes about two on a laptop
DRAIN_SECONDS = 10.0  # for the reply queue to send everything the flood asked for
EXPECTED_STATUS = {
    "unsigned": 401,
    "forged": 401,
    "oversized": 413,
    "malformed": 400,
    "valid": 200,
    "redelivery": 200,
    "step": 200,
}


@dataclass(frozen=True)
class Call:
    kind: str  # in the flood, a key of EXPECTED_STATUS
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    status: int
    location: str  # a redirect's path and query, "" otherwise
    text: str


@dataclass
class Flood:
    """What was sent, what came back, and the events on each side of the signature check."""

    app: Starlette
    platform: LinePlatform
    linked: list[str]  # the LINE users of the shoppers whose results are linked
    setup_tokens: list[str] = field(default_factory=list)  # of the code messages that linked them
    outcomes: list[tuple[Call, Outcome]] = field(default_factory=list)
    genuine_events: list[dict[str, Any]] = field(default_factory=list)  # in the valid deliveries, once each
    refused_events: list[dict[str, Any]] = field(default_factory=list)  # in what must get 401, 400 or 413
    step_path: str = ""


# --- talking to the server ------------------------------------------------------------------------


def send(port: int, call: Call) -> Outcome:
    """One request on a connection of its own: the server may close one after refusing an oversized body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request(call.method, call.path, body=call.body, headers=call.headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        location = urlsplit(response.getheader("location", ""))
        return Outcome(response.status, f"{location.path}?{location.query}" if location.path else "", text)
    finally:
        connection.close()


def webhook(kind: str, body: bytes, signature: str | None) -> Call:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-line-signature"] = signature
    return Call(kind, "POST", "/line/webhook", body, headers)


def form(path: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> Call:
    headers = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
    return Call("form", "POST", path, urlencode(fields).encode(), headers)


def line_user(name: str) -> str:
    return "U" + hashlib.sha256(name.encode()).hexdigest()[:32]


# --- before the flood: a quiz in progress, and shoppers linked by their results code (flow C) --------


def start_quiz(port: int) -> str:
    """The path of the first step of a freshly started quiz, token included."""
    started = send(port, form("/q/serum/start", {"page": "https://shop.example/p/1"}))
    assert started.status == 303, started
    return started.location


def results_code(port: int) -> str:
    page = Page(send(port, Call("step", "GET", start_quiz(port))).text)
    for value in ("dry", "no"):
        page = Page(send(port, form("/q/serum/answer", {"t": page.value("t"), "a": value}, HTMX)).text)
    return page.text("quiz-line-code")


def link_shopper(port: int, platform: LinePlatform, user: str) -> str:
    """The shopper sends their results code in chat, which links the results to them; returns the reply token."""
    event = platform.message_event(results_code(port), user_id=user)
    body = platform.webhook_body(event)
    assert send(port, webhook("valid", body, platform.signature(body))).status == 200
    return str(event["replyToken"])


# --- the flood ------------------------------------------------------------------------------------


def delivery_events(platform: LinePlatform, number: int, linked: list[str]) -> list[dict[str, Any]]:
    """One event of each kind: results asked by a linked shopper and by a stranger, chatter, follow, unfollow."""
    stranger = line_user(f"stranger-{number}")
    return [
        platform.message_event("結果", user_id=linked[number % len(linked)]),
        platform.message_event("結果", user_id=stranger),
        platform.message_event("こんにちは", user_id=stranger),  # neither a keyword nor a code: left unanswered
        platform.follow_event(user_id=stranger),  # no results waiting for a stranger: nothing to send
        platform.unfollow_event(user_id=stranger),
    ]


def redelivered(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "deliveryContext": {"isRedelivery": True}}


def genuine_calls(flood: Flood) -> Iterator[Call]:
    platform = flood.platform
    for number in range(VALID_DELIVERIES):
        events = delivery_events(platform, number, flood.linked)
        flood.genuine_events.extend(events)
        body = platform.webhook_body(*events)
        yield webhook("valid", body, platform.signature(body))
        again = platform.webhook_body(*map(redelivered, events))  # new bytes, same webhookEventIds
        yield from [webhook("redelivery", again, platform.signature(again))] * REDELIVERIES


def refused_body(flood: Flood, number: int, **extra: str) -> bytes:
    """A delivery that would get a reply if it took effect: a linked shopper asking for their results."""
    event = flood.platform.message_event("結果", user_id=flood.linked[number % len(flood.linked)]) | extra
    flood.refused_events.append(event)
    return flood.platform.webhook_body(event)


def forged_signature(flood: Flood, body: bytes, number: int) -> str:
    """Signatures LINE did not make: another channel's, another body's, and ones that are not HMACs at all."""
    choices = [
        sign(body, "another-secret"),
        flood.platform.signature(body + b" "),
        "",
        "not base64 at all",
        flood.platform.signature(body)[:-4],
    ]
    return choices[number % len(choices)]


def refused_calls(flood: Flood, max_body: int) -> Iterator[Call]:
    platform = flood.platform
    for number in range(UNSIGNED):
        yield webhook("unsigned", refused_body(flood, number), None)
    for number in range(FORGED):
        body = refused_body(flood, number)
        yield webhook("forged", body, forged_signature(flood, body, number))
    for number in range(OVERSIZED):
        body = refused_body(flood, number, padding="x" * max_body)  # the event model ignores unknown fields
        yield webhook("oversized", body, platform.signature(body))
    cut_short = refused_body(flood, 0)[:-2]
    malformed = [b"", b"not json", b"[]", b'{"destination": "Ub"}', b'{"events": {}}', b'{"events": [1]}', cut_short]
    for body in malformed * MALFORMED_COPIES:
        yield webhook("malformed", body, platform.signature(body))


def flood_calls(flood: Flood, max_body: int) -> list[Call]:
    steps = [Call("step", "GET", flood.step_path)] * STEP_VISITS
    calls = [*genuine_calls(flood), *refused_calls(flood, max_body), *steps]
    random.Random(20260501).shuffle(calls)  # seeded: a failure replays in the same order
    return calls


def queued_line_messages(flood: Flood) -> list[dict[str, Any]]:
    return services_of(flood.app).store.find("outbox", kind="line", status="queued")


def wait_for_queue_to_drain(flood: Flood) -> None:
    """Every reply the flood asked for was queued before its 200; once none is queued in the outbox, all went out."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while waiting := queued_line_messages(flood):
        if time.monotonic() > deadline:
            raise AssertionError(f"the LINE queue still holds {len(waiting)} messages")
        time.sleep(0.02)


def run_flood(port: int, flood: Flood) -> None:
    """Link the shoppers, send the flood from THREADS threads, visit the quiz once more, and let the replies go."""
    flood.setup_tokens = [link_shopper(port, flood.platform, user) for user in flood.linked]
    flood.step_path = start_quiz(port)
    calls = flood_calls(flood, services_of(flood.app).settings.max_body_bytes)
    with ThreadPoolExecutor(THREADS) as pool:
        flood.outcomes = list(zip(calls, pool.map(lambda call: send(port, call), calls), strict=True))
    after = Call("step", "GET", flood.step_path)
    flood.outcomes.append((after, send(port, after)))
    wait_for_queue_to_drain(flood)


@contextlib.contextmanager
def served(app: Starlette) -> Iterator[int]:
    """The app on a loopback port, its reply queue running as the lifespan would run it; yields the port."""
    sock = bound_socket()
    try:
        with serving(app, sock):
            services_of(app).channel(LineChannel).queue.start()  # the test server runs without a lifespan
            try:
                yield sock.getsockname()[1]
            finally:
                services_of(app).channel(LineChannel).queue.close()
    finally:
        services_of(app).store.close()


@pytest.fixture(scope="module")
def flood(tmp_path_factory) -> Iterator[Flood]:
    with LinePlatform() as platform:
        # make_client's TestClient is never opened: only the app it wraps is served, by uvicorn.
        app = make_client(tmp_path_factory.mktemp("flood"), platform, login=False).app
        with served(app) as port:
            done = Flood(app, platform, linked=[line_user(f"shopper-{n}") for n in range(LINKED_SHOPPERS)])
            run_flood(port, done)
            yield done


# --- what the flood must leave behind -------------------------------------------------------------


def stored_event_ids(flood: Flood) -> list[str]:
    return [record["id"] for record in services_of(flood.app).store.records("line_events")]


def asks_for_results(event: dict[str, Any]) -> bool:
    return event["type"] == "message" and event["message"]["text"] == "結果"


def test_every_delivery_gets_the_status_of_its_kind_and_none_fails(flood):
    statuses = Counter((call.kind, outcome.status) for call, outcome in flood.outcomes)
    assert statuses == {(kind, EXPECTED_STATUS[kind]): count for (kind, _), count in statuses.items()}
    assert {kind for kind, _ in statuses} == set(EXPECTED_STATUS)


def test_each_genuine_event_takes_effect_exactly_once(flood):
    platform = flood.platform
    answered = [event["replyToken"] for event in flood.genuine_events if asks_for_results(event)]
    replied = Counter(reply["replyToken"] for reply in platform.replies)
    assert replied == Counter([*flood.setup_tokens, *answered])  # one reply each, none for a redelivery
    assert not platform.pushes  # a reply sent twice fails on its used token and becomes a push to the shopper
    assert not list(services_of(flood.app).store.records("outbox"))  # none queued, none given up on
    event_ids = Counter(stored_event_ids(flood))
    assert set(event_ids.values()) == {1}
    assert {event["webhookEventId"] for event in flood.genuine_events} <= set(event_ids)


def test_each_shopper_gets_the_answer_to_what_they_asked(flood):
    replies = {reply["replyToken"]: reply["messages"] for reply in flood.platform.replies}
    for event in filter(asks_for_results, flood.genuine_events):
        (message,) = replies[event["replyToken"]]
        if event["source"]["userId"] in flood.linked:
            assert message["type"] == "flex"  # their linked results
        else:
            assert message["text"] == words("ja")["line_no_results"]


def test_refused_deliveries_leave_no_trace(flood):
    refused_tokens = {event["replyToken"] for event in flood.refused_events}
    assert not refused_tokens & {reply["replyToken"] for reply in flood.platform.replies}
    assert not {event["webhookEventId"] for event in flood.refused_events} & set(stored_event_ids(flood))
    assert len(stored_event_ids(flood)) == LINKED_SHOPPERS + len(flood.genuine_events)


def test_the_quiz_answers_shoppers_during_and_after_the_flood(flood):
    steps = [outcome for call, outcome in flood.outcomes if call.kind == "step"]
    assert len(steps) == STEP_VISITS + 1
    for step in steps:
        assert step.status == 200 and Page(step.text).options() == ["dry", "oily"]

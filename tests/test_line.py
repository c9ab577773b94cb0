"""Results on LINE over HTTP, against a local LINE Platform (tests/line_platform.py) on loopback.

Flow A: LINE Login from the results (state, nonce, PKCE, friendship), a Flex push from the
store's outbox. Flow C: a code shown with the results, sent in chat, answered by a reply. The
webhook: signatures, redeliveries, follow/unfollow, withdrawals.
"""

import asyncio
import contextlib
import hashlib
import json
import re
import threading
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from factory import quiz_document
from html_page import Page
from line_platform import LinePlatform, sign
from starlette.testclient import TestClient

from quiz.app import create_app, prune_every
from quiz.consent import Provenance, iso_time
from quiz.delivery.outbox import Outbox
from quiz.line.api import LineApi
from quiz.line.book import LOGIN_SECONDS, LineBook, line_code
from quiz.line.channel import LineChannel
from quiz.line.flex import text_message
from quiz.line.queue import LineQueue
from quiz.settings import from_environment
from quiz.store import files as durable
from quiz.store.memory import MemoryStore
from quiz.store.tiny import TinyStore
from quiz.web.services import services_of
from quiz.web.wording import words

HTMX = {"HX-Request": "true"}
LINE_CONSENT = "LINEでお得な情報を受け取る"
LINE_VERSION = "line-v1+" + hashlib.sha256(LINE_CONSENT.encode()).hexdigest()[:12]
SKIP = words("en")["optin_skip"]


@pytest.fixture
def platform():
    running = LinePlatform()
    running.start()
    yield running
    running.stop()


def make_client(tmp_path, platform, *, login=True, line=True, **capture_changes):
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir(parents=True, exist_ok=True)
    capture = {"channels": ["email", "line"], "line_consent": {"text": LINE_CONSENT, "version": "line-v1"}}
    capture |= capture_changes
    document = quiz_document(
        embed={"allowed_origins": ["https://shop.example"]},
        shop="Serum Shop",
        lead_capture=capture,
        products=[
            {
                "id": "aqua",
                "title": "Aqua serum",
                "url": "/aqua",
                "image": "https://cdn.shop.example/aqua.jpg",
                "price": 3300,
                "tags": ["hydrating", "fragrance-free"],
            },
            {"id": "rose", "title": "Rose serum", "url": "/rose", "price": 2500, "tags": ["hydrating"]},
        ],
        currency="JPY",
    )
    (quizzes / "serum.json").write_text(json.dumps(document), encoding="utf-8")
    environ = {
        "QUIZ_DATA_DIR": str(tmp_path / "data"),
        "QUIZ_CONTROLLER": "Serum Shop K.K.",
        "QUIZ_LINE_CHANNEL_SECRET": platform.bot_secret,
        "QUIZ_LINE_CHANNEL_ACCESS_TOKEN": platform.access_token,
        "QUIZ_LINE_ADD_FRIEND_URL": "https://line.me/R/ti/p/@123abcde",
        "QUIZ_LINE_ACCESS_URL": platform.url,
        "QUIZ_LINE_API_URL": platform.url,
    }
    if not line:
        environ = {name: value for name, value in environ.items() if not name.startswith("QUIZ_LINE_")}
    elif login:
        environ |= {"QUIZ_LINE_LOGIN_CHANNEL_ID": platform.channel_id, "QUIZ_LINE_LOGIN_CHANNEL_SECRET": "login-secret"}
    settings = from_environment(environ, quizzes_dir=str(quizzes))
    return TestClient(create_app(settings), base_url="http://quiz.test", follow_redirects=False)


@pytest.fixture
def client(tmp_path, platform):
    with make_client(tmp_path, platform) as opened:
        yield opened


def results_html(client):
    response = client.post("/q/serum/start", data={"page": "https://shop.example/p/1"})
    page = Page(client.get(response.headers["location"]).text)
    for value in ("dry", "no"):
        response = client.post("/q/serum/answer", data={"t": page.value("t"), "a": value}, headers=HTMX)
        page = Page(response.text)
    return response.text


def results_page(client):
    return Page(results_html(client))


def start_login(client, page, *, consent=True):
    data = {"t": page.value("t"), **({"consent": "yes"} if consent else {})}
    return client.post("/q/serum/line", data=data)


def callback_path(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def stored(client, collection):
    return list(services_of(client.app).store.records(collection))


def eventually(check, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("did not happen in time")
        time.sleep(0.02)


def test_the_results_offer_line_with_its_own_unticked_consent_line(client):
    html = results_html(client)
    page = Page(html)
    assert 'action="/q/serum/line" target="quiz-line"' in html
    boxes = [field for field in page.inputs if field.get("name") == "consent"]
    assert len(boxes) == 1 and "checked" not in boxes[0]  # this quiz has a consent line for LINE only
    assert LINE_CONSENT in page.text("quiz-line")


def test_line_login_links_the_shopper_records_consent_and_pushes_the_results(client, platform):
    started = start_login(client, results_page(client))
    assert started.status_code == 303
    authorize = started.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(platform.url + "/oauth2/v2.1/authorize?")
    assert query["bot_prompt"] == ["aggressive"] and query["scope"] == ["openid profile"]
    assert query["code_challenge_method"] == ["S256"] and query["nonce"][0]
    assert f"form-action 'self' {platform.url};" in client.get("/q/serum").headers["content-security-policy"]

    done = client.get(callback_path(platform.approve(authorize, friend=True)))
    assert done.status_code == 200 and "LINE" in done.text

    eventually(lambda: len(platform.pushes) == 1)
    (push,) = platform.pushes
    assert push["to"] == platform.user_id and push["retry_key"]
    (flex,) = push["messages"]
    assert flex["type"] == "flex" and "Aqua serum" in flex["altText"]
    assert "utm_medium=line" in json.dumps(flex)
    (user,) = stored(client, "line_users")
    assert user["id"] == platform.user_id and user["friend"] is True
    assert user["consent"]["status"] == "subscribed" and user["consent"]["version"] == LINE_VERSION
    (evidence,) = [record for record in stored(client, "consent") if record["channel"] == "line"]
    assert evidence["line_user"] == platform.user_id and evidence["checkbox"] is True
    assert evidence["text"] == LINE_CONSENT and evidence["method"] == "line_login"
    assert evidence["controller"] == "Serum Shop K.K." and evidence["locale"] == user["latest"]["locale"]
    assert evidence["quiz_version"] == user["latest"]["quiz_version"]
    assert evidence["widget_version"].startswith("0.1.0+")
    services_of(client.app).store.flush()
    (opted,) = [event for event in stored(client, "events") if event["kind"] == "opted_in"]
    assert opted["channel"] == "line" and opted["consent"] == "true" and opted["run"]  # the funnel counts it


def test_the_widget_asks_again_and_shows_the_results_were_sent(client, platform):
    page = results_page(client)
    client.get(callback_path(platform.approve(start_login(client, page).headers["location"])))
    again = Page(client.get(f"/q/serum/step?t={page.value('t')}", headers=HTMX).text)
    assert "Sent" in again.text("quiz-line") or "送信" in again.text("quiz-line")


def test_a_full_disk_ends_line_login_with_the_popups_own_page_that_tells_the_widget(client, platform, monkeypatch):
    page = results_page(client)

    def refuse(source, target):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(durable.os, "replace", refuse)
        response = start_login(client, page)
    assert response.status_code == 503 and "line-done" in response.text  # the script that tells the widget
    assert "could not reach LINE" in Page(response.text).text("quiz-notice")
    assert start_login(client, page).status_code == 303  # the disk is back: the same button works


def test_a_state_works_once(client, platform):
    callback = callback_path(platform.approve(start_login(client, results_page(client)).headers["location"]))
    done = client.get(callback)
    assert done.status_code == 200
    # LINE's last page in the quiz's theme, with the name the shop gave itself (quiz.shop).
    assert '<link rel="stylesheet" href="/q/serum/theme.css">' in done.text
    assert Page(done.text).text("quiz-brand") == "Serum Shop · Serum finder"
    replayed = client.get(callback)
    assert replayed.status_code == 400  # replayed: the login attempt was taken
    assert "theme.css" not in replayed.text  # a state it cannot read names no quiz
    eventually(lambda: len(platform.pushes) == 1)


@pytest.mark.parametrize("state", ["", "forged", "x" * 5000])
def test_a_missing_or_forged_state_links_nobody(client, platform, state):
    assert client.get(f"/line/callback?code=abc&state={state}").status_code == 400
    assert not stored(client, "line_users")


def test_a_cancelled_login_links_nobody_and_the_widget_says_so(client, platform):
    page = results_page(client)
    done = client.get(callback_path(platform.deny(start_login(client, page).headers["location"])))
    assert done.status_code == 200
    assert not stored(client, "line_users")
    again = client.get(f"/q/serum/step?t={page.value('t')}", headers=HTMX).text
    assert 'target="quiz-line"' in again  # they may try again
    assert "cancelled" in Page(again).text("quiz-line")


@pytest.mark.parametrize(
    "lie", [{"nonce": "someone-elses"}, {"aud": "999"}, {"exp": 1}], ids=["nonce", "other-channel", "expired"]
)
def test_an_id_token_that_is_not_this_logins_links_nobody(client, platform, lie):
    authorize = start_login(client, results_page(client)).headers["location"]
    platform.id_token_overrides = lie
    done = client.get(callback_path(platform.approve(authorize)))
    assert done.status_code == 502
    assert not stored(client, "line_users") and not platform.pushes


def test_a_shopper_who_declines_the_friend_gets_the_link_and_results_once_they_add_us(client, platform):
    page = results_page(client)
    client.get(callback_path(platform.approve(start_login(client, page).headers["location"], friend=False)))
    again = Page(client.get(f"/q/serum/step?t={page.value('t')}", headers=HTMX).text)
    assert "https://line.me/R/ti/p/@123abcde" in again.links
    assert not platform.pushes

    body = platform.webhook_body(platform.follow_event())
    assert (
        client.post("/line/webhook", content=body, headers={"x-line-signature": sign(body, "bot-secret")}).status_code
        == 200
    )
    eventually(lambda: len(platform.replies) == 1)
    assert platform.replies[0]["messages"][0]["type"] == "flex"


@pytest.fixture
def store(tmp_path):
    opened = TinyStore(tmp_path / "store")
    yield opened
    opened.close()


def line_queue(store, platform, *, friends=True):
    line = from_environment(
        {
            "QUIZ_SECRET_KEYS": "k",  # no data folder: the queue keeps its messages in the store given
            "QUIZ_LINE_CHANNEL_SECRET": platform.bot_secret,
            "QUIZ_LINE_CHANNEL_ACCESS_TOKEN": platform.access_token,
            "QUIZ_LINE_ADD_FRIEND_URL": "https://line.me/R/ti/p/@123abcde",
            "QUIZ_LINE_API_URL": platform.url,
        }
    ).line
    return LineQueue(Outbox(store), LineApi(line, timeout=2), lambda user: friends)


def jobs(store):
    return list(store.records("outbox"))


def due_now(store):
    for job in store.find("outbox", kind="line"):
        store.update("outbox", job["id"], {"next_at": 0.0})


def test_a_push_line_answers_500_to_is_kept_and_sent_once_later(store, platform):
    queue = line_queue(store, platform)
    queue.push(platform.user_id, [text_message("結果です")])
    platform.fail_next = [500]
    assert queue.deliver_due() == 0
    (job,) = jobs(store)
    assert job["status"] == "queued" and job["recipient"] == platform.user_id
    assert job["attempts"] == 1 and job["next_at"] > time.time() + 20 and "500" in job["last_error"]
    assert queue.deliver_due() == 0  # not due yet
    due_now(store)
    assert queue.deliver_due() == 1 and len(platform.pushes) == 1
    assert platform.pushes[0]["retry_key"] == job["payload"]["retry_key"]  # the same request: LINE sends it once
    assert not jobs(store)


def test_a_push_that_timed_out_but_arrived_is_not_sent_twice(store, platform):
    queue = line_queue(store, platform)
    queue.api.timeout = 0.2
    platform.delay_seconds = 0.5
    queue.push(platform.user_id, [text_message("結果です")])
    assert queue.deliver_due() == 0  # timed out, though LINE took it
    platform.delay_seconds = 0
    due_now(store)
    assert queue.deliver_due() == 1  # 409 for the same retry key counts as sent
    assert len(platform.pushes) == 1
    assert not jobs(store)


def test_a_reply_line_no_longer_takes_becomes_a_push_for_a_friend_only(store, platform):
    queue = line_queue(store, platform)
    queue.reply("expired-token", platform.user_id, [text_message("結果です")])
    assert queue.deliver_due() == 1  # the reply failed for good, the push went in the same pass
    assert len(platform.pushes) == 1 and not platform.replies
    assert not jobs(store)
    elsewhere = MemoryStore()
    stranger = line_queue(elsewhere, platform, friends=False)
    stranger.reply("expired-token", platform.user_id, [text_message("結果です")])
    assert stranger.deliver_due() == 0 and len(platform.pushes) == 1
    assert not jobs(elsewhere)  # dropped, not kept as failed: the user may not receive it


def test_nobody_who_blocked_the_account_gets_a_push(client, platform):
    page = results_page(client)
    client.get(callback_path(platform.approve(start_login(client, page).headers["location"])))
    eventually(lambda: len(platform.pushes) == 1)
    body = platform.webhook_body(platform.unfollow_event())
    assert post_webhook(client, body, sign(body, "bot-secret")).status_code == 200

    queue = services_of(client.app).channel(LineChannel).queue
    queue.push(platform.user_id, [text_message("新商品のお知らせ")])
    queue.deliver_due()
    assert len(platform.pushes) == 1  # the queue dropped it: the user blocked the account
    assert queue.pending(platform.user_id) == []
    (user,) = stored(client, "line_users")
    assert user["blocked"] is True and user["friend"] is False and user["consent"]["status"] == "unsubscribed"
    (withdrawn,) = [record for record in stored(client, "consent") if record["action"] == "withdrawn"]
    assert withdrawn["channel"] == "line" and withdrawn["method"] == "blocked"


# --- the webhook ---------------------------------------------------------------------------------


def post_webhook(client, body, signature):
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-line-signature"] = signature
    return client.post("/line/webhook", content=body, headers=headers)


def test_webhook_refuses_what_line_did_not_sign(client, platform):
    body = platform.webhook_body(platform.message_event("結果"))
    reserialized = json.dumps(json.loads(body), indent=2).encode()
    assert post_webhook(client, body, None).status_code == 401
    assert post_webhook(client, body, "").status_code == 401
    assert post_webhook(client, body, sign(body, "another-secret")).status_code == 401
    assert post_webhook(client, reserialized, sign(body, "bot-secret")).status_code == 401
    assert post_webhook(client, b"not json", sign(b"not json", "bot-secret")).status_code == 400
    assert post_webhook(client, body, sign(body, "bot-secret")).status_code == 200


def test_unknown_events_are_acknowledged_and_ignored(client, platform):
    body = platform.webhook_body({"type": "beacon", "webhookEventId": "01X", "mode": "active"}, {"nonsense": 1})
    assert post_webhook(client, body, sign(body, "bot-secret")).status_code == 200


def test_an_event_without_an_id_is_ignored_and_marks_nothing_seen(client, platform):
    nameless = platform.webhook_body({**platform.message_event("結果"), "webhookEventId": ""})
    assert post_webhook(client, nameless, sign(nameless, "bot-secret")).status_code == 200
    assert not stored(client, "line_events")


def test_a_redelivered_event_takes_effect_once(client, platform):
    event = platform.message_event("配信停止")
    first = platform.webhook_body(event)
    again = platform.webhook_body({**event, "deliveryContext": {"isRedelivery": True}})
    post_webhook(client, first, sign(first, "bot-secret"))
    post_webhook(client, again, sign(again, "bot-secret"))
    eventually(lambda: len(platform.replies) >= 1)
    time.sleep(0.2)
    assert len(platform.replies) == 1


def test_chat_answers_speak_the_language_of_the_users_quiz(client, platform):
    unknown = platform.webhook_body(platform.message_event("結果"))
    post_webhook(client, unknown, sign(unknown, "bot-secret"))
    eventually(lambda: len(platform.replies) == 1)
    assert platform.replies[0]["messages"][0]["text"] == words("ja")["line_no_results"]  # a stranger: Japanese

    client.get(callback_path(platform.approve(start_login(client, results_page(client)).headers["location"])))
    stop = platform.webhook_body(platform.message_event("stop"))
    post_webhook(client, stop, sign(stop, "bot-secret"))
    eventually(lambda: len(platform.replies) == 2)
    assert platform.replies[1]["messages"][0]["text"] == words("en")["line_withdrawn"]  # this quiz is in English


# --- flow C: no LINE Login ------------------------------------------------------------------------


def test_without_line_login_the_results_show_a_code_that_brings_the_results_in_chat(tmp_path, platform):
    with make_client(tmp_path, platform, login=False) as client:
        html = results_html(client)
        page = Page(html)
        code = page.text("quiz-line-code")
        assert len(code) == 9 and code[4] == "-"
        assert "https://line.me/R/ti/p/@123abcde" in page.links
        assert re.search(r'<div aria-hidden="true"><svg [^>]*class="quiz-line-qr"><title>Add us on LINE</title>', html)
        services_of(client.app).store.flush()
        typed = code.lower().replace("-", " ")  # as a shopper might type it
        body = platform.webhook_body(platform.message_event(typed))
        assert post_webhook(client, body, sign(body, "bot-secret")).status_code == 200
        eventually(lambda: len(platform.replies) == 1)
        assert platform.replies[0]["messages"][0]["type"] == "flex"
        (user,) = stored(client, "line_users")
        assert user["consent"]["status"] == "none"  # a code asks for results; marketing needs the box
        (evidence,) = [record for record in stored(client, "consent") if record["channel"] == "line"]
        assert evidence["method"] == "chat_code" and evidence["checkbox"] is False
        services_of(client.app).store.flush()
        (opted,) = [event for event in stored(client, "events") if event["kind"] == "opted_in"]
        (started,) = [event for event in stored(client, "events") if event["kind"] == "started"]
        assert opted["channel"] == "line" and opted["run"] == started["run"]  # the run, kept with the response

        body = platform.webhook_body(platform.message_event(code))
        post_webhook(client, body, sign(body, "bot-secret"))
        eventually(lambda: len(platform.replies) == 2)
        assert platform.replies[1]["messages"][0]["type"] == "text"  # used: the code works once


# --- the gate: results wait for an opt-in, by email or LINE -----------------------------------------


def test_the_gate_offers_line_beside_email_and_a_linked_line_user_opens_it(tmp_path, platform):
    with make_client(tmp_path, platform, placement="before_results") as client:
        gate = results_page(client)
        assert not gate.text("quiz-product-title")
        assert gate.text("quiz-line") and gate.value("email") == "" and SKIP in gate.buttons
        client.get(callback_path(platform.approve(start_login(client, gate).headers["location"])))
        eventually(lambda: len(platform.pushes) == 1)
        opened = Page(client.get(f"/q/serum/step?t={gate.value('t')}", headers=HTMX).text)
        assert opened.text("quiz-product-title") and "Sent" in opened.text("quiz-line")


def test_a_required_gate_has_no_way_round_but_a_cancelled_login_keeps_it_shut(tmp_path, platform):
    with make_client(tmp_path, platform, placement="before_results", required=True) as client:
        gate = results_page(client)
        assert SKIP not in gate.buttons
        email = next(field for field in gate.inputs if field.get("name") == "email")
        assert "required" not in email  # LINE opens this gate too: the address is one choice of two
        check = next(link for link in gate.links if link.endswith("&line=check"))  # without JS, the shopper asks
        assert not Page(client.get(check).text).text("quiz-product-title")
        assert words("en")["line_login_waiting"] in client.get(check).text
        client.get(callback_path(platform.deny(start_login(client, gate).headers["location"])))
        again = Page(client.get(f"/q/serum/step?t={gate.value('t')}", headers=HTMX).text)
        assert not again.text("quiz-product-title") and "cancelled" in again.text("quiz-line")


def test_a_line_only_gate_opens_once_the_code_arrives_in_chat(tmp_path, platform):
    with make_client(tmp_path, platform, login=False, channels=["line"], placement="before_results") as client:
        gate = results_page(client)
        code = gate.text("quiz-line-code")
        check = f"/q/serum/step?t={gate.value('t')}&line=check"
        assert any(link.endswith("&line=check") for link in gate.links)  # "I sent the code: show my results"
        early = Page(client.get(check, headers=HTMX).text)
        assert not early.text("quiz-product-title") and "not reached us" in early.text("quiz-line")

        services_of(client.app).store.flush()
        body = platform.webhook_body(platform.message_event(code))
        post_webhook(client, body, sign(body, "bot-secret"))
        eventually(lambda: len(platform.replies) == 1)
        assert Page(client.get(check, headers=HTMX).text).text("quiz-product-title")


def test_a_line_only_gate_can_be_skipped_and_is_no_gate_on_a_server_without_line(tmp_path, platform):
    with make_client(tmp_path / "a", platform, channels=["line"], placement="before_results") as client:
        gate = results_page(client)
        skipped = client.post("/q/serum/optin", data={"t": gate.value("t"), "action": "skip"}, headers=HTMX)
        assert Page(skipped.text).text("quiz-product-title")
    with make_client(tmp_path / "b", platform, line=False, channels=["line"], placement="before_results") as client:
        assert results_page(client).text("quiz-product-title")  # nothing could open it: results at once


# --- pruning ---------------------------------------------------------------------------------------


def test_taken_or_stale_logins_codes_and_event_ids_are_pruned_and_nothing_else(tmp_path):
    store = TinyStore(tmp_path / "data")
    clock = [1_000_000.0]
    book = LineBook(store, Provenance(), clock=lambda: clock[0])
    taken = book.begin_login("serum", "token", ticked=True, verifier="v", nonce="n")
    book.begin_login("serum", "token", ticked=True, verifier="v", nonce="n")
    book.take_login(taken)
    book.remember_code("response-1")
    book.remember_code("response-2")
    book.take_code(line_code("response-1"))
    book.seen_event("01EVENT")
    store.put("line_events", "01BEFORE", {"at": iso_time(clock[0] - 8 * 24 * 60 * 60)})  # stored before "seen"
    store.put("line_users", "U" + "0" * 32, {"friend": True})

    assert book.prune() == {"line_logins": 1, "line_codes": 1, "line_events": 1}
    clock[0] += LOGIN_SECONDS + 1
    assert book.prune() == {"line_logins": 1, "line_codes": 0, "line_events": 0}
    assert book.seen_event("01EVENT")  # a redelivery the next day still takes no effect
    clock[0] += 7 * 24 * 60 * 60
    assert book.prune() == {"line_logins": 0, "line_codes": 1, "line_events": 1}
    assert book.user("U" + "0" * 32) is not None  # identities are not the pruner's business
    store.close()


def test_pruning_goes_on_after_a_failure_and_stops_when_cancelled():
    class Failing:
        calls = 0
        store = MemoryStore()  # where the processes sharing it agree whose turn it is to prune

        def prune(self):
            self.calls += 1
            raise KeyError("an odd record")

    async def run_a_while(book):
        task = asyncio.create_task(prune_every(0.01, book))
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    book = Failing()
    # A thread of its own: Playwright's tests leave an event loop running in this one.
    runner = threading.Thread(target=asyncio.run, args=(run_a_while(book),))
    runner.start()
    runner.join(timeout=10)
    assert not runner.is_alive() and book.calls >= 2


def test_the_server_prunes_when_it_starts(tmp_path, platform):
    store = TinyStore(tmp_path / "data" / "store")
    store.put("line_logins", "old", {"used": True, "started": 0})
    store.close()
    with make_client(tmp_path, platform) as client:
        eventually(lambda: not stored(client, "line_logins"))


# --- export, erasure and access by LINE user id ---------------------------------------------------


def test_a_line_user_appears_in_the_export_and_is_erased_and_described_by_their_id(tmp_path, platform):
    with make_client(tmp_path, platform) as client:
        found = services_of(client.app)
        client.app.state.services = replace(found, settings=replace(found.settings, api_key="secret-key"))
        page = results_page(client)
        client.get(callback_path(platform.approve(start_login(client, page).headers["location"])))
        eventually(lambda: len(platform.pushes) == 1)
        key = {"Authorization": "Bearer secret-key"}
        export = client.get("/api/export?format=jsonl&consent=subscribed", headers=key)
        (row,) = [json.loads(line) for line in export.text.splitlines()]
        assert row["channel"] == "line" and row["line_user_id"] == platform.user_id and row["line_friend"] == "yes"
        assert row["consent_version"] == LINE_VERSION and row["recommended_ids"]

        described = client.post("/api/subject", json={"line_user": platform.user_id}, headers=key).json()
        assert described["user"]["friend"] is True and len(described["consent"]) == 1
        assert len(described["responses"]) == 1

        assert client.post("/api/forget", json={"line_user": "U123"}, headers=key).status_code == 400
        erased = client.post("/api/forget", json={"line_user": platform.user_id}, headers=key).json()["erased"]
        assert erased["line_users"] == 1 and erased["consent"] == 1 and erased["responses"] == 1
        on_disk = "".join(path.read_text() for path in (tmp_path / "data").rglob("*.json"))
        assert platform.user_id not in on_disk

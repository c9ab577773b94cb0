"""The LINE Platform stand-in, over real HTTP on loopback: each endpoint's answer and its main refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2 as httpx
import pytest
from html_page import Page
from line_platform import LinePlatform, sign

# RFC 7636 appendix B: a code verifier and its S256 challenge, worked out independently of our code.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
CALLBACK = "https://quiz.example/line/callback?quiz=skin"
TEXT = {"type": "text", "text": "おすすめの化粧水はこちら"}
BUBBLE = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": []}}
# Plain HTTP on 127.0.0.1: no proxies from the environment, and no CA bundle to load (40 ms per client).
PLAIN_LOOPBACK: dict[str, Any] = {"trust_env": False, "verify": False}
Changes = dict[str, str | None]  # query parameters to change; None leaves one out


@pytest.fixture
def line() -> Iterator[LinePlatform]:
    with LinePlatform() as platform:
        yield platform


@pytest.fixture
def client(line: LinePlatform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=line.url, timeout=2, **PLAIN_LOOPBACK) as http:
        yield http


def login_query(line: LinePlatform, **changes: str | None) -> dict[str, str]:
    """The query our server sends the shopper to LINE with; ``None`` leaves a parameter out."""
    query: Changes = {
        "response_type": "code",
        "client_id": line.channel_id,
        "redirect_uri": CALLBACK,
        "state": "state-123",
        "scope": "profile openid",
        "nonce": "nonce-456",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "bot_prompt": "aggressive",
    }
    query.update(changes)
    return {name: value for name, value in query.items() if value is not None}


def authorize_url(line: LinePlatform, **changes: str | None) -> str:
    return f"{line.url}/oauth2/v2.1/authorize?{urlencode(login_query(line, **changes))}"


def callback_params(url: str) -> dict[str, str]:
    assert url.startswith(CALLBACK.split("?")[0])
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def exchange(client: httpx.Client, line: LinePlatform, code: str, **changes: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": line.channel_id,
        "client_secret": line.channel_secret,
        "code_verifier": VERIFIER,
    }
    return client.post("/oauth2/v2.1/token", data=form | changes)


def logged_in(client: httpx.Client, line: LinePlatform) -> dict[str, Any]:
    tokens: dict[str, Any] = exchange(client, line, callback_params(line.approve(authorize_url(line)))["code"]).json()
    return tokens


def jwt_payload(token: str) -> dict[str, Any]:
    """The payload of an HS256 JWT, checked against the channel secret without the stand-in's own helpers."""
    header, body, signature = token.split(".")
    expected = hmac.new(b"login-secret", f"{header}.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(expected).rstrip(b"=").decode() == signature
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"typ": "JWT", "alg": "HS256"}
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return payload


def push(client: httpx.Client, body: dict[str, Any], **headers: str) -> httpx.Response:
    return client.post("/v2/bot/message/push", json=body, headers={"Authorization": "Bearer bot-token", **headers})


def reply(client: httpx.Client, token: str, *messages: dict[str, Any]) -> httpx.Response:
    body = {"replyToken": token, "messages": list(messages or [TEXT])}
    return client.post("/v2/bot/message/reply", json=body, headers={"Authorization": "Bearer bot-token"})


# -- the consent screen -------------------------------------------------------------------------------------


def test_consent_page_shows_the_shopper_and_the_friend_option(line: LinePlatform, client: httpx.Client) -> None:
    answer = client.get("/oauth2/v2.1/authorize", params=login_query(line))
    page = Page(answer.text)
    assert answer.status_code == 200
    assert page.root["lang"] == "ja"
    assert page.text("profile") == "山田 花子"
    assert page.text("friend-option") == "友だち追加"
    assert {"name": "friend", "id": "friend", "type": "checkbox", "checked": ""} in page.inputs
    assert page.buttons == ["許可する", "キャンセル"]
    assert page.value("state") == "state-123"
    assert line.authorizations == [login_query(line)]


def test_consent_page_offers_no_friend_option_without_bot_prompt(line: LinePlatform, client: httpx.Client) -> None:
    page = Page(client.get("/oauth2/v2.1/authorize", params=login_query(line, bot_prompt=None)).text)
    assert "friend" not in [field.get("name") for field in page.inputs]


@pytest.mark.parametrize(
    "changes",
    [
        {"code_challenge": None},
        {"code_challenge_method": "plain"},
        {"nonce": None},
        {"state": None},
        {"scope": "profile"},
        {"client_id": "999"},
        {"response_type": "token"},
    ],
)
def test_authorize_refuses_an_incomplete_request(line: LinePlatform, client: httpx.Client, changes: Changes) -> None:
    answer = client.get("/oauth2/v2.1/authorize", params=login_query(line, **changes))
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/plain")
    assert line.authorizations == []


def test_allowing_redirects_with_a_code_and_adds_the_friend(line: LinePlatform, client: httpx.Client) -> None:
    page = Page(client.get("/oauth2/v2.1/authorize", params=login_query(line)).text)
    form = {field["name"]: field["value"] for field in page.inputs if field["type"] == "hidden"}
    answer = client.post("/oauth2/v2.1/authorize/consent", data=form | {"friend": "on", "action": "allow"})
    params = callback_params(answer.headers["location"])
    assert answer.status_code == 302
    assert params["quiz"] == "skin"  # the callback URL's own query survives
    assert params["state"] == "state-123"
    assert params["friendship_status_changed"] == "true"
    assert line.friends == {line.user_id}


def test_cancelling_redirects_with_access_denied(line: LinePlatform, client: httpx.Client) -> None:
    answer = client.post("/oauth2/v2.1/authorize/consent", data=login_query(line) | {"action": "cancel"})
    location = answer.headers["location"]
    assert answer.status_code == 302
    assert "error=access_denied&error_description=The+resource+owner+denied+the+request.&state=state-123" in location
    assert line.friends == set()


def test_approve_without_a_browser_follows_the_friend_knob(line: LinePlatform) -> None:
    line.friend_added = False
    params = callback_params(line.approve(authorize_url(line)))
    assert params["friendship_status_changed"] == "false"
    assert line.friends == set()
    assert callback_params(line.approve(authorize_url(line), friend=True))["friendship_status_changed"] == "true"
    assert callback_params(line.approve(authorize_url(line), friend=True))["friendship_status_changed"] == "false"


def test_approve_reports_friendship_only_when_it_was_offered(line: LinePlatform) -> None:
    assert "friendship_status_changed" not in callback_params(line.approve(authorize_url(line, bot_prompt=None)))


def test_approve_and_deny_refuse_a_request_line_would_refuse(line: LinePlatform) -> None:
    with pytest.raises(ValueError, match="code_challenge is missing"):
        line.approve(authorize_url(line, code_challenge=None))
    with pytest.raises(ValueError, match="nonce is missing"):
        line.deny(authorize_url(line, nonce=None))


def test_deny_gives_the_cancelled_callback(line: LinePlatform) -> None:
    params = callback_params(line.deny(authorize_url(line)))
    assert params["error"] == "access_denied"
    assert params["state"] == "state-123"


# -- LINE Login API -----------------------------------------------------------------------------------------


def test_code_exchanges_for_tokens_and_a_signed_id_token(line: LinePlatform, client: httpx.Client) -> None:
    code = callback_params(line.approve(authorize_url(line)))["code"]
    answer = exchange(client, line, code)
    tokens = answer.json()
    claims = jwt_payload(tokens["id_token"])
    assert answer.status_code == 200
    assert tokens["expires_in"] == 2592000
    assert tokens["token_type"] == "Bearer"
    assert claims["sub"] == line.user_id
    assert claims["aud"] == "1234567890"
    assert claims["nonce"] == "nonce-456"
    assert claims["iss"] == "https://access.line.me"
    assert claims["exp"] > time.time() > claims["iat"] - 5


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code_verifier": "x" * 43}, "invalid_grant"),
        ({"redirect_uri": "https://evil.example/cb"}, "invalid_grant"),
        ({"client_secret": "guess"}, "invalid_client"),
    ],
)
def test_token_refuses_a_wrong_exchange(
    line: LinePlatform, client: httpx.Client, changes: dict[str, str], error: str
) -> None:
    code = callback_params(line.approve(authorize_url(line)))["code"]
    answer = exchange(client, line, code, **changes)
    assert answer.status_code == 400
    assert answer.json()["error"] == error


def test_authorization_code_is_single_use(line: LinePlatform, client: httpx.Client) -> None:
    code = callback_params(line.approve(authorize_url(line)))["code"]
    assert exchange(client, line, code).status_code == 200
    assert exchange(client, line, code).json() == {
        "error": "invalid_grant",
        "error_description": "invalid authorization code",
    }


def test_token_failure_leaves_the_code_usable(line: LinePlatform, client: httpx.Client) -> None:
    code = callback_params(line.approve(authorize_url(line)))["code"]
    line.fail_next = [500]
    assert exchange(client, line, code).status_code == 500
    assert exchange(client, line, code).status_code == 200


def test_verify_answers_the_id_token_claims(line: LinePlatform, client: httpx.Client) -> None:
    id_token = logged_in(client, line)["id_token"]
    form = {"id_token": id_token, "client_id": line.channel_id, "nonce": "nonce-456", "user_id": line.user_id}
    answer = client.post("/oauth2/v2.1/verify", data=form)
    assert answer.status_code == 200
    assert answer.json() == jwt_payload(id_token)


@pytest.mark.parametrize(
    ("overrides", "nonce", "description"),
    [
        ({"exp": 1}, "nonce-456", "IdToken expired."),
        ({"aud": "999"}, "nonce-456", "Invalid IdToken Audience."),
        ({}, "another-nonce", "Invalid IdToken Nonce."),
    ],
)
def test_verify_refuses_a_bad_id_token(
    line: LinePlatform, client: httpx.Client, overrides: dict[str, Any], nonce: str, description: str
) -> None:
    line.id_token_overrides = overrides
    form = {"id_token": logged_in(client, line)["id_token"], "client_id": line.channel_id, "nonce": nonce}
    answer = client.post("/oauth2/v2.1/verify", data=form)
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_request", "error_description": description}


def test_verify_refuses_a_forged_signature(line: LinePlatform, client: httpx.Client) -> None:
    header, body, _ = logged_in(client, line)["id_token"].split(".")
    forged = f"{header}.{body}.{base64.urlsafe_b64encode(b'x' * 32).rstrip(b'=').decode()}"
    answer = client.post("/oauth2/v2.1/verify", data={"id_token": forged, "client_id": line.channel_id})
    assert answer.json()["error_description"] == "Invalid IdToken."


def test_friendship_status_follows_the_consent_screen(line: LinePlatform, client: httpx.Client) -> None:
    access_token = logged_in(client, line)["access_token"]
    answer = client.get("/friendship/v1/status", headers={"Authorization": f"Bearer {access_token}"})
    assert answer.json() == {"friendFlag": True}
    line.unfollow_event()
    answer = client.get("/friendship/v1/status", headers={"Authorization": f"Bearer {access_token}"})
    assert answer.json() == {"friendFlag": False}


def test_friendship_status_refuses_an_unknown_token(client: httpx.Client) -> None:
    assert client.get("/friendship/v1/status", headers={"Authorization": "Bearer bot-token"}).status_code == 401
    assert client.get("/friendship/v1/status").status_code == 401


# -- Messaging API ------------------------------------------------------------------------------------------


def test_push_is_accepted_and_recorded(line: LinePlatform, client: httpx.Client) -> None:
    line.follow_event()
    answer = push(client, {"to": line.user_id, "messages": [TEXT]})
    (sent,) = answer.json()["sentMessages"]
    assert answer.status_code == 200
    assert sent["id"].isdigit() and sent["quoteToken"]
    assert line.pushes == [{"to": line.user_id, "messages": [TEXT], "retry_key": None, "delivered": True}]


def test_push_to_a_non_friend_is_accepted_but_not_delivered(line: LinePlatform, client: httpx.Client) -> None:
    assert push(client, {"to": line.user_id, "messages": [TEXT]}).status_code == 200
    assert line.pushes[0]["delivered"] is False


def test_push_refuses_a_wrong_access_token(line: LinePlatform, client: httpx.Client) -> None:
    body = {"to": line.user_id, "messages": [TEXT]}
    answer = client.post("/v2/bot/message/push", json=body, headers={"Authorization": "Bearer stolen"})
    assert answer.status_code == 401
    assert answer.json()["message"].startswith("Authentication failed.")
    assert line.pushes == []


def test_push_retry_key_is_accepted_once(line: LinePlatform, client: httpx.Client) -> None:
    body, key = {"to": line.user_id, "messages": [TEXT]}, "123e4567-e89b-12d3-a456-426614174000"
    first = push(client, body, **{"X-Line-Retry-Key": key})
    again = push(client, body, **{"X-Line-Retry-Key": key})
    assert again.status_code == 409
    assert again.json() == {
        "message": "The retry key is already accepted",
        "sentMessages": first.json()["sentMessages"],
    }
    assert again.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert [pushed["retry_key"] for pushed in line.pushes] == [key]


def test_push_failure_is_not_accepted_so_a_retry_goes_through(line: LinePlatform, client: httpx.Client) -> None:
    body, key = {"to": line.user_id, "messages": [TEXT]}, "123e4567-e89b-12d3-a456-426614174000"
    line.fail_next = [500, 500]
    answers = [push(client, body, **{"X-Line-Retry-Key": key}).status_code for _ in range(3)]
    assert answers == [500, 500, 200]
    assert len(line.pushes) == 1


def test_push_failure_answers_lines_error_body(line: LinePlatform, client: httpx.Client) -> None:
    line.fail_next = [500]
    assert push(client, {"to": line.user_id, "messages": [TEXT]}).json() == {"message": "Internal server error"}


def flex(contents: dict[str, Any], alt_text: str = "おすすめ") -> dict[str, Any]:
    return {"type": "flex", "altText": alt_text, "contents": contents}


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [TEXT] * 6,
        [{"text": "no type"}],
        [flex(BUBBLE, alt_text="")],
        [flex(BUBBLE, alt_text="あ" * 1501)],
        [flex({"type": "box"})],
        [flex({"type": "carousel", "contents": [BUBBLE] * 13})],
    ],
    ids=["none", "six", "untyped", "flex-no-alt", "flex-long-alt", "flex-box", "carousel-13"],
)
def test_push_refuses_messages_line_would_refuse(line: LinePlatform, client: httpx.Client, messages: list[Any]) -> None:
    answer = push(client, {"to": line.user_id, "messages": messages})
    assert answer.status_code == 400
    assert answer.json()["message"] == "The request body has 1 error(s)"
    assert answer.json()["details"][0]["property"].startswith("messages")
    assert line.pushes == []


def test_push_accepts_a_twelve_bubble_carousel(line: LinePlatform, client: httpx.Client) -> None:
    carousel = flex({"type": "carousel", "contents": [BUBBLE] * 12})
    answer = push(client, {"to": line.user_id, "messages": [carousel]})
    assert answer.status_code == 200
    assert "quoteToken" not in answer.json()["sentMessages"][0]  # LINE gives no quote token for flex


def test_slow_push_times_the_client_out_yet_is_accepted(line: LinePlatform) -> None:
    line.delay_seconds = 0.3
    with httpx.Client(base_url=line.url, timeout=0.05, **PLAIN_LOOPBACK) as impatient, pytest.raises(httpx.ReadTimeout):
        push(impatient, {"to": line.user_id, "messages": [TEXT]})
    deadline = time.monotonic() + 2
    while not line.pushes and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(line.pushes) == 1  # the timed-out push still went out: why retry keys matter


def test_reply_token_is_single_use(line: LinePlatform, client: httpx.Client) -> None:
    token = line.message_event("おすすめは?")["replyToken"]
    assert reply(client, token).status_code == 200
    answer = reply(client, token)
    assert answer.status_code == 400
    assert answer.json() == {"message": "Invalid reply token"}
    assert line.replies == [{"replyToken": token, "messages": [TEXT]}]


def test_reply_failure_leaves_the_token_usable(line: LinePlatform, client: httpx.Client) -> None:
    token = line.follow_event()["replyToken"]
    line.fail_next = [500]
    assert [reply(client, token).status_code for _ in range(2)] == [500, 200]


def test_reply_refuses_an_unknown_token(client: httpx.Client) -> None:
    assert reply(client, "0" * 32).status_code == 400


# -- webhooks -----------------------------------------------------------------------------------------------


def test_message_event_has_lines_shape(line: LinePlatform) -> None:
    event = line.message_event("こんにちは", redelivery=True)
    assert event["type"] == "message"
    assert event["mode"] == "active"
    assert event["source"] == {"type": "user", "userId": line.user_id}
    assert event["deliveryContext"] == {"isRedelivery": True}
    assert len(event["webhookEventId"]) == 26
    assert abs(event["timestamp"] - time.time() * 1000) < 5000
    assert event["message"]["type"] == "text"
    assert event["message"]["text"] == "こんにちは"
    assert event["message"]["id"].isdigit() and event["message"]["quoteToken"]


def test_follow_and_unfollow_events_change_the_friends(line: LinePlatform) -> None:
    other = "U" + "1" * 32
    follow = line.follow_event(user_id=other, unblocked=True)
    assert follow["follow"] == {"isUnblocked": True}
    assert follow["replyToken"]
    assert line.friends == {other}
    unfollow = line.unfollow_event(user_id=other)
    assert "replyToken" not in unfollow
    assert line.friends == set()


def test_webhook_body_is_signed_as_line_signs_it(line: LinePlatform) -> None:
    body = line.webhook_body(line.follow_event(), line.message_event("やあ"))
    digest = hmac.new(b"bot-secret", body, hashlib.sha256).digest()
    assert line.signature(body) == base64.b64encode(digest).decode()
    assert json.loads(body)["destination"] == "Ub" + "0" * 31
    assert [event["type"] for event in json.loads(body)["events"]] == ["follow", "message"]


def test_signature_matches_a_known_vector() -> None:
    # Worked out with: openssl dgst -sha256 -hmac bot-secret -binary body.json | base64
    body = '{"destination":"Ub0000000000000000000000000000000","events":[{"type":"message","text":"こんにちは"}]}'
    assert sign(body.encode(), "bot-secret") == "oE+XYJVHfd60ez+sI7VBnkBLyWLMVIVD0akJFhzs4Hs="


# -- the server itself --------------------------------------------------------------------------------------


def test_every_answer_carries_a_request_id(client: httpx.Client) -> None:
    ids = {
        client.get("/nowhere").headers["x-line-request-id"],
        client.get("/friendship/v1/status").headers["x-line-request-id"],
    }
    assert len(ids) == 2


def test_oversized_body_is_refused(line: LinePlatform, client: httpx.Client) -> None:
    answer = push(client, {"to": line.user_id, "messages": [{"type": "text", "text": "あ" * 400_000}]})
    assert answer.status_code == 413


def test_stop_closes_the_port() -> None:
    line = LinePlatform()
    line.start()
    line.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{line.url}/friendship/v1/status", **PLAIN_LOOPBACK)

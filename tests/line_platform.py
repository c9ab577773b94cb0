"""The LINE Platform on loopback for tests: LINE Login and the Messaging API on LINE's paths, and its webhooks.

Point the app's LINE base-URL settings at ``platform.url``; flip the knobs (``friend_added``, ``fail_next``,
``delay_seconds``, ``id_token_overrides``) and assert on the records (``pushes``, ``replies``,
``authorizations``, ``friends``)::

    with LinePlatform() as line:
        callback = line.approve(authorize_url_the_app_redirected_to)
        ...
        assert line.pushes[0]["to"] == line.user_id
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

MAX_BODY = 1024 * 1024  # 1 MB: LINE allows 2 MB, tests never need more
ACCESS_TOKEN_LIFETIME = 30 * 24 * 60 * 60  # 30 days, as LINE Login issues them
ID_TOKEN_LIFETIME = 60 * 60  # 1 hour
BOT_USER_ID = "Ub" + "0" * 31  # the official account's own user id: the webhooks' "destination"
PICTURE = "https://profile.line-scdn.net/x"
AUTHORIZE_PATH = "/oauth2/v2.1/authorize"
CONSENT_PATH = "/oauth2/v2.1/authorize/consent"  # not LINE's: stands for the shopper pressing a button
DENIED = "The resource owner denied the request."
BOT_PROMPTS = ("normal", "aggressive")
RECIPIENT = re.compile(r"[UCR][0-9a-f]{32}")  # a user, group or room id
RETRY_KEY = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
QUOTABLE = ("text", "sticker", "image", "video")  # the message types LINE gives a quoteToken
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BAD_BOT_TOKEN = "Authentication failed. Confirm that the access token in the authorization header is valid."


def sign(body: bytes, channel_secret: str) -> str:
    """LINE's ``x-line-signature``: the base64 HMAC-SHA256 of the exact body bytes under the channel secret."""
    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge for ``verifier`` (RFC 7636): BASE64URL(SHA256(verifier)) without padding."""
    return b64url(hashlib.sha256(verifier.encode()).digest())


def _hs256(signing_input: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()


def encode_jwt(payload: dict[str, Any], secret: str) -> str:
    """An HS256 JWT, as LINE Login signs its ID tokens with the channel secret."""
    header = b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    signing_input = f"{header}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(_hs256(signing_input, secret))}"


def decode_jwt(token: str, secret: str) -> dict[str, Any] | None:
    """The payload of an HS256 JWT signed with ``secret``, or None when it is malformed or forged."""
    try:
        header, body, signature = token.split(".")
        genuine = hmac.compare_digest(_hs256(f"{header}.{body}", secret), b64url_decode(signature))
        payload = json.loads(b64url_decode(body))
        algorithm = json.loads(b64url_decode(header)).get("alg")
    except (ValueError, AttributeError):  # binascii, JSON and Unicode errors are all ValueErrors
        return None
    return payload if genuine and algorithm == "HS256" and isinstance(payload, dict) else None


def ulid() -> str:
    """A 26-character ULID (48-bit millisecond time, 80 random bits), the shape of LINE's ``webhookEventId``."""
    number = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))


def message_id() -> str:
    return str(10**17 + secrets.randbelow(9 * 10**17))  # LINE's message ids are 18-digit numbers


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` appended to the query it already has (LINE keeps a callback URL's own query)."""
    parts = urlsplit(url)
    return parts._replace(query=urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])).geturl()


@dataclass(frozen=True)
class Call:
    """One HTTP request as the platform's endpoints see it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes
    request_id: str

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def bearer(self) -> str:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme == "Bearer" else ""


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class Refusal(Exception):
    """Ends a request early with ``answer``, as the platform's error statuses do."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def json_answer(status: int, data: Any, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, json.dumps(data, ensure_ascii=False).encode(), headers=headers or {})


def text_answer(status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Answer:
    return Answer(status, text.encode(), content_type)


def oauth_error(error: str, description: str, status: int = 400) -> Refusal:
    return Refusal(json_answer(status, {"error": error, "error_description": description}))


def api_error(status: int, message: str, details: list[dict[str, str]] | None = None) -> Refusal:
    return Refusal(json_answer(status, {"message": message, **({"details": details} if details else {})}))


def failure_message(status: int) -> str:
    known = {500: "Internal server error", 429: "The API rate limit has been exceeded. Try again later."}
    return known.get(status, HTTPStatus(status).phrase)


def detail(message: str, property_path: str) -> dict[str, str]:
    return {"message": message, "property": property_path}


def message_errors(messages: Any) -> list[dict[str, str]]:
    """LINE's ``details`` for a ``messages`` array it would refuse; empty when it would accept it."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return [detail("Size must be between 1 and 5", "messages")]
    return [error for index, message in enumerate(messages) for error in _errors_in(message, f"messages[{index}]")]


def _errors_in(message: Any, path: str) -> list[dict[str, str]]:
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return [detail("Must be one of the following values: [text, image, video, audio, ...]", f"{path}.type")]
    if message["type"] == "text" and not _sized(message.get("text"), 5000):
        return [detail("Length must be between 1 and 5000", f"{path}.text")]
    return _flex_errors(message, path) if message["type"] == "flex" else []


def _sized(value: Any, most: int) -> bool:
    return isinstance(value, str | list) and 1 <= len(value) <= most


def _flex_errors(message: dict[str, Any], path: str) -> list[dict[str, str]]:
    errors = []
    if not _sized(message.get("altText"), 1500):
        errors.append(detail("Length must be between 1 and 1500", f"{path}.altText"))
    contents = message.get("contents")
    kind = contents.get("type") if isinstance(contents, dict) else None
    if kind not in ("bubble", "carousel"):
        errors.append(detail("Must be one of the following values: [bubble, carousel]", f"{path}.contents.type"))
    elif kind == "carousel" and isinstance(contents, dict) and not _sized(contents.get("contents"), 12):
        errors.append(detail("Size must be between 1 and 12", f"{path}.contents.contents"))
    return errors


def sent_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The ``sentMessages`` of an accepted push or reply: an id each, and a quote token for quotable types."""
    quotable = [{"quoteToken": secrets.token_urlsafe(48)} if m["type"] in QUOTABLE else {} for m in messages]
    return [{"id": message_id(), **quote} for quote in quotable]


@dataclass(frozen=True)
class Grant:
    """What an authorization code stands for until it is exchanged."""

    client_id: str
    redirect_uri: str
    nonce: str
    code_challenge: str
    scope: str
    user_id: str


class LinePlatform:
    """The LINE Platform on loopback: LINE Login (authorize, token, verify, friendship), Messaging API (push, reply)."""

    def __init__(
        self,
        *,
        channel_id: str = "1234567890",
        channel_secret: str = "login-secret",
        access_token: str = "bot-token",
        user_id: str = "U" + "4af4980629" * 3 + "ab",
        display_name: str = "山田 花子",
        bot_secret: str = "bot-secret",
    ) -> None:
        self.channel_id = channel_id  # the LINE Login channel
        self.channel_secret = channel_secret
        self.access_token = access_token  # the Messaging API channel's access token
        self.bot_secret = bot_secret  # the Messaging API channel's secret: it signs the webhooks
        self.user_id = user_id
        self.display_name = display_name
        self.url = ""
        self.friend_added = True
        self.fail_next: list[int] = []
        self.delay_seconds = 0.0
        self.id_token_overrides: dict[str, Any] = {}  # merged into every ID token issued while set
        self.pushes: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []
        self.authorizations: list[dict[str, str]] = []
        self.friends: set[str] = set()
        self._grants: dict[str, Grant] = {}  # authorization code -> grant
        self._login_tokens: dict[str, Grant] = {}  # LINE Login access token -> grant
        self._reply_tokens: set[str] = set()
        self._accepted: dict[str, tuple[str, list[dict[str, str]]]] = {}  # retry key -> request id, sentMessages
        self._lock = threading.Lock()  # the server answers on many threads
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes: dict[tuple[str, str], Callable[[Call], Answer]] = {
            ("GET", AUTHORIZE_PATH): self.show_consent,
            ("POST", CONSENT_PATH): self.submit_consent,
            ("POST", "/oauth2/v2.1/token"): self.issue_tokens,
            ("POST", "/oauth2/v2.1/verify"): self.verify_id_token,
            ("GET", "/friendship/v1/status"): self.show_friendship,
            ("POST", "/v2/bot/message/push"): self.push_message,
            ("POST", "/v2/bot/message/reply"): self.reply_message,
        }

    # -- running --------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._server = _Server(self)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        serve = {"poll_interval": 0.01}  # stop() waits up to one poll
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs=serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> LinePlatform:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def handle(self, call: Call) -> Answer:
        """Answer one request; push and reply first wait ``delay_seconds``, as a slow platform would."""
        route = self._routes.get((call.method, call.path))
        if route is None:
            return json_answer(404, {"message": "Not found"})
        if call.path.startswith("/v2/bot/message/"):
            time.sleep(self.delay_seconds)
        try:
            with self._lock:
                return route(call)
        except Refusal as refusal:
            return refusal.answer

    def _take_failure(self) -> int:
        return self.fail_next.pop(0) if self.fail_next else 0

    # -- LINE Login: the consent screen ---------------------------------------------------------------------

    def authorization_problem(self, query: dict[str, str]) -> str:
        """Why LINE would refuse this authorization request, or "" when it would show the consent screen."""
        scope, prompt = query.get("scope", ""), query.get("bot_prompt")
        checks = [
            (
                query.get("response_type") == "code",
                f"response_type must be 'code', not {query.get('response_type')!r}.",
            ),
            (query.get("client_id") == self.channel_id, f"client_id {query.get('client_id')!r} is not this channel."),
            (bool(query.get("redirect_uri")), "redirect_uri is missing."),
            (bool(query.get("state")), "state is missing."),
            ("openid" in scope.split(), f"scope {scope!r} lacks 'openid'."),
            (bool(query.get("nonce")), "nonce is missing."),
            (bool(query.get("code_challenge")), "code_challenge is missing (PKCE)."),
            (query.get("code_challenge_method") == "S256", "code_challenge_method must be 'S256'."),
            (prompt is None or prompt in BOT_PROMPTS, f"bot_prompt {prompt!r} is not 'normal' or 'aggressive'."),
        ]
        return next((message for passed, message in checks if not passed), "")

    def _valid_query(self, query: dict[str, str]) -> dict[str, str]:
        if problem := self.authorization_problem(query):
            raise Refusal(text_answer(400, problem))
        return query

    def show_consent(self, call: Call) -> Answer:
        query = self._valid_query(call.query)
        self.authorizations.append(query)
        return text_answer(200, self.consent_page(query), "text/html; charset=utf-8")

    def consent_page(self, query: dict[str, str]) -> str:
        hidden = "".join(
            f'<input type=hidden name="{html.escape(name)}" value="{html.escape(value)}">'
            for name, value in query.items()
        )
        friend = (
            "<input type=checkbox name=friend id=friend checked>"
            "<label for=friend class=friend-option>友だち追加</label>"
        )
        return (
            '<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>LINE Login</title></head><body>'
            f'<form method="post" action="{CONSENT_PATH}">{hidden}'
            f'<p class="profile">{html.escape(self.display_name)}</p>'
            f"{friend if query.get('bot_prompt') in BOT_PROMPTS else ''}"
            "<button type=submit name=action value=allow>許可する</button>"
            "<button type=submit name=action value=cancel>キャンセル</button>"
            "</form></body></html>"
        )

    def submit_consent(self, call: Call) -> Answer:
        form = call.form()
        action, ticked = form.pop("action", ""), form.pop("friend", None) is not None
        query = self._valid_query(form)
        if action not in ("allow", "cancel"):
            raise Refusal(text_answer(400, f"action {action!r} is not 'allow' or 'cancel'."))
        location = self._grant(query, friend=ticked) if action == "allow" else self._denial(query)
        return Answer(302, b"", "text/plain", {"Location": location})

    def approve(self, authorize_url: str, *, friend: bool | None = None) -> str:
        """The callback URL the shopper's browser is sent to after pressing 「許可する」 on ``authorize_url``.

        ``friend`` is the 「友だち追加」 toggle, ``friend_added`` when not given.
        """
        query = self._authorize_query(authorize_url)
        with self._lock:
            self.authorizations.append(query)
            return self._grant(query, friend=self.friend_added if friend is None else friend)

    def deny(self, authorize_url: str) -> str:
        """The callback URL the shopper's browser is sent to after pressing 「キャンセル」 on ``authorize_url``."""
        query = self._authorize_query(authorize_url)
        with self._lock:
            self.authorizations.append(query)
        return self._denial(query)

    def _authorize_query(self, authorize_url: str) -> dict[str, str]:
        parts = urlsplit(authorize_url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        wrong_path = parts.path != AUTHORIZE_PATH
        if problem := f"the path is not {AUTHORIZE_PATH}." if wrong_path else self.authorization_problem(query):
            raise ValueError(f"LINE would refuse the authorization URL {authorize_url!r}: {problem}")
        return query

    def _grant(self, query: dict[str, str], *, friend: bool) -> str:
        code = secrets.token_urlsafe(15)
        fields = ("client_id", "redirect_uri", "nonce", "code_challenge", "scope")
        self._grants[code] = Grant(**{name: query[name] for name in fields}, user_id=self.user_id)
        params = {"code": code, "state": query["state"]}
        if query.get("bot_prompt") in BOT_PROMPTS:  # LINE reports the friendship only when it offered it
            changed = friend and self.user_id not in self.friends
            if friend:
                self.friends.add(self.user_id)
            params["friendship_status_changed"] = "true" if changed else "false"
        return with_query(query["redirect_uri"], params)

    def _denial(self, query: dict[str, str]) -> str:
        params = {"error": "access_denied", "error_description": DENIED, "state": query["state"]}
        return with_query(query["redirect_uri"], params)

    # -- LINE Login: the API --------------------------------------------------------------------------------

    def issue_tokens(self, call: Call) -> Answer:
        form = call.form()
        if call.headers.get("content-type", "").partition(";")[0].strip() != "application/x-www-form-urlencoded":
            raise oauth_error("invalid_request", "Content-Type must be application/x-www-form-urlencoded.")
        if form.get("grant_type") != "authorization_code":
            raise oauth_error("unsupported_grant_type", f"grant_type {form.get('grant_type')!r} is not supported.")
        if form.get("client_id") != self.channel_id or form.get("client_secret") != self.channel_secret:
            raise oauth_error("invalid_client", "invalid client_id or client_secret")
        if status := self._take_failure():
            raise oauth_error("server_error", failure_message(status), status)
        return json_answer(200, self._tokens(self._redeem(form)))

    def _redeem(self, form: dict[str, str]) -> Grant:
        """The grant behind the form's code, which is spent even when the exchange fails (no second guess)."""
        grant, verifier = self._grants.pop(form.get("code", ""), None), form.get("code_verifier", "")
        if grant is None:
            raise oauth_error("invalid_grant", "invalid authorization code")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise oauth_error("invalid_grant", "redirect_uri does not match")
        if not 43 <= len(verifier) <= 128 or pkce_challenge(verifier) != grant.code_challenge:
            raise oauth_error("invalid_grant", "invalid code_verifier")
        return grant

    def _tokens(self, grant: Grant) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": "https://access.line.me", "sub": grant.user_id, "aud": grant.client_id}
        claims |= {"exp": now + ID_TOKEN_LIFETIME, "iat": now, "nonce": grant.nonce, "amr": ["linesso"]}
        claims |= {"name": self.display_name, "picture": PICTURE, **self.id_token_overrides}
        access_token = secrets.token_urlsafe(32)
        self._login_tokens[access_token] = grant
        return {
            "access_token": access_token,
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "id_token": encode_jwt(claims, self.channel_secret),
            "refresh_token": secrets.token_urlsafe(32),
            "scope": grant.scope,
            "token_type": "Bearer",
        }

    def verify_id_token(self, call: Call) -> Answer:
        form = call.form()
        payload = decode_jwt(form.get("id_token", ""), self.channel_secret)
        if problem := self._id_token_problem(payload, form):
            raise oauth_error("invalid_request", problem)
        return json_answer(200, payload)

    @staticmethod
    def _id_token_problem(payload: dict[str, Any] | None, form: dict[str, str]) -> str:
        if payload is None:
            return "Invalid IdToken."
        if not isinstance(payload.get("exp"), int) or payload["exp"] <= time.time():
            return "IdToken expired."
        if payload.get("aud") != form.get("client_id"):
            return "Invalid IdToken Audience."
        if "nonce" in form and payload.get("nonce") != form["nonce"]:
            return "Invalid IdToken Nonce."
        if "user_id" in form and payload.get("sub") != form["user_id"]:
            return "Invalid IdToken Subject Identifier."
        return ""

    def show_friendship(self, call: Call) -> Answer:
        grant = self._login_tokens.get(call.bearer())
        if grant is None:
            raise api_error(401, "Authentication failed")
        if "profile" not in grant.scope.split():
            raise api_error(403, "Not allowed to use the API: the access token lacks the 'profile' scope.")
        return json_answer(200, {"friendFlag": grant.user_id in self.friends})

    # -- Messaging API --------------------------------------------------------------------------------------

    def _bot_body(self, call: Call) -> dict[str, Any]:
        """The JSON body of an authenticated Messaging API call whose messages LINE would accept."""
        if not hmac.compare_digest(call.bearer(), self.access_token):
            raise api_error(401, BAD_BOT_TOKEN)
        try:
            body = json.loads(call.body)
        except ValueError:
            raise api_error(400, "The request body could not be parsed as JSON") from None
        if not isinstance(body, dict):
            raise api_error(400, "The request body has 1 error(s)", [detail("Must be a JSON object", "")])
        if errors := message_errors(body.get("messages")):
            raise api_error(400, f"The request body has {len(errors)} error(s)", errors)
        return body

    def push_message(self, call: Call) -> Answer:
        body, retry_key = self._bot_body(call), call.headers.get("x-line-retry-key")
        if retry_key is not None and not RETRY_KEY.fullmatch(retry_key):
            raise api_error(400, "The value for the 'X-Line-Retry-Key' header is invalid")
        if not isinstance(body.get("to"), str) or not RECIPIENT.fullmatch(body["to"]):
            raise api_error(400, "The property, 'to', in the request body is invalid (line: -, column: -)")
        if status := self._take_failure():
            raise api_error(status, failure_message(status))
        if retry_key in self._accepted:
            request_id, sent = self._accepted[retry_key]
            answer = {"message": "The retry key is already accepted", "sentMessages": sent}
            return json_answer(409, answer, {"x-line-accepted-request-id": request_id})
        sent = sent_messages(body["messages"])
        if retry_key is not None:
            self._accepted[retry_key] = (call.request_id, sent)
        delivered = body["to"] in self.friends  # LINE accepts a push to a non-friend and drops it silently
        self.pushes.append(
            {"to": body["to"], "messages": body["messages"], "retry_key": retry_key, "delivered": delivered}
        )
        return json_answer(200, {"sentMessages": sent})

    def reply_message(self, call: Call) -> Answer:
        body = self._bot_body(call)
        if "x-line-retry-key" in call.headers:
            raise api_error(400, "The X-Line-Retry-Key header is not supported by this API")
        if status := self._take_failure():
            raise api_error(status, failure_message(status))
        token = body.get("replyToken")
        if not isinstance(token, str) or token not in self._reply_tokens:
            raise api_error(400, "Invalid reply token")
        self._reply_tokens.discard(token)
        self.replies.append({"replyToken": token, "messages": body["messages"]})
        return json_answer(200, {"sentMessages": sent_messages(body["messages"])})

    # -- webhooks the platform sends to the app -------------------------------------------------------------

    def message_event(self, text: str, *, user_id: str | None = None, redelivery: bool = False) -> dict[str, Any]:
        """A text message event from ``user_id`` (the shopper by default), with a usable reply token."""
        event = self._event("message", user_id, redelivery=redelivery, replyable=True)
        event["message"] = {"id": message_id(), "type": "text", "quoteToken": secrets.token_urlsafe(48), "text": text}
        return event

    def follow_event(self, *, user_id: str | None = None, unblocked: bool = False) -> dict[str, Any]:
        """The shopper adds the official account as a friend (or unblocks it): they become a friend."""
        event = self._event("follow", user_id, replyable=True)
        event["follow"] = {"isUnblocked": unblocked}
        with self._lock:
            self.friends.add(event["source"]["userId"])
        return event

    def unfollow_event(self, *, user_id: str | None = None) -> dict[str, Any]:
        """The shopper blocks the official account: no longer a friend, and nothing to reply to."""
        event = self._event("unfollow", user_id, replyable=False)
        with self._lock:
            self.friends.discard(event["source"]["userId"])
        return event

    def webhook_body(self, *events: dict[str, Any], destination: str = BOT_USER_ID) -> bytes:
        """The body LINE POSTs to the webhook URL: compact UTF-8 JSON, signed byte for byte."""
        return json.dumps({"destination": destination, "events": list(events)}, ensure_ascii=False).encode()

    def signature(self, body: bytes) -> str:
        """The ``x-line-signature`` LINE sends with ``body``: signed with the Messaging API channel's secret."""
        return sign(body, self.bot_secret)

    def _event(self, kind: str, user_id: str | None, *, redelivery: bool = False, replyable: bool) -> dict[str, Any]:
        event: dict[str, Any] = {"type": kind, "mode": "active", "timestamp": int(time.time() * 1000)}
        event["source"] = {"type": "user", "userId": user_id or self.user_id}
        event |= {"webhookEventId": ulid(), "deliveryContext": {"isRedelivery": redelivery}}
        if replyable:
            event["replyToken"] = secrets.token_hex(16)
            with self._lock:
                self._reply_tokens.add(event["replyToken"])
        return event


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        request_id, length = str(uuid.uuid4()), self.headers.get("Content-Length") or "0"
        if not length.isdigit():
            answer = json_answer(400, {"message": f"Content-Length {length!r} is not a number"})
        elif int(length) > MAX_BODY:
            self._discard(int(length))
            answer = json_answer(413, {"message": "Request Entity Too Large"})
        else:
            answer = self.server.platform.handle(self._call(self.rfile.read(int(length)), request_id))
        self._send(answer, request_id)

    def _call(self, body: bytes, request_id: str) -> Call:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in self.headers.items()}
        return Call(self.command, parts.path, query, headers, body, request_id)

    def _discard(self, length: int) -> None:
        """Read an oversized body away, so the client gets our 413 rather than a reset connection."""
        remaining = min(length, 16 * MAX_BODY)  # past 16 MB, let the connection drop
        while remaining > 0 and (chunk := self.rfile.read(min(65536, remaining))):
            remaining -= len(chunk)

    def _send(self, answer: Answer, request_id: str) -> None:
        self.send_response(answer.status)
        headers = {"Content-Type": answer.content_type, "Content-Length": str(len(answer.body)), **answer.headers}
        for name, value in {**headers, "x-line-request-id": request_id}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing: the test run's output belongs to the tests."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a request still sleeping in delay_seconds must not hold up stop()

    def __init__(self, platform: LinePlatform) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.platform = platform

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hung up (as one that timed out on ``delay_seconds`` does); report the rest."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

"""The few LINE Platform calls the quiz makes: LINE Login (token, ID token, friendship) and push/reply.

Blocking calls with a timeout, made from worker threads (handlers use ``run_in_threadpool``, the
push queue its own thread). The standard library's HTTP client is enough for five JSON calls, and
the base URLs come from the settings so tests talk to a local stand-in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from quiz.settings import Line, LineLogin

ISSUER = "https://access.line.me"
TIMEOUT = 10.0  # seconds per call; a slow LINE must not hold a shopper's page for long
LARGEST_ANSWER = 1024 * 1024  # bytes read from any LINE answer


class LineError(Exception):
    """LINE answered with an error, or did not answer; ``retry`` says whether trying later may help."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retry(self) -> bool:
        return self.status == 0 or self.status == 429 or self.status >= 500


@dataclass(frozen=True)
class Pkce:
    """RFC 7636: the verifier stays on the server, LINE sees only its SHA-256."""

    verifier: str
    challenge: str

    @classmethod
    def fresh(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)  # 64 characters, within RFC 7636's 43..128
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


@dataclass(frozen=True)
class LoginTokens:
    access_token: str
    id_token: str


class LineApi:
    def __init__(self, line: Line, *, timeout: float = TIMEOUT) -> None:
        self.line = line
        self.timeout = timeout

    @property
    def login(self) -> LineLogin:
        if self.line.login is None:
            raise LineError("no LINE Login channel is configured")
        return self.line.login

    def authorize_url(self, *, redirect_uri: str, state: str, nonce: str, challenge: str) -> str:
        """Where the shopper logs in; ``bot_prompt=aggressive`` offers to add the official account."""
        query = {
            "response_type": "code",
            "client_id": self.login.channel_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": "openid profile",
            "nonce": nonce,
            "bot_prompt": "aggressive",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.line.access_url}/oauth2/v2.1/authorize?{urllib.parse.urlencode(query)}"

    def exchange(self, code: str, *, redirect_uri: str, verifier: str) -> LoginTokens:
        answer = self._call(
            "POST",
            "/oauth2/v2.1/token",
            form={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": self.login.channel_id,
                "client_secret": self.login.channel_secret,
                "code_verifier": verifier,
            },
        )
        access, id_token = answer.get("access_token"), answer.get("id_token")
        if not isinstance(access, str) or not isinstance(id_token, str):
            raise LineError("LINE's token answer has no access_token or id_token", status=502)
        return LoginTokens(access, id_token)

    def verified_user(self, id_token: str, *, nonce: str) -> str:
        """The LINE user id in ``id_token``, once LINE vouches for it and it is ours, fresh and this login's."""
        claims = self._call(
            "POST",
            "/oauth2/v2.1/verify",
            form={"id_token": id_token, "client_id": self.login.channel_id, "nonce": nonce},
        )
        # LINE checks the signature; the rest is checked here as well, since a stand-in proxy could lie.
        problems = [
            "issuer" if claims.get("iss") != ISSUER else "",
            "audience" if str(claims.get("aud")) != self.login.channel_id else "",
            "expiry" if not isinstance(claims.get("exp"), int | float) or claims["exp"] <= time.time() else "",
            "nonce" if not nonce or not secrets.compare_digest(str(claims.get("nonce", "")), nonce) else "",
        ]
        subject = claims.get("sub")
        if any(problems) or not isinstance(subject, str) or not subject:
            raise LineError(f"the ID token failed: {', '.join(filter(None, problems)) or 'no subject'}", status=400)
        return subject

    def is_friend(self, access_token: str) -> bool:
        answer = self._call("GET", "/friendship/v1/status", bearer=access_token)
        return answer.get("friendFlag") is True

    def push(self, to: str, messages: list[dict[str, Any]], *, retry_key: str) -> None:
        """Send once: LINE answers 409 to a retry key it already accepted, which means "sent"."""
        try:
            self._call(
                "POST",
                "/v2/bot/message/push",
                body={"to": to, "messages": messages},
                bearer=self.line.access_token,
                headers={"X-Line-Retry-Key": retry_key},
            )
        except LineError as error:
            if error.status != 409:
                raise

    def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> None:
        body = {"replyToken": reply_token, "messages": messages}
        self._call("POST", "/v2/bot/message/reply", body=body, bearer=self.line.access_token)

    def _call(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        bearer: str = "",
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        base = self.line.access_url if path.endswith("/authorize") else self.line.api_url
        request = urllib.request.Request(f"{base}{path}", method=method, headers=dict(headers or {}))
        if form is not None:
            request.data = urllib.parse.urlencode(form).encode()
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        elif body is not None:
            request.data = json.dumps(body, ensure_ascii=False).encode()
            request.add_header("Content-Type", "application/json")
        if bearer:
            request.add_header("Authorization", f"Bearer {bearer}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return _json(answer.read(LARGEST_ANSWER))
        except urllib.error.HTTPError as error:
            with error:
                detail = _json(error.read(LARGEST_ANSWER))
            message = detail.get("error_description") or detail.get("message") or error.reason
            raise LineError(f"LINE answered {error.code} to {path}: {message}", status=error.code) from None
        except (OSError, ValueError) as error:  # refused, timed out, reset, or not JSON
            raise LineError(f"LINE did not answer {path}: {error}") from None


def _json(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}

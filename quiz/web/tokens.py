"""Progress tokens and signed links: a shopper's answers travel in the form, never in a cookie or server memory.

Progress tokens are encrypted, not only signed: on the no-JavaScript path and in step URLs they sit in
browser history, server logs and Referer headers, and a text answer may be a phone number. They are
sealed with AES-256-GCM-SIV (``cryptography``'s AEAD), a 12-byte random nonce, and the version byte
and the time of issue as authenticated data; each secret key gives its own AES key through HKDF, the
newest seals and every one opens. GCM-SIV, not plain GCM, because a repeated random nonce then
reveals only that two tokens are the same, never a key stream: a busy shop issues billions of
tokens. The previous version sealed with Fernet, whose pure-Python wrapping made reading and
writing a step's token 34 microseconds (13 now, with msgspec's JSON); its tokens, and the
signed-only ones before them, are still read until they expire. The links in emails name records,
not people, so they are only signed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet as FernetKey
from cryptography.fernet import InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from quiz.format.conditions import Answer

PROGRESS_SALT = "quiz.progress"
CONFIRM_SALT = "quiz.confirm"
UNSUBSCRIBE_SALT = "quiz.unsubscribe"
LINE_STATE_SALT = "quiz.line-state"
PREVIEW_SALT = "quiz.preview"
LINE_STATE_MAX_AGE = 10 * 60  # a LINE Login must come back within ten minutes
# 16 KiB of token carry 12,200 bytes of JSON: the most a quiz's answers may take (quiz.format.sizes,
# checked when a quiz is loaded) plus the longest page context, so no shopper outgrows it.
MAX_TOKEN_CHARS = 16 * 1024
SIGNED_ONLY = ("ey", ".")  # how the signed-only tokens of earlier versions begin (JSON, or "." when compressed)
FERNET = "gAAAAA"  # how the Fernet tokens of the previous version begin (version byte 0x80, then the time)
SEALED = b"\x02"  # the first byte of this version's tokens (base64 "A")
_JSON, _JSON_READER = msgspec.json.Encoder(), msgspec.json.Decoder()
_HEADER = struct.Struct(">cQ")  # version byte, then the time of issue in whole seconds
# What any progress token is written with (URL-safe base64, "." between a signed token's parts,
# "=" padding a client may add back): a token is put into pages as it is (``quiz.web.pages``).
TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9_.=-]*")
_NONCE_BYTES = 12
CONFIRM_MAX_AGE = 7 * 24 * 60 * 60  # a week to click the confirmation link
LEAD_STATES = ("", "sent", "confirm", "skipped")


class TokenError(ValueError):
    """A token that cannot be trusted; ``reason`` is one of tampered, expired, oversized, other_quiz."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Progress:
    """Where one shopper is in one quiz."""

    quiz_id: str
    current: str  # a question id, or "results"
    answers: dict[str, Answer | None] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)  # locale, product and page the quiz was opened from
    issued: float = field(default_factory=time.time)  # when this token was signed: the step's render time
    started: float = 0.0  # when the shopper pressed Start
    response: str = ""  # the stored response's id, once the quiz is completed
    lead: str = ""  # "" until the opt-in form was sent ("sent", or "confirm" if a link awaits) or "skipped"
    run: str = ""  # a random id per quiz run, for the funnel: ties a run's events together, names no person


class ProgressTokens:
    def __init__(self, secret_keys: Sequence[str], *, max_age: int) -> None:
        # The newest key (last) seals; every key opens, newest first: rotation as for the signed links.
        self._ciphers = [AESGCMSIV(derived_key(key, PROGRESS_SALT + ".sealed")) for key in reversed(secret_keys)]
        # Earlier versions' tokens are read for one token lifetime after an upgrade, so shoppers
        # mid-quiz keep their place; they are never issued.
        self._fernet = MultiFernet([derived_fernet(key, PROGRESS_SALT) for key in reversed(secret_keys)])
        self._signed_only = URLSafeTimedSerializer(list(secret_keys), salt=PROGRESS_SALT)
        self._max_age = max_age

    def dump(self, progress: Progress) -> str:
        payload = {
            "q": progress.quiz_id,
            "c": progress.current,
            "a": progress.answers,
            "x": progress.context,
            "s": progress.started,
            "r": progress.response,
            "o": progress.lead,
            "u": progress.run,
        }
        plain = _JSON.encode(payload)  # msgspec: a step's answers are text and finite numbers, as JSON has them
        header = _HEADER.pack(SEALED, int(time.time()))
        nonce = os.urandom(_NONCE_BYTES)
        sealed = header + nonce + self._ciphers[0].encrypt(nonce, plain, header)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")  # "=" is padding, restored when read

    def load(self, token: str, *, quiz_id: str) -> Progress:
        """The progress a token carries, for this quiz only; raises ``TokenError`` otherwise."""
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenError("oversized")
        if not TOKEN_CHARACTERS.fullmatch(token):  # base64 decoders skip what is not theirs: "<" would pass
            raise TokenError("tampered")
        if token.startswith(SIGNED_ONLY):
            payload, issued = self._signed_only_payload(token)
        else:
            payload, issued = self._fernet_payload(token) if token.startswith(FERNET) else self._opened(token)
            if not -60 <= time.time() - issued <= self._max_age:  # a minute of clock skew between machines
                raise TokenError("expired")
        progress = _progress(payload, issued)
        if progress.quiz_id != quiz_id:
            raise TokenError("other_quiz")
        return progress

    def _opened(self, token: str) -> tuple[Any, float]:
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:  # not base64, or not ASCII
            raise TokenError("tampered") from None
        header, nonce = sealed[: _HEADER.size], sealed[_HEADER.size : _HEADER.size + _NONCE_BYTES]
        if len(nonce) < _NONCE_BYTES or header[:1] != SEALED:
            raise TokenError("tampered")
        ciphertext = sealed[_HEADER.size + _NONCE_BYTES :]
        for cipher in self._ciphers:
            try:
                plain = cipher.decrypt(nonce, ciphertext, header)
            except InvalidTag:
                continue
            try:
                return _JSON_READER.decode(plain), float(_HEADER.unpack(header)[1])
            except msgspec.DecodeError:  # sealed by us, so never: but a token is no place for a traceback
                break
        raise TokenError("tampered")

    def _fernet_payload(self, token: str) -> tuple[Any, float]:
        padded = token + "=" * (-len(token) % 4)
        try:
            plain = self._fernet.decrypt(padded)
            issued = float(self._fernet.extract_timestamp(padded))
            payload = json.loads(plain)
        except (InvalidToken, ValueError, TypeError):  # TypeError: not ASCII; ValueError: not JSON
            raise TokenError("tampered") from None
        return payload, issued

    def _signed_only_payload(self, token: str) -> tuple[Any, float]:
        try:
            payload, issued = self._signed_only.loads(token, max_age=self._max_age, return_timestamp=True)
        except SignatureExpired:
            raise TokenError("expired") from None
        except BadSignature:
            raise TokenError("tampered") from None
        return payload, issued.timestamp()


def derived_key(secret_key: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose from one secret key: HKDF-SHA256, so purposes never share a key."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(secret_key.encode())


def derived_fernet(secret_key: str, purpose: str) -> FernetKey:
    """The previous version's Fernet key for one purpose (read only): HKDF-SHA256, as ``derived_key``."""
    return FernetKey(base64.urlsafe_b64encode(derived_key(secret_key, purpose)))


def _progress(payload: Any, issued: float) -> Progress:
    """Rebuild progress from a payload we signed ourselves, still checking its shape."""
    if not isinstance(payload, dict):
        raise TokenError("tampered")
    quiz_id, current, answers, context = (payload.get(key) for key in ("q", "c", "a", "x"))
    if not (isinstance(quiz_id, str) and isinstance(current, str)):
        raise TokenError("tampered")
    if not (isinstance(answers, dict) and isinstance(context, dict)):
        raise TokenError("tampered")
    if not all(isinstance(value, str) for value in context.values()):
        raise TokenError("tampered")
    started, response, lead = payload.get("s", 0.0), payload.get("r", ""), payload.get("o", "")
    run = payload.get("u", "")  # tokens signed before runs had ids carry none
    if not (isinstance(started, (int, float)) and isinstance(response, str) and lead in LEAD_STATES):
        raise TokenError("tampered")
    if not isinstance(run, str):
        raise TokenError("tampered")
    return Progress(quiz_id, current, answers, context, issued, float(started), response, lead, run)


class LinkTokens:
    """The signed links in emails, each kind with its own salt so one can never pass for another.

    They name records (a lead, a person), never an address: links get logged and forwarded.
    """

    def __init__(self, secret_keys: Sequence[str]) -> None:
        self._confirm = URLSafeTimedSerializer(list(secret_keys), salt=CONFIRM_SALT)
        self._unsubscribe = URLSafeTimedSerializer(list(secret_keys), salt=UNSUBSCRIBE_SALT)
        self._line_state = URLSafeTimedSerializer(list(secret_keys), salt=LINE_STATE_SALT)
        self._preview = URLSafeTimedSerializer(list(secret_keys), salt=PREVIEW_SALT)

    def preview_mark(self) -> str:
        """What the dashboard's preview puts in its quiz's address: runs carrying it are not counted.

        Short (about 40 characters), as it rides in every progress token of the run; it names no
        quiz, since only a signed-in user is ever given one.
        """
        return str(self._preview.dumps(0))

    def is_preview(self, mark: str) -> bool:
        try:
            # No expiry: a preview tab left open overnight is still the merchant's, not a shopper's.
            return bool(_loads(self._preview, mark, max_age=None) == 0)
        except TokenError:
            return False

    def confirm_token(self, lead_id: str, nonce: str) -> str:
        return str(self._confirm.dumps([lead_id, nonce]))

    def read_confirm(self, token: str) -> tuple[str, str]:
        """The lead and single-use nonce of a confirmation link (expires after ``CONFIRM_MAX_AGE``)."""
        payload = _loads(self._confirm, token, max_age=CONFIRM_MAX_AGE)
        if not (isinstance(payload, list) and len(payload) == 2 and all(isinstance(part, str) for part in payload)):
            raise TokenError("tampered")
        return payload[0], payload[1]

    def unsubscribe_token(self, person_id: str) -> str:
        return str(self._unsubscribe.dumps(person_id))

    def read_unsubscribe(self, token: str) -> str:
        """The person an unsubscribe link names; these never expire, as old emails must keep working."""
        payload = _loads(self._unsubscribe, token, max_age=None)
        if not isinstance(payload, str):
            raise TokenError("tampered")
        return payload

    def line_state(self, attempt: str) -> str:
        """LINE Login's ``state``: names the server's record of one login attempt, signed, for ten minutes."""
        return str(self._line_state.dumps(attempt))

    def read_line_state(self, token: str) -> str:
        payload = _loads(self._line_state, token, max_age=LINE_STATE_MAX_AGE)
        if not isinstance(payload, str):
            raise TokenError("tampered")
        return payload


def _loads(serializer: URLSafeTimedSerializer, token: str, *, max_age: int | None) -> Any:
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError("oversized")
    try:
        return serializer.loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError("expired") from None
    except BadSignature:
        raise TokenError("tampered") from None

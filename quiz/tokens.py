"""Signed progress tokens: a shopper's answers travel in the form, never in a cookie or server memory.

Signing is not encryption: a token carries answers and page context, never personal data.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from quiz.conditions import Answer

PROGRESS_SALT = "quiz.progress"
MAX_TOKEN_CHARS = 8 * 1024


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
    issued: float = field(default_factory=time.time)


class ProgressTokens:
    def __init__(self, secret_keys: Sequence[str], *, max_age: int) -> None:
        # itsdangerous signs with the last key and accepts every key: rotation, oldest first.
        self._serializer = URLSafeTimedSerializer(list(secret_keys), salt=PROGRESS_SALT)
        self._max_age = max_age

    def dump(self, progress: Progress) -> str:
        payload = {"q": progress.quiz_id, "c": progress.current, "a": progress.answers, "x": progress.context}
        return str(self._serializer.dumps(payload))

    def load(self, token: str, *, quiz_id: str) -> Progress:
        """The progress a token carries, for this quiz only; raises ``TokenError`` otherwise."""
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenError("oversized")
        try:
            payload, issued = self._serializer.loads(token, max_age=self._max_age, return_timestamp=True)
        except SignatureExpired:
            raise TokenError("expired") from None
        except BadSignature:
            raise TokenError("tampered") from None
        progress = _progress(payload, issued.timestamp())
        if progress.quiz_id != quiz_id:
            raise TokenError("other_quiz")
        return progress


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
    return Progress(quiz_id=quiz_id, current=current, answers=answers, context=context, issued=issued)

"""The server's errors. Each carries its HTTP status; one handler in ``app`` renders them all.

QuizError
├── QuizNotFound      404  no quiz has this id
└── BodyTooLarge      413  a request body over the configured limit
"""

from __future__ import annotations


class QuizError(Exception):
    status_code = 400
    message_key = "not_found_text"


class QuizNotFound(QuizError):
    status_code = 404

    def __init__(self, quiz_id: str) -> None:
        super().__init__(f"no quiz {quiz_id[:80]!r}")
        self.quiz_id = quiz_id


class BodyTooLarge(QuizError):
    status_code = 413
    message_key = "too_large"

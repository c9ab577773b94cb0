"""The server's errors. Each carries its HTTP status; one handler in ``app`` renders them all.

QuizError
├── QuizNotFound      404  no quiz has this id
└── ProductNotFound   404  the quiz has no product with this id

(Oversized bodies are refused with 413 by ``middleware.BodyLimit`` before any view runs.)
"""

from __future__ import annotations


class QuizError(Exception):
    status_code = 400


class QuizNotFound(QuizError):
    status_code = 404

    def __init__(self, quiz_id: str) -> None:
        super().__init__(f"no quiz {quiz_id[:80]!r}")
        self.quiz_id = quiz_id


class ProductNotFound(QuizError):
    status_code = 404

    def __init__(self, product_id: str) -> None:
        super().__init__(f"no product {product_id[:80]!r}")
        self.product_id = product_id

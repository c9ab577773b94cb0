"""The server's errors. Each carries its HTTP status and the words it shows; one handler renders them all.

QuizError                     400  the base
├── NotFound                  404  not_found: nothing here
│   ├── QuizNotFound               no quiz has this id
│   └── ProductNotFound            the quiz has no product with this id
├── LinkInvalid               400  link_invalid: a signed link that is forged, expired or already used
├── FormRefused               400  form_refused: a form no page of the quiz sends (too many fields, a file)
└── Unavailable               503  unavailable: nothing could be saved just now, and nothing was lost
    └── StoreError                 the store cannot be used as asked; the message says which file and why
        └── StoreLocked            another process is the writer of this data folder

``wording`` names the title and text a shopper reads (``quiz.web.wording``: ``<wording>_title``,
``<wording>_text``); ``quiz.web.failures`` renders them as a page, an htmx fragment or JSON. An
``OSError`` that reaches it (a full disk under a queue) is shown as ``Unavailable``. Oversized bodies
are refused with 413 by ``quiz.web.middleware.BodyLimit`` before any handler runs.
"""

from __future__ import annotations


class QuizError(Exception):
    status_code = 400
    wording = "not_found"
    transient = False  # trying again shortly can work: an htmx fragment keeps the shopper's step


class NotFound(QuizError):
    status_code = 404
    wording = "not_found"


class QuizNotFound(NotFound):
    def __init__(self, quiz_id: str) -> None:
        super().__init__(f"no quiz {quiz_id[:80]!r}")
        self.quiz_id = quiz_id


class ProductNotFound(NotFound):
    def __init__(self, product_id: str) -> None:
        super().__init__(f"no product {product_id[:80]!r}")
        self.product_id = product_id


class LinkInvalid(QuizError):
    status_code = 400
    wording = "link_invalid"


class FormRefused(QuizError):
    status_code = 400
    wording = "form_refused"


class Unavailable(QuizError):
    status_code = 503
    wording = "unavailable"
    transient = True


class StoreError(Unavailable):
    """The store cannot be used as asked; the message says which file or setting and why."""


class StoreLocked(StoreError):
    """Another process is the writer of this data folder."""

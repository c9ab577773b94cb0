"""Step pages rendered once and reused, with each shopper's progress token put in afterwards.

Rendering the templates was about two thirds of a question page's cost, and every shopper standing
at one question on one page sees the same HTML but for the token (a new one each time: it is
encrypted with a fresh nonce). So a step is rendered with a placeholder where the token goes, the
result is kept per quiz under everything the templates read (the step's own fields, the locale,
the allowed shop origins, the intro picture's address, the proxy prefix), and each request
replaces the placeholder with its token. The placeholder is made of random hex letters when the
process starts: no merchant text or shopper answer can contain it, and HTML escaping and URL
encoding leave it as it is, exactly as they leave a token (URL-safe base64).

The reused pages belong to the quiz object: an edited quiz is a new object and starts afresh. At
most ``PAGES_PER_QUIZ`` pages and ``CHARACTERS_PER_QUIZ`` characters (pages and keys) are kept per
quiz, the least recently used going first. A step that shows what a shopper typed back to them
(an answer or an address refused) is never kept: it could be any length, and is seldom seen twice.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import fields, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quiz.format.schema import Quiz
    from quiz.web.steps import Step

TOKEN_MARK = "quiz" + secrets.token_hex(16)
_PLAIN = re.compile(r"[A-Za-z0-9_.-]*").fullmatch  # escaped and URL-encoded, these stay as they are
PAGES_PER_QUIZ = 1_024  # a question's page is 3 to 8 kilobytes
CHARACTERS_PER_QUIZ = 16_000_000  # whatever the pages hold: a key repeats a shopper's answers
# The quiz owns the pages, the question is named by its id, and the token (and the address holding it) is put in.
_SKIPPED = ("quiz", "token", "url", "question")


class Pages:
    """One quiz's rendered pages, least recently used first."""

    def __init__(self) -> None:
        self._pages: OrderedDict[tuple[str, Hashable], str] = OrderedDict()
        self._characters = 0
        self._lock = threading.Lock()

    def page(self, key: tuple[str, Hashable], render: Callable[[], str]) -> str:
        """The page kept under ``key`` (its step's repr first), rendered now if none is."""
        with self._lock:
            found = self._pages.get(key)
            if found is not None:
                self._pages.move_to_end(key)
                return found
        made = render()
        with self._lock:
            if key not in self._pages:
                self._pages[key] = made
                self._characters += _size(key, made)
            while len(self._pages) > PAGES_PER_QUIZ or self._characters > CHARACTERS_PER_QUIZ:
                self._characters -= _size(*self._pages.popitem(last=False))
        return made


def _size(key: tuple[str, Hashable], page: str) -> int:
    return len(key[0]) + len(page)


def pages_of(quiz: Quiz) -> Pages:
    found = quiz.derived.get(Pages)
    if found is None:  # two requests racing here make two; one is kept, and the other is only not reused
        found = quiz.derived[Pages] = Pages()
    assert isinstance(found, Pages)
    return found


def reusable(step: Step) -> bool:
    """Whether the step's page may be kept: not one that shows what a shopper typed back to them (an
    answer or an address refused, any length), and only with a token HTML and URLs show as it is."""
    return (
        not step.error
        and not any(getattr(offer, "error", "") for offer in step.offers)
        and _PLAIN(step.token) is not None
    )


def with_mark(step: Step) -> Step:
    """The step as it is rendered for reuse: the placeholder for its token, and in its address."""
    url = step.url.replace(step.token, TOKEN_MARK) if step.url and step.token else step.url
    return replace(step, token=TOKEN_MARK, url=url)


def step_key(step: Step, *others: Hashable) -> tuple[str, Hashable]:
    """Everything of the step the templates read but the token, with ``others``.

    The step's values are plain data (text, numbers, lists, dicts, frozen dataclasses), whose
    ``repr`` tells apart whatever renders apart (``34`` from ``34.0``, ``"1"`` from ``1``) and is
    made in C, where walking them in Python cost a tenth of a results page. The question is named
    by its id: the quiz owns the pages.
    """
    values = [getattr(step, name) for name in _names(type(step))]
    return repr(values), (bool(step.url), step.question.id if step.question else None, others)


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(kind: type) -> tuple[str, ...]:
    """The fields of a step's class that go into its key (looked up once: ``fields`` is slow)."""
    names = _NAMES.get(kind)
    if names is None:
        names = _NAMES[kind] = tuple(field.name for field in fields(kind) if field.name not in _SKIPPED)
    return names

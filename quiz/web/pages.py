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
most ``PAGES_PER_QUIZ`` are kept per quiz, the least recently used going first.
"""

from __future__ import annotations

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
PAGES_PER_QUIZ = 1_024  # question pages are a few kilobytes: a few megabytes per quiz at most
# The quiz owns the pages, the question is named by its id, and the token (and the address holding it) is put in.
_SKIPPED = ("quiz", "token", "url", "question")


class Pages:
    """One quiz's rendered pages, least recently used first."""

    def __init__(self) -> None:
        self._pages: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, key: Hashable, render: Callable[[], str]) -> str:
        with self._lock:
            found = self._pages.get(key)
            if found is not None:
                self._pages.move_to_end(key)
                return found
        made = render()
        with self._lock:
            self._pages[key] = made
            if len(self._pages) > PAGES_PER_QUIZ:
                self._pages.popitem(last=False)
        return made


def pages_of(quiz: Quiz) -> Pages:
    found = quiz.derived.get(Pages)
    if found is None:  # two requests racing here make two; one is kept, and the other is only not reused
        found = quiz.derived[Pages] = Pages()
    assert isinstance(found, Pages)
    return found


def with_mark(step: Step) -> Step:
    """The step as it is rendered for reuse: the placeholder for its token, and in its address."""
    url = step.url.replace(step.token, TOKEN_MARK) if step.url and step.token else step.url
    return replace(step, token=TOKEN_MARK, url=url)


def step_key(step: Step, *others: Hashable) -> Hashable:
    """Everything of the step the templates read but the token, with ``others``.

    The step's values are plain data (text, numbers, lists, dicts, frozen dataclasses), whose
    ``repr`` tells apart whatever renders apart (``34`` from ``34.0``, ``"1"`` from ``1``) and is
    made in C, where walking them in Python cost a tenth of a results page. The question is named
    by its id: the quiz owns the pages.
    """
    values = [getattr(step, name) for name in _names(type(step))]
    return repr(values), bool(step.url), step.question.id if step.question else None, others


def _names(kind: type) -> tuple[str, ...]:
    """The fields of a step's class that go into its key (looked up once: ``fields`` is slow)."""
    names = _NAMES.get(kind)
    if names is None:
        names = _NAMES[kind] = tuple(field.name for field in fields(kind) if field.name not in _SKIPPED)
    return names


_NAMES: dict[type, tuple[str, ...]] = {}

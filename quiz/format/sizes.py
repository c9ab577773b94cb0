"""How large a shopper's answers to a quiz can grow, in bytes of the progress token's JSON.

Every answer travels in the progress token (``quiz.web.tokens``), which is encrypted, not compressed,
and has a size cap: a quiz whose answers could outgrow it would fail a shopper at the last questions.
So the worst case is counted when the quiz is checked, not met by a shopper.
"""

from __future__ import annotations

from quiz.format.questions import CHOICE_TYPES, NUMERIC_TYPES, Info, MultipleChoice, Question, ShortText

# What a token's answers may take; the page context and the rest of the token take at most about
# 4,700 bytes more, and 16 KiB of token carry 12,200 bytes of JSON.
ANSWERS_MAX_BYTES = 7_500
BYTES_PER_CHARACTER = 4  # UTF-8's longest; control characters, which JSON would escape to 6, are never kept
NUMBER_BYTES = 24  # the longest float JSON writes: -1.7976931348623157e+308


def answer_bytes(question: Question) -> int:
    """The most one question's answer adds to the answers' JSON: ``"id":value,``."""
    return len(question.id.encode()) + 4 + _value_bytes(question)


def _value_bytes(question: Question) -> int:
    if isinstance(question, Info):
        return 4  # null
    if isinstance(question, ShortText):
        return 2 + BYTES_PER_CHARACTER * question.max_length
    if isinstance(question, NUMERIC_TYPES):
        return NUMBER_BYTES
    assert isinstance(question, CHOICE_TYPES)
    lengths = sorted((len(option.id.encode()) + 3 for option in question.choices()), reverse=True)
    if isinstance(question, MultipleChoice):
        return 2 + sum(lengths[: question.most()])  # ["a","b"]: quotes and a comma per pick, and brackets
    return lengths[0]


def answers_bytes(questions: list[Question]) -> int:
    """The most every question's answer together adds: as if a shopper answered them all, at their longest."""
    return 2 + sum(answer_bytes(question) for question in questions)

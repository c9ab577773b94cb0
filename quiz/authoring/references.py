"""Checks that need the whole quiz: unique ids, references that resolve, branching without loops, answers that fit."""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterable, Iterator

from quiz.authoring.problems import Loc, Problem
from quiz.format.conditions import NUMERIC_OPERATORS, Condition, answer_tests
from quiz.format.products import ProductFilter
from quiz.format.questions import (
    CHOICE_TYPES,
    NUMERIC_TYPES,
    RESULTS,
    Effect,
    MultipleChoice,
    Question,
    ShortText,
)
from quiz.format.schema import Quiz
from quiz.format.sizes import ANSWERS_MAX_BYTES, answer_bytes, answers_bytes
from quiz.format.text import Text


def check_references(quiz: Quiz, *, limit: int | None = None) -> list[Problem]:
    """The cross-reference problems, each at the path of the bad reference: all, or the first ``limit``.

    With a limit the search stops there: each bad reference looks for the name it may have meant,
    and thousands of them would take seconds to list when only the first few are shown.
    """
    problems = list(_duplicate_ids(quiz))
    if problems:
        return problems[:limit]  # lookups by id are ambiguous until ids are unique
    found = itertools.chain(
        _branches(quiz), _effects(quiz), _locales(quiz), _cycles(quiz), _answers_fit(quiz), _has_products(quiz)
    )
    return list(itertools.islice(found, limit))


def _has_products(quiz: Quiz) -> Iterator[Problem]:
    if not quiz.products:
        yield Problem(("products",), "the quiz has no products to recommend; add products or a catalog")


def _duplicate_ids(quiz: Quiz) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, question in enumerate(quiz.questions):
        if question.id == RESULTS:
            yield Problem(("questions", index, "id"), f"{RESULTS!r} is reserved for the results screen")
        if question.id in seen:
            yield Problem(
                ("questions", index, "id"),
                f"duplicate question id {question.id!r}; questions[{seen[question.id]}] has it too",
            )
        seen.setdefault(question.id, index)
        option_ids: set[str] = set()
        for position, option in enumerate(getattr(question, "options", [])):
            if option.id in option_ids:
                yield Problem(("questions", index, "options", position, "id"), f"duplicate option id {option.id!r}")
            option_ids.add(option.id)
    products: set[str] = set()
    for index, product in enumerate(quiz.products):
        if product.id in products:
            yield Problem(("products", index, "id"), f"duplicate product id {product.id!r}")
        products.add(product.id)


def _answers_fit(quiz: Quiz) -> Iterator[Problem]:
    """A shopper's answers must fit their progress token, whatever they answer: else the quiz fails them late."""
    total = answers_bytes(quiz.questions)
    if total <= ANSWERS_MAX_BYTES:
        return
    index, largest = max(enumerate(quiz.questions), key=lambda item: answer_bytes(item[1]))
    hint = "lower its max_length" if isinstance(largest, ShortText) else "shorten its option ids or lower max"
    yield Problem(
        ("questions", index),
        f"the answers to this quiz can take {total:,} bytes, more than the {ANSWERS_MAX_BYTES:,} a shopper's"
        f" progress carries; the largest is {largest.id!r} ({answer_bytes(largest):,} bytes): {hint}"
        " (a text character counts as 4 bytes, the most UTF-8 takes)",
    )


def _branches(quiz: Quiz) -> Iterator[Problem]:
    for index, question in enumerate(quiz.questions):
        where: Loc = ("questions", index, "next")
        if isinstance(question.next, str):
            yield from _goto(quiz, question.next, where)
            continue
        for position, branch in enumerate(question.branches()):
            yield from _goto(quiz, branch.goto, (*where, position, "goto"))
            if branch.if_ is not None:
                yield from _condition(quiz, branch.if_, (*where, position, "if"))


def _goto(quiz: Quiz, target: str, where: Loc) -> Iterator[Problem]:
    if target != RESULTS and target not in quiz.question_index:
        yield Problem(where, f"no question {target!r}{_closest(target, quiz.question_index)}")


def _condition(quiz: Quiz, condition: Condition, where: Loc) -> Iterator[Problem]:
    for test in answer_tests(condition):
        if test.question not in quiz.question_index:
            yield Problem(where, f"no question {test.question!r}{_closest(test.question, quiz.question_index)}")
            continue
        yield from _operator_fits(quiz, quiz.question(test.question), test.operator(), where)


def _operator_fits(quiz: Quiz, question: Question, operator: tuple[str, object], where: Loc) -> Iterator[Problem]:
    name, value = operator
    kind = question.type
    if name in NUMERIC_OPERATORS and not isinstance(question, NUMERIC_TYPES):
        yield Problem(where, f"'{name}' compares numbers, but question {question.id!r} is a {kind} question")
    elif name == "includes" and not isinstance(question, MultipleChoice):
        yield Problem(where, f"'includes' is for multiple-choice answers; question {question.id!r} is {kind}")
    elif isinstance(question, NUMERIC_TYPES) and name in ("is", "in"):
        wanted = value if isinstance(value, list) else [value]
        if any(isinstance(item, str) for item in wanted):
            yield Problem(where, f"question {question.id!r} is answered with a number, so {value!r} never matches")
    elif kind == "info" and name != "answered":
        yield Problem(where, f"question {question.id!r} is an info slide and has no answer to test")
    elif isinstance(question, CHOICE_TYPES) and name in ("is", "in", "includes"):
        known = _option_ids(quiz, question)
        wanted = value if isinstance(value, list) else [value]
        for option_id in wanted:
            if option_id not in known:
                options = sorted(known)
                yield Problem(
                    where,
                    f"question {question.id!r} has no option {option_id!r}{_closest(str(option_id), options)}",
                )


def _option_ids(quiz: Quiz, question: Question) -> frozenset[str]:
    """Once per question, not once per condition: a large quiz tests the same question thousands of times."""
    key = ("option_ids", question.id)
    if key not in quiz.derived:
        quiz.derived[key] = frozenset(option.id for option in question.choices())
    known: frozenset[str] = quiz.derived[key]
    return known


def _effects(quiz: Quiz) -> Iterator[Problem]:
    for index, question in enumerate(quiz.questions):
        if isinstance(question, CHOICE_TYPES) and question.type != "yes_no":
            for position, option in enumerate(question.choices()):
                yield from _effect(quiz, option, ("questions", index, "options", position))
        elif question.type == "yes_no":
            for answer in ("yes", "no"):
                yield from _effect(quiz, getattr(question, answer), ("questions", index, answer))
    for index, rule in enumerate(quiz.scoring.rules):
        where: Loc = ("scoring", "rules", index)
        yield from _condition(quiz, rule.when, (*where, "when"))
        yield from _effect(quiz, rule, where)
    for index, product_id in enumerate(quiz.scoring.fallback):
        if product_id not in quiz.product_index:
            yield Problem(("scoring", "fallback", index), f"no product {product_id!r}")


def _effect(quiz: Quiz, effect: Effect, where: Loc) -> Iterator[Problem]:
    if effect.points is not None:
        for product_id in effect.points.products:
            if product_id not in quiz.product_index:
                found = _closest(product_id, quiz.product_index)
                yield Problem((*where, "points", "products", product_id), f"no product {product_id!r}{found}")
    for name in ("require", "exclude"):
        product_filter: ProductFilter | None = getattr(effect, name)
        for product_id in (product_filter.ids or []) if product_filter else []:
            if product_id not in quiz.product_index:
                yield Problem((*where, name, "ids"), f"no product {product_id!r}")


def _locales(quiz: Quiz) -> Iterator[Problem]:
    declared = set(quiz.all_locales())
    if quiz.locale not in declared:
        yield Problem(("locale",), f"the default locale {quiz.locale!r} is not among locales {quiz.locales}")
    for location, text in texts(quiz):
        if isinstance(text, dict):
            for locale in text:
                if locale not in declared:
                    yield Problem(
                        (*location, locale),
                        f"locale {locale!r} is not declared in 'locales' {sorted(declared)}",
                    )


def texts(quiz: Quiz) -> Iterator[tuple[Loc, Text]]:
    """Every shopper-facing text the merchant wrote, with its path."""
    yield from _texts_in(quiz.model_dump(by_alias=True, exclude_unset=True, exclude={"products"}), ())


_TEXT_KEYS = {
    "title", "intro", "help", "label", "description", "reason", "text", "empty_title", "empty_text",
    "fallback_reason", "cta", "min_label", "max_label", "unit", "placeholder", "yes_label", "no_label",
    "start_label",
}  # fmt: skip


def _texts_in(value: object, location: Loc) -> Iterator[tuple[Loc, Text]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _TEXT_KEYS and isinstance(item, str | dict) and _is_text(item):
                yield (*location, key), item
            else:
                yield from _texts_in(item, (*location, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts_in(item, (*location, index))


def _is_text(value: str | dict[str, object]) -> bool:
    return isinstance(value, str) or all(isinstance(item, str) for item in value.values())


def _cycles(quiz: Quiz) -> Iterator[Problem]:
    """Branching must always move towards the results, or a shopper could loop forever."""
    state: dict[str, str] = {}
    for question in quiz.questions:
        cycle = _find_cycle(quiz, question.id, state, [])
        if cycle:
            index = quiz.question_index[cycle[-2]]
            loop = " -> ".join(cycle)
            yield Problem(("questions", index, "next"), f"branching loops back: {loop}; a quiz must not repeat")
            return


def _find_cycle(quiz: Quiz, question_id: str, state: dict[str, str], trail: list[str]) -> list[str]:
    if state.get(question_id) == "done":
        return []
    if state.get(question_id) == "open":
        return [*trail[trail.index(question_id) :], question_id]
    state[question_id] = "open"
    for target in successors(quiz, question_id):
        cycle = _find_cycle(quiz, target, state, [*trail, question_id])
        if cycle:
            return cycle
    state[question_id] = "done"
    return []


def successors(quiz: Quiz, question_id: str) -> list[str]:
    """The questions that can follow one, whatever the answers (not the results screen)."""
    index = quiz.question_index[question_id]
    branches = quiz.questions[index].branches()
    targets = [branch.goto for branch in branches]
    if all(branch.if_ is not None for branch in branches) and index + 1 < len(quiz.questions):
        targets.append(quiz.questions[index + 1].id)
    return [target for target in dict.fromkeys(targets) if target in quiz.question_index]


def _closest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""

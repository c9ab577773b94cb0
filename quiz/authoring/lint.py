"""Logic mistakes a valid quiz can still contain, found by reading it and by playing it."""

from __future__ import annotations

from collections.abc import Iterator

from quiz.authoring.problems import Loc, Problem
from quiz.authoring.ranges import out_of_range
from quiz.authoring.references import successors, texts
from quiz.engine.scoring import points_for, ruled_out_by
from quiz.engine.simulate import Coverage, Path, simulate
from quiz.format.conditions import answer_tests
from quiz.format.questions import CHOICE_TYPES, Question
from quiz.format.richtext import INLINE_TAGS, tags_in, takes_markup
from quiz.format.schema import Quiz
from quiz.format.text import format_number, missing_locales

# Texts a shopper reads while answering or opting in: a plain string there is one language for
# everyone. Product titles are left alone, since brand names often are the same everywhere.
_QUESTION_TEXT_ROOTS = ("title", "intro", "start_label", "questions", "results", "lead_capture")


def lint(quiz: Quiz, *, coverage: Coverage | None = None) -> list[Problem]:
    """Warnings and errors, in the order a merchant would fix them."""
    coverage = coverage or simulate(quiz)
    problems: list[Problem] = []
    problems += _unreachable(quiz, coverage)
    problems += _dead_branches(quiz, coverage)
    problems += _unasked_conditions(quiz)
    problems += out_of_range(quiz)
    problems += _outcomes(quiz, coverage)
    problems += _deciding_answers(quiz, coverage)
    problems += _options_without_effect(quiz)
    problems += _unknown_tags(quiz)
    problems += _translations(quiz)
    problems += _consent(quiz)
    problems += _markup(quiz)
    return problems


def _warning(location: Loc, message: str) -> Problem:
    return Problem(location, message, "warning")


def _error(location: Loc, message: str) -> Problem:
    return Problem(location, message, "error")


def reachable(quiz: Quiz) -> list[str]:
    """Question ids some branching can lead to from the first question."""
    seen = [quiz.questions[0].id]
    for question_id in seen:
        seen.extend(target for target in successors(quiz, question_id) if target not in seen)
    return seen


def _unreachable(quiz: Quiz, coverage: Coverage) -> Iterator[Problem]:
    can_reach = set(reachable(quiz))
    for index, question in enumerate(quiz.questions):
        if question.id not in can_reach:
            yield _warning(("questions", index), f"no branch leads to question {question.id!r}; no shopper sees it")
        elif coverage.mode == "exhaustive" and question.id not in coverage.visited:
            yield _warning(("questions", index), f"no combination of answers leads to question {question.id!r}")


def _dead_branches(quiz: Quiz, coverage: Coverage) -> Iterator[Problem]:
    can_reach = set(reachable(quiz))
    for index, question in enumerate(quiz.questions):
        branches = question.branches()
        if question.id not in can_reach or not isinstance(question.next, list):
            continue
        for position, branch in enumerate(branches):
            where: Loc = ("questions", index, "next", position)
            if any(earlier.if_ is None for earlier in branches[:position]):
                yield _warning(where, "an earlier branch has no condition, so this branch is never taken")
            elif coverage.mode == "exhaustive" and (question.id, position) not in coverage.branches_taken:
                yield _warning(where, f"no combination of answers takes this branch to {branch.goto!r}")


def _unasked_conditions(quiz: Quiz) -> Iterator[Problem]:
    """A branch that tests a question no shopper can have answered by then never fires."""
    before = _asked_before(quiz)
    for index, question in enumerate(quiz.questions):
        for position, branch in enumerate(question.branches()):
            for test in answer_tests(branch.if_) if branch.if_ else []:
                if test.question != question.id and test.question not in before[question.id]:
                    yield _error(
                        ("questions", index, "next", position, "if"),
                        f"tests question {test.question!r}, which is never asked before {question.id!r}",
                    )


def _asked_before(quiz: Quiz) -> dict[str, set[str]]:
    """For each question, the questions that may have been answered on some path leading to it."""
    before: dict[str, set[str]] = {question.id: set() for question in quiz.questions}
    for question_id in _topological(quiz):
        for target in successors(quiz, question_id):
            before[target] |= before[question_id] | {question_id}
    return before


def _topological(quiz: Quiz) -> list[str]:
    order: list[str] = []
    done: set[str] = set()

    def visit(question_id: str) -> None:
        if question_id in done:
            return
        done.add(question_id)
        for target in successors(quiz, question_id):
            visit(target)
        order.append(question_id)

    for question in quiz.questions:
        visit(question.id)
    return order[::-1]


def _outcomes(quiz: Quiz, coverage: Coverage) -> Iterator[Problem]:
    scope = "any answer path" if coverage.mode == "exhaustive" else f"any of {coverage.paths} sampled answer paths"
    hidden = quiz.scoring.out_of_stock == "hide"
    for product_id in coverage.never:
        index = next(i for i, product in enumerate(quiz.products) if product.id == product_id)
        if hidden and not quiz.product_index[product_id].in_stock:
            message = f"product {product_id!r} is out of stock, so it is hidden (scoring.out_of_stock is 'hide')"
        else:
            message = f"product {product_id!r} is not recommended on {scope}"
        yield _warning(("products", index), message)
    if coverage.empty_paths:
        yield _error(("scoring",), _nothing_shown(quiz, coverage))
    if coverage.short_paths:
        yield _warning(
            ("scoring", "count"),
            f"{coverage.short_paths} of {coverage.paths} answer paths show fewer than the {quiz.scoring.count} "
            f"products scoring.count asks for, e.g. {_describe(coverage.examples['short'])}: {coverage.short_reason}",
        )
    if coverage.fallback_paths:
        yield _warning(
            ("scoring", "fallback"),
            f"{coverage.fallback_paths} of {coverage.paths} answer paths match no product and show the fallback, "
            f"e.g. {_describe(coverage.examples['fallback'])}",
        )
    if coverage.tie_paths:
        yield _warning(
            ("scoring", "tie_break"),
            f"on {coverage.tie_paths} of {coverage.paths} answer paths results tie on score and every "
            f"tie-break, so only the product id orders them, e.g. {_describe(coverage.examples['tie'])}: "
            f"{_quoted(coverage.tied_products)}; give one a higher priority, or add a tie_break",
        )


def _deciding_answers(quiz: Quiz, coverage: Coverage) -> Iterator[Problem]:
    """An option whose points alone settle the first result, whatever the shopper answers elsewhere.

    Only where the other answers do matter (with another option, the first result changes with
    them, and other questions give points to other products) and the product is not first on every
    path anyway: then the weight is the cause.
    """
    others_matter = {question for (question, _), outcome in coverage.by_answer.items() if len(outcome.tops) > 1}
    for index, question in enumerate(quiz.questions):
        if not isinstance(question, CHOICE_TYPES) or not others_matter - {question.id}:
            continue
        for position, option in enumerate(question.choices()):
            outcome = coverage.by_answer.get((question.id, option.id))
            if outcome is None or outcome.paths < 2 or len(outcome.tops) != 1 or option.require is not None:
                continue
            (top,) = outcome.tops
            weight = points_for(option, quiz.product_index[top])
            if weight <= 0 or coverage.tops[top] == sum(coverage.tops.values()):
                continue
            if not _others_favour_another(quiz, question.id, top):
                continue  # nothing else asked gives points elsewhere: nothing for this answer to outweigh
            where = option.id if question.type == "yes_no" else position
            location: Loc = ("questions", index, *(("options", where) if question.type != "yes_no" else (where,)))
            yield _warning(
                location,
                f"option {option.id!r} of {question.id!r} decides the first result alone: all {outcome.paths} "
                f"answer paths with it show {top!r} first, at least {format_number(outcome.lead)} points ahead, "
                f"whatever else is answered (its points for {top!r}: {format_number(weight)}). If that is meant, "
                "say it with a hard rule (require); if not, lower the weight",
            )


def _others_favour_another(quiz: Quiz, question_id: str, top: str) -> bool:
    """Whether another question has an answer giving points to a product other than ``top``."""
    for question in quiz.questions:
        if question.id == question_id or not isinstance(question, CHOICE_TYPES):
            continue
        for option in question.choices():
            points = option.points
            if points is None:
                continue
            if any(weight > 0 and pid != top for pid, weight in points.products.items()):
                return True
            if any(weight > 0 and set(quiz.tag_index.get(tag, ())) - {top} for tag, weight in points.tags.items()):
                return True
    return False


def _nothing_shown(quiz: Quiz, coverage: Coverage) -> str:
    """The error for paths with no product, saying why the fallback does not save them when there is one."""
    example = coverage.examples["empty"]
    head = f"{coverage.empty_paths} of {coverage.paths} answer paths show no product at all, e.g. {_describe(example)}"
    fallback = quiz.scoring.fallback
    if not fallback:
        return f"{head}; add products for them or a scoring.fallback"
    why = "; ".join(f"{pid!r}: {ruled_out_by(quiz, example, pid) or 'not shown'}" for pid in fallback)
    return f"{head}. The fallback is ruled out there by the same rules ({why}): add a fallback product they keep"


def _quoted(ids: list[str]) -> str:
    return ", ".join(repr(pid) for pid in ids)


def _describe(path: Path) -> str:
    parts = []
    for question_id, answer in path.items():
        if answer is None:
            continue
        if isinstance(answer, list):
            shown = ",".join(answer)
        else:
            shown = format_number(answer) if isinstance(answer, float) else answer
        parts.append(f"{question_id}={shown or '(none)'}")
    return " ".join(parts) or "(no answers)"


def _options_without_effect(quiz: Quiz) -> Iterator[Problem]:
    tested = _tested_options(quiz)
    for index, question in enumerate(quiz.questions):
        if not isinstance(question, CHOICE_TYPES) or question.type == "yes_no":
            continue
        idle = [
            position
            for position, option in enumerate(question.choices())
            if not option.changes_scoring() and (question.id, option.id) not in tested
        ]
        if len(idle) == len(question.choices()):
            yield _warning(
                ("questions", index),
                f"no option of {question.id!r} affects scoring or branching (fine if it only collects preferences)",
            )
            continue
        for position in idle:
            option_id = question.choices()[position].id
            yield _warning(
                ("questions", index, "options", position),
                f"option {option_id!r} affects neither scoring nor branching, unlike the other options",
            )


def _tested_options(quiz: Quiz) -> set[tuple[str, str]]:
    tested: set[tuple[str, str]] = set()
    for condition in quiz.conditions():
        for test in answer_tests(condition):
            _, value = test.operator()
            for item in value if isinstance(value, list) else [value]:
                tested.add((test.question, str(item)))
    return tested


def _unknown_tags(quiz: Quiz) -> Iterator[Problem]:
    known = set(quiz.tag_index)
    for location, tags in _tags_used(quiz):
        for tag in tags:
            if tag not in known:
                yield _warning(location, f"no product has the tag {tag!r}; is it a typo?")


def _tags_used(quiz: Quiz) -> Iterator[tuple[Loc, list[str]]]:
    for index, question in enumerate(quiz.questions):
        for name, effect in _effects_of(question):
            yield from _effect_tags(("questions", index, *name), effect)
    for index, rule in enumerate(quiz.scoring.rules):
        yield from _effect_tags(("scoring", "rules", index), rule)


def _effects_of(question: Question) -> Iterator[tuple[Loc, object]]:
    if question.type == "yes_no":
        yield ("yes",), question.yes
        yield ("no",), question.no
    elif isinstance(question, CHOICE_TYPES):
        for position, option in enumerate(question.choices()):
            yield ("options", position), option


def _effect_tags(where: Loc, effect: object) -> Iterator[tuple[Loc, list[str]]]:
    points = getattr(effect, "points", None)
    if points is not None and points.tags:
        yield (*where, "points", "tags"), list(points.tags)
    for name in ("require", "exclude"):
        product_filter = getattr(effect, name, None)
        if product_filter is None:
            continue
        for field_name in ("tags_any", "tags_all", "tags_none"):
            tags = getattr(product_filter, field_name)
            if tags:
                yield (*where, name, field_name), tags


def _translations(quiz: Quiz) -> Iterator[Problem]:
    locales = quiz.all_locales()
    if len(locales) < 2:
        return
    for index, product in enumerate(quiz.products):
        for name in ("title", "description", "reason"):
            text = getattr(product, name)
            missing = missing_locales(text, locales) if text is not None else []
            if missing:
                yield _warning(("products", index, name), f"no {', '.join(missing)} translation")
    for location, text in texts(quiz):
        missing = missing_locales(text, locales)
        if missing:
            yield _warning(location, f"no {', '.join(missing)} translation (declared in 'locales')")
        elif isinstance(text, str) and location[0] in _QUESTION_TEXT_ROOTS and location[-1] != "reason":
            yield _warning(location, f"{text[:40]!r} is one string for every locale; translate it per locale")


def _consent(quiz: Quiz) -> Iterator[Problem]:
    capture = quiz.lead_capture
    if capture is None:
        return
    if "line" in capture.channels and capture.line_consent is None:
        yield _warning(("lead_capture",), "the LINE channel is on but 'line_consent' is missing")
    if capture.required and capture.placement == "after_results":
        yield _warning(("lead_capture", "required"), "'required' only gates results when placement is before_results")


def _markup(quiz: Quiz) -> Iterator[Problem]:
    """HTML the shopper will not see as the merchant meant it: dropped tags, or tags shown as text."""
    for location, text in texts(quiz):
        tags = tags_in(" ".join(text.values()) if isinstance(text, dict) else text)
        if takes_markup(location):
            if tags - INLINE_TAGS:
                message = f"{_names(tags - INLINE_TAGS)} will be removed; allowed here: {_names(INLINE_TAGS)}"
                yield _warning(location, message)
        elif tags:
            yield _warning(
                location, f"{_names(tags)} will be shown as typed: only intro, help and results texts take HTML"
            )


def _names(tags: set[str]) -> str:
    return ", ".join(f"<{tag}>" for tag in sorted(tags))

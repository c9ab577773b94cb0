"""Problems found in a merchant's file, located by line and column, and pydantic errors turned into them."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from quiz.authoring.positions import Positions
from quiz.format.products import CURRENCY_PATTERN, PRODUCT_ID_PATTERN, SLUG_PATTERN, URL_PATTERN
from quiz.format.schema import COLOUR_PATTERN, FONT_PATTERN, ORIGIN_PATTERN
from quiz.format.text import LOCALE_PATTERN

Severity = Literal["error", "warning"]
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where (a data path, then a line and column) and what."""

    location: Loc
    message: str
    severity: Severity = "error"
    file: str = ""
    line: int = 1
    column: int = 1

    @property
    def path(self) -> str:
        return dotted(self.location)

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``: every field a program needs, the path as ``render`` writes it."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "severity": self.severity,
            "message": self.message,
        }

    def render(self, *, with_severity: bool = False) -> str:
        head = f"{self.file}:{self.line}:{self.column}: "
        if with_severity:
            head += f"{self.severity}: "
        if self.location:
            head += f"{self.path}: "
        return head + self.message


def dotted(location: Loc) -> str:
    """``("questions", 2, "next")`` -> ``questions[2].next``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def locate(problems: Iterable[Problem], source: str, file: str) -> list[Problem]:
    """Give each problem the line and column of the value (or key) its path names in ``source``."""
    problems = list(problems)
    positions = Positions(source, [problem.location for problem in problems])
    located = []
    for problem in problems:
        line, column = positions.line_column(problem.location)
        located.append(replace(problem, file=file, line=line, column=column))
    return sorted(located, key=lambda problem: (problem.line, problem.column))


def from_validation_error(error: ValidationError, data: Any, *, prefix: Loc = ()) -> list[Problem]:
    """One readable problem per real mistake: union-member noise is dropped, paths follow the data."""
    found: list[tuple[Loc, str, str]] = []
    for detail in error.errors(include_url=False):
        kind = detail["type"]
        location = _data_location(data, detail["loc"], names_key=kind in ("missing", "extra_forbidden"))
        if kind == "union_tag_invalid":
            location = (*location, detail["ctx"]["discriminator"].strip("'"))
        found.append((location, kind, _message(detail)))
    problems: dict[Loc, list[tuple[str, str]]] = {}
    for location, kind, message in found:
        if _is_type_error(kind) and any(_extends(other, location) for other, _, _ in found):
            continue  # the value was meant as another member of a union, which reports the real mistake
        problems.setdefault(prefix + location, []).append((kind, message))
    return [Problem(location, _merge(messages)) for location, messages in problems.items()]


def _is_type_error(kind: str) -> bool:
    return kind.endswith(("_type", "_parsing")) or kind == "model_attributes_type"


def _extends(longer: Loc, shorter: Loc) -> bool:
    return len(longer) > len(shorter) and longer[: len(shorter)] == shorter


def _data_location(data: Any, loc: Sequence[str | int], *, names_key: bool) -> Loc:
    """Follow a pydantic location through the data, skipping union tags that are not keys."""
    path: list[str | int] = []
    current = data
    for index, part in enumerate(loc):
        if _has(current, part):
            current = current[part]
            path.append(part)
        elif names_key and index == len(loc) - 1:
            path.append(part)  # a missing or unknown key: name it
    return tuple(path)


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _merge(messages: list[tuple[str, str]]) -> str:
    if len(messages) > 1 and all(_is_type_error(kind) for kind, _ in messages):
        wanted = " or ".join(dict.fromkeys(_expected(text) for _, text in messages))
        return f"expected {wanted}, got {messages[0][1].rpartition(', got ')[2]}"
    return "; ".join(dict.fromkeys(text for _, text in messages))


def _expected(text: str) -> str:
    return text.removeprefix("expected ").rpartition(", got")[0]


def _message(detail: Any) -> str:
    kind: str = detail["type"]
    value = detail.get("input")
    msg: str = detail["msg"]
    if kind == "extra_forbidden":
        return f"unknown key {str(detail['loc'][-1])!r}{_suggestion(str(detail['loc'][-1]))}"
    if kind == "missing":
        return f"{str(detail['loc'][-1])!r} is required"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "union_tag_invalid":
        context = detail["ctx"]
        return (
            f"{context['tag']!r} is not a valid {context['discriminator']}; expected one of {context['expected_tags']}"
        )
    if kind == "union_tag_not_found":
        return f"{detail['ctx']['discriminator']} is required"
    if kind == "string_pattern_mismatch":
        pattern = detail["ctx"]["pattern"]
        return f"{_show(value)} is not valid: {PATTERN_HELP.get(pattern, 'it must match ' + pattern)}"
    if _is_type_error(kind):
        wanted = msg.removeprefix("Input should be ").removeprefix("a valid ").split(",")[0]
        wanted = _JSON_WORDS.get(wanted, wanted)
        return f"expected {wanted}, got {_show(value)}"
    text = _lower_first(msg.removeprefix("Input "))
    return text if ", got " in text else f"{text}, got {_show(value)}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _show(value: Any) -> str:
    text: str = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# What each pattern of the format asks for, in words a merchant can act on.
PATTERN_HELP = {
    SLUG_PATTERN: "use lowercase letters, digits, '-' and '_' (like 'skin-type')",
    PRODUCT_ID_PATTERN: "use letters, digits, '.', '-' and '_'",
    CURRENCY_PATTERN: "use a three-letter ISO 4217 code such as 'USD' or 'JPY'",
    URL_PATTERN: "use an absolute http(s) URL or a path starting with '/', without spaces or quotes",
    LOCALE_PATTERN: "use a language tag such as 'en', 'ja' or 'ja-JP'",
    COLOUR_PATTERN: "use a colour like '#2F6FEB'",
    FONT_PATTERN: "use font names, commas, spaces, quotes and '-' only",
    ORIGIN_PATTERN: "use an origin like 'https://shop.example.com' (no path, no trailing slash)",
}
# pydantic speaks Python; merchants write JSON.
_JSON_WORDS = {"dictionary": "an object", "list": "a list", "string": "a string", "number": "a number",
               "integer": "a whole number", "boolean": "true or false"}  # fmt: skip
_FIELD_NAMES: set[str] = set()


def remember_field_names(*models: type[BaseModel]) -> None:
    """Teach typo suggestions every key of the format."""
    seen: set[type[BaseModel]] = set()
    pending = list(models)
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            _FIELD_NAMES.add(field.alias or name)
            pending.extend(_models_in(field.annotation))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _suggestion(key: str) -> str:
    close = difflib.get_close_matches(key, sorted(_FIELD_NAMES - {key}), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""

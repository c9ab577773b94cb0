"""Reading a quiz file from disk: limits, JSON, migrations, catalog, model and reference checks.

Nothing a merchant writes may crash it: every failure becomes a located ``Problem``.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path, PureWindowsPath
from typing import Any

from pydantic import ValidationError

from quiz.authoring.catalog import MAX_CATALOG_BYTES, Catalog, read_catalog
from quiz.authoring.problems import Problem, from_validation_error, locate, remember_field_names
from quiz.authoring.references import check_references
from quiz.format.migrations import MigrationError, migrate
from quiz.format.schema import Quiz
from quiz.format.text import without_controls

MAX_QUIZ_BYTES = 1024 * 1024  # 1 MiB: larger catalogs go in a catalog file (README, "Limits": kept under a second)
MAX_DEPTH = 40
MAX_PROBLEMS = 100  # shown per file
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")
remember_field_names(Quiz)


@dataclass
class Loaded:
    """A quiz file's outcome: the quiz when it is valid, and every problem found."""

    file: str
    quiz: Quiz | None = None
    problems: list[Problem] = field(default_factory=list)
    source: str = ""
    catalog: Catalog | None = None
    catalog_path: Path | None = None  # the catalog the quiz names, read or not: what the server watches
    inline_products: int = 0

    def locate(self, problems: list[Problem], *, counted: bool = True) -> list[Problem]:
        """Line and column for each problem: in the quiz file, or in the catalog for its products.

        Only the first ``MAX_PROBLEMS`` are shown, and a last line counts the rest: a generated file
        with a mistake in every product would otherwise print tens of thousands of lines, and take
        seconds to locate, for one fix to make.
        """
        in_quiz, in_catalog = [], []
        for problem in problems[:MAX_PROBLEMS]:
            index = self._catalog_index(problem)
            if index is None:
                in_quiz.append(problem)
            else:
                assert self.catalog is not None
                line = self.catalog.lines[index]
                in_catalog.append(replace(problem, file=self.catalog.file, line=line, column=1))
        located = locate(in_quiz, self.source, self.file) + in_catalog
        return _counting_the_rest(located, problems, self.file, counted=counted)

    def _catalog_index(self, problem: Problem) -> int | None:
        location = problem.location
        if self.catalog is None or len(location) < 2 or location[0] != "products":
            return None
        index = location[1]
        if not isinstance(index, int) or index < self.inline_products:
            return None
        return index - self.inline_products


def _counting_the_rest(shown: list[Problem], found: list[Problem], file: str, *, counted: bool = True) -> list[Problem]:
    """``shown`` and, when ``found`` had more, a last line saying so (how many, if they were all counted)."""
    if len(found) <= MAX_PROBLEMS:
        return shown
    more = f"{len(found) - MAX_PROBLEMS:,} more problems" if counted else "More problems"
    return [*shown, Problem((), f"{more} not shown; fix these and validate again", file=file)]


def load_quiz(path: str | Path) -> Loaded:
    """Read, migrate and validate one quiz file."""
    path = Path(path)
    loaded = Loaded(file=str(path))
    text = _read_text(path, MAX_QUIZ_BYTES, loaded.problems)
    if text is None:
        return loaded
    return parse_quiz(text, file=str(path), base_dir=path.parent)


def parse_quiz(text: str, *, file: str = "<quiz>", base_dir: Path | None = None) -> Loaded:
    """Validate a quiz document given as text; catalogs are read relative to ``base_dir``."""
    loaded = Loaded(file=file, source=text)
    data = _parse_json(text, file, loaded.problems)
    if data is None:
        return loaded
    try:
        document = migrate(data)
    except MigrationError as error:
        loaded.problems = loaded.locate([Problem(("version",), str(error))])
        return loaded
    name = document.get("catalog") if isinstance(document, dict) else None
    if isinstance(name, str) and name.strip() and base_dir is not None:
        loaded.catalog_path = base_dir / name
    loaded.catalog = _read_catalog_of(document, base_dir, loaded.problems)
    if loaded.problems:
        found = loaded.problems  # the catalog's are located in it already
        shown = [problem if problem.file else loaded.locate([problem])[0] for problem in found[:MAX_PROBLEMS]]
        loaded.problems = _counting_the_rest(shown, found, file)
        return loaded
    inline = document.get("products", [])
    if loaded.catalog is not None and isinstance(inline, list):
        loaded.inline_products = len(inline)
        document = {**document, "products": [*inline, *loaded.catalog.products]}
    try:
        quiz = Quiz.model_validate(document)
    except ValidationError as error:
        loaded.problems = loaded.locate(from_validation_error(error, document))
        return loaded
    problems = check_references(quiz, limit=MAX_PROBLEMS + 1)  # one more tells that there are more
    if problems:
        loaded.problems = loaded.locate(problems, counted=len(problems) <= MAX_PROBLEMS)
        return loaded
    loaded.quiz = quiz
    return loaded


def _read_text(path: Path, limit: int, problems: list[Problem]) -> str | None:
    """The file's text, or None with a problem: never blocks, never reads more than ``limit`` bytes.

    Opened without blocking and checked to be a regular file once open: a FIFO, a device or a
    folder named like a quiz would otherwise hang the loader (and with it every request) forever.
    """
    try:
        raw = _read_regular(path, limit)
    except _NotRegular as refusal:
        problems.append(Problem((), str(refusal), file=str(path)))
        return None
    except OSError as error:
        problems.append(Problem((), f"cannot read the file: {error.strerror or error}", file=str(path)))
        return None
    try:
        return raw.decode("utf-8-sig")  # editors on Windows may start the file with a BOM: accept it
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        problems.append(
            Problem((), "the file is not UTF-8 text; save it as UTF-8", file=str(path), line=line, column=column)
        )
        return None


class _NotRegular(ValueError):
    """A path that is not a plain file of a readable size; the message says what it is instead."""


def _read_regular(path: Path, limit: int) -> bytes:
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    found = os.fstat(descriptor)
    if not stat.S_ISREG(found.st_mode):
        os.close(descriptor)
        raise _NotRegular(f"not a regular file ({_kind(found.st_mode)}); a quiz or catalog is a plain file")
    with os.fdopen(descriptor, "rb") as opened:
        if found.st_size > limit:
            raise _NotRegular(f"the file is {found.st_size:,} bytes; the limit is {limit:,}")
        raw = opened.read(limit + 1)
    if len(raw) > limit:  # grew since fstat
        raise _NotRegular(f"the file is over {limit:,} bytes; the limit is {limit:,}")
    return raw


def _kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a named pipe", stat.S_ISSOCK: "a socket"}
    kinds |= {stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device"}
    return next((name for test, name in kinds.items() if test(mode)), "not a file")


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key!r} appears twice in one object; the second would silently win")
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _position_of_second(text: str, key: str) -> tuple[int, int]:
    """Roughly where a repeated key is written again: the JSON parser does not say."""
    spots = [match.start() for match in re.finditer(re.escape(json.dumps(key)) + r"\s*:", text)]
    offset = spots[1] if len(spots) > 1 else 0
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _trailing_comma_hint(text: str, position: int) -> str:
    before = text[:position].rstrip()
    return " (is there a comma after the last item?)" if before.endswith(",") else ""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_json(text: str, file: str, problems: list[Problem]) -> Any:
    text = text.removeprefix("\ufeff")
    depth = _max_depth(text)
    if depth > MAX_DEPTH:
        problems.append(Problem((), f"the JSON nests {depth} levels deep; the limit is {MAX_DEPTH}", file=file))
        return None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        message = f"not valid JSON: {error.msg}{_trailing_comma_hint(text, error.pos)}"
        problems.append(Problem((), message, file=file, line=error.lineno, column=error.colno))
        return None
    except _DuplicateKey as error:
        line, column = _position_of_second(text, error.key)
        problems.append(Problem((), str(error), file=file, line=line, column=column))
        return None
    except ValueError as error:
        problems.append(Problem((), str(error), file=file))
        return None
    if not isinstance(data, dict):
        problems.append(Problem((), f"a quiz is a JSON object, got {type(data).__name__}", file=file))
        return None
    return data


def _max_depth(text: str) -> int:
    """How deeply brackets nest, ignoring strings: checked before parsing so nothing recurses away."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _read_catalog_of(document: dict[str, Any], base_dir: Path | None, problems: list[Problem]) -> Catalog | None:
    name = document.get("catalog")
    if not isinstance(name, str) or base_dir is None:
        return None  # the model reports a wrong type; without a folder there is nothing to read
    path = _catalog_path(name, base_dir, problems)
    if path is None:
        return None
    text = _read_text(path, MAX_CATALOG_BYTES, problems)
    if text is None:
        return None
    catalog = read_catalog(text, file=str(base_dir / name))
    problems.extend(catalog.problems)
    return catalog


def _catalog_path(name: str, base_dir: Path, problems: list[Problem]) -> Path | None:
    """Where the catalog ``name`` is, checked before anything opens it: inside the quiz's folder, as written."""
    shown = repr(name[:200])
    refusal = ""
    if not name.strip():
        refusal = 'is empty; name a CSV or JSON file next to the quiz, such as "products.csv"'
    elif without_controls(name) != name:
        refusal = "holds a control character (a NUL?); a file name cannot"
    elif Path(name).is_absolute() or PureWindowsPath(name).drive:
        refusal = 'is an absolute path; write it relative to the quiz\'s folder, such as "products.csv"'
    if refusal:
        problems.append(Problem(("catalog",), f"the catalog path {shown} {refusal}"))
        return None
    try:
        base = base_dir.resolve()
        path = (base / name).resolve()  # a symbolic link is followed: where it leads is what is checked
    except (OSError, RuntimeError, ValueError) as error:  # a loop of links, a name too long for the system
        problems.append(Problem(("catalog",), f"the catalog path {shown} cannot be followed: {error}"))
        return None
    if not path.is_relative_to(base):
        problems.append(Problem(("catalog",), f"the catalog {shown} must be inside the quiz's folder"))
        return None
    return path

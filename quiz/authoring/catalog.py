"""Product catalogs kept beside a quiz, read into products: CSV (a spreadsheet export), JSON, or a feed
the shop already publishes (quiz.authoring.feeds)."""

from __future__ import annotations

import csv
import io
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from quiz.authoring import feeds
from quiz.authoring.problems import Problem, from_validation_error, locate
from quiz.format.products import Product

MAX_CATALOG_BYTES = 10 * 1024 * 1024
REQUIRED_COLUMNS = ("id", "title", "url")
LIST_SEPARATOR = "|"
_LOCALIZED = ("title", "description", "reason")  # "title.ja" columns hold the Japanese title
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}
_PRODUCT_FIELDS = frozenset(Product.model_fields)
_products = TypeAdapter(list[Product])


@dataclass
class Catalog:
    """A catalog file's products, the line each starts on, and its problems."""

    file: str
    products: list[Product] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def read_catalog(text: str, *, file: str) -> Catalog:
    """Products from a catalog file's text, by its name: ``.json`` (ours, or Shopify's products JSON),
    ``.tsv`` or ``.xml`` (a Google Merchant Center feed), else CSV."""
    catalog = Catalog(file)
    name = file.lower()
    if name.endswith(".json"):
        _read_json(text, catalog)
    elif name.endswith((".tsv", ".xml")):
        read = feeds.read_merchant_tsv if name.endswith(".tsv") else feeds.read_merchant_xml
        catalog.products, catalog.lines, catalog.problems = read(text, file=file)
    else:
        _read_csv(text, catalog)
    if catalog.problems:
        catalog.products, catalog.lines = [], []
    return catalog


def _read_json(text: str, catalog: Catalog) -> None:
    file = catalog.file
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        catalog.problems.append(
            Problem((), f"not valid JSON: {error.msg}", file=file, line=error.lineno, column=error.colno)
        )
        return
    except RecursionError:
        catalog.problems.append(Problem((), "nested too deeply to read", file=file))
        return
    if feeds.is_shopify(data):
        catalog.products, catalog.lines, catalog.problems = feeds.read_shopify(data, text, file=file)
        return
    prefix: tuple[str, ...] = ()
    if isinstance(data, dict) and "products" in data:
        data, prefix = data["products"], ("products",)
    if not isinstance(data, list):
        message = "a JSON catalog is a list of products, or an object with a 'products' list"
        catalog.problems.append(Problem((), message, file=file))
        return
    try:
        catalog.products = _products.validate_python(data)
    except ValidationError as error:
        catalog.problems = locate(from_validation_error(error, data, prefix=prefix), text, file)
        return
    starts = locate([Problem((*prefix, index), "") for index in range(len(data))], text, file)
    catalog.lines = [problem.line for problem in sorted(starts, key=lambda problem: problem.location)]


def _read_csv(text: str, catalog: Catalog) -> None:
    file = catalog.file
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip() for name in next(reader, [])]
    present = {name.partition(".")[0] if name.partition(".")[0] in _LOCALIZED else name for name in header}
    missing = [name for name in REQUIRED_COLUMNS if name not in present]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        catalog.problems.append(Problem((), f"the header row has no column {names}; it has {header}", file=file))
        return
    mixed = [name for name in _LOCALIZED if name in header and any(col.startswith(name + ".") for col in header)]
    if mixed:
        message = f"use either a {mixed[0]!r} column or {mixed[0]!r}.<locale> columns, not both"
        catalog.problems.append(Problem((), message, file=file))
        return
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        catalog.problems.append(Problem((), f"the header row names column {duplicated[0]!r} twice", file=file))
        return
    problems = catalog.problems
    columns = _columns(header)
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                Problem((), f"row has {len(row)} cells; the header has {len(header)}", file=file, line=line)
            )
            continue
        try:
            fields = _product_fields(columns, row)
            catalog.products.append(Product.model_validate(fields))
            catalog.lines.append(line)
        except _CellError as error:
            problems.append(_cell_problem(error.column, str(error), header, file=file, line=line))
        except ValidationError as error:
            for problem in from_validation_error(error, fields):
                column = str(problem.location[0]) if problem.location else ""
                problems.append(_cell_problem(column, problem.message, header, file=file, line=line))


Column = tuple[int, str, str, str]  # its index, what it holds ("tags", "number"...), the field, the locale


@dataclass(frozen=True)
class Columns:
    """What each column of the header fills, worked out once for the file rather than once per cell."""

    fields: list[Column]
    attribute_names: list[str]
    attributes: Callable[[list[str]], tuple[str, ...]]  # a row's attribute cells, in name order


def _columns(header: list[str]) -> Columns:
    fields: list[Column] = []
    names, indices = [], []
    for index, column in enumerate(header):
        name, _, locale = column.partition(".")
        if name in _LOCALIZED and locale:
            fields.append((index, "localized", name, locale))
        elif column in ("price", "priority"):
            fields.append((index, "number", column, ""))
        elif column in ("in_stock", "tags") or column in _PRODUCT_FIELDS:
            fields.append((index, column if column in ("in_stock", "tags") else "field", column, ""))
        else:
            names.append(column.removeprefix("attr."))
            indices.append(index)
    return Columns(fields, names, _cells_at(indices))


def _cells_at(indices: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    if len(indices) > 1:
        return operator.itemgetter(*indices)  # C speed: a catalog has up to 600,000 attribute cells
    return lambda row: tuple(row[index] for index in indices)


def _product_fields(columns: Columns, row: list[str]) -> dict[str, Any]:
    """A CSV row as product fields: ``title.ja`` columns localize, unknown columns are attributes."""
    cells = zip(columns.attribute_names, columns.attributes(row), strict=True)
    fields: dict[str, Any] = {"attributes": {name: value for name, raw in cells if (value := raw.strip())}}
    for index, kind, name, locale in columns.fields:
        value = row[index].strip()
        if kind == "in_stock":
            fields[name] = _flag(value)
        elif not value:
            continue
        elif kind == "field":
            fields[name] = value
        elif kind == "localized":
            fields.setdefault(name, {})[locale] = value
        elif kind == "number":
            fields[name] = _number(name, value)
        else:
            fields[name] = [tag for tag in map(str.strip, value.split(LIST_SEPARATOR)) if tag]
    return fields


class _CellError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def _number(column: str, value: str) -> float:
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        raise _CellError(column, f"{value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _CellError(column, f"{value!r} is not a finite number")
    return number


def _flag(value: str) -> bool:
    lowered = value.lower()
    if lowered == "" or lowered in _TRUE:
        return True  # an empty cell keeps the default: in stock
    if lowered in _FALSE:
        return False
    raise _CellError("in_stock", f"{value!r} is not yes/no (use true, false, yes, no, 1 or 0)")


def _cell_problem(column: str, message: str, header: list[str], *, file: str, line: int) -> Problem:
    position = next((index for index, name in enumerate(header) if name.partition(".")[0] == column), 0)
    return Problem((column,) if column else (), message, file=file, line=line, column=position + 1)

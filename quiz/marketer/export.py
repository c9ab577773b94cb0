"""The marketer's export of leads: which leads, which columns, and CSV or JSON Lines text, streamed.

Pure: lead records (shapes in ``quiz.leads.records``) and quizzes in, text chunks out. ``quiz export``
(quiz.cli) and ``GET /api/export`` (quiz.marketer.api) read the store and write the chunks;
``quiz.marketer.audit`` records who took them.

    exported = chosen(library, wanted)
    text = csv_chunks(columns(exported.values(), wanted.locale), rows(leads, exported, wanted), bom=False)
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from quiz.format.questions import Info, Question
from quiz.format.schema import Quiz
from quiz.format.text import LOCALE_PATTERN, format_number, resolve

FIXED_COLUMNS = (
    "channel",
    "email",
    "line_user_id",
    "line_friend",
    "consent_status",
    "consent_at",
    "consent_version",
    "consent_text_sha256",
    "quiz",
    "quiz_version",
    "locale",
    "created_at",
    "updated_at",
    "page",
    "product_page",
    "site",
    "recommended",
    "recommended_ids",
)
RAW_FIELDS = ("answers", "products")  # JSON Lines only: the stored values, for programs
CONSENTS = ("subscribed", "any")
FORMATS = ("csv", "jsonl")
SEPARATOR = "; "
# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(...) sends data
# away, =cmd|... ran programs in old Excel). OWASP's advice: prefix such cells with an apostrophe,
# which the spreadsheet shows as text. Answers to text questions and page URLs come from shoppers.
# Spreadsheets in Japan read the full-width signs as the ASCII ones (a Japanese keyboard types them);
# a leading NUL is dropped by some, which would bring the formula behind it to the front.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\x00", "＝", "＋", "－", "＠")
DATE_HELP = "use YYYY-MM-DD (UTC) or an ISO 8601 time such as 2025-03-01T09:30:00Z"
_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Consent = Literal["subscribed", "any"]
Format = Literal["csv", "jsonl"]


class ExportError(ValueError):
    """A filter or option cannot be used; ``parameter`` names it, so the HTTP answer and the CLI can say which."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


@dataclass(frozen=True)
class ExportFilter:
    """Which leads to export, and in which language to label them."""

    quizzes: tuple[str, ...] | None = None  # None: every quiz
    since: datetime | None = None  # updated_at on or after, UTC
    until: datetime | None = None  # updated_at on or before, UTC
    consent: Consent = "subscribed"  # the safe default: only people who confirmed they want mail
    locale: str | None = None  # headers and answer labels; None: each quiz's default locale

    def keeps(self, lead: Mapping[str, Any]) -> bool:
        if self.quizzes is not None and lead.get("quiz") not in self.quizzes:
            return False
        if self.consent == "subscribed" and (lead.get("consent") or {}).get("status") != "subscribed":
            return False
        if self.since is None and self.until is None:
            return True
        updated = _stored_moment(lead.get("updated_at") or lead.get("created_at"))
        if updated is None:
            return False  # a lead with no readable time cannot be shown to be in the range
        return (self.since is None or updated >= self.since) and (self.until is None or updated <= self.until)

    def as_dict(self) -> dict[str, Any]:
        """The filter as JSON-ready data, for the audit log."""
        return {
            "quiz": list(self.quizzes) if self.quizzes is not None else None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "consent": self.consent,
            "locale": self.locale,
        }


def parse_filter(
    *,
    known: Collection[str],
    quizzes: Sequence[str] = (),
    since: str | None = None,
    until: str | None = None,
    consent: str | None = None,
    locale: str | None = None,
) -> ExportFilter:
    """The filter the user typed (CLI options or query parameters; empty means absent), checked.

    ``known`` holds the quiz ids in the library; an unknown id is refused with the list of them.
    """
    start = _moment(since, "since", end_of_day=False) if since else None
    end = _moment(until, "until", end_of_day=True) if until else None
    if start and end and start > end:
        raise ExportError("until", f"{until!r} is before since {since!r}")
    return ExportFilter(
        quizzes=_quiz_ids(quizzes, known),
        since=start,
        until=end,
        consent=_consent(consent),
        locale=_locale(locale),
    )


def parse_format(raw: str | None, *, excel: bool) -> Format:
    """``csv`` (the default) or ``jsonl``; ``excel`` only shapes CSV."""
    chosen = (raw or "csv").strip().lower()
    if chosen == "jsonl":
        if excel:
            raise ExportError("excel", "applies to CSV only; drop it or use format csv")
        return "jsonl"
    if chosen == "csv":
        return "csv"
    raise ExportError("format", f"{raw!r} is not a format; use csv or jsonl")


def _quiz_ids(raw: Sequence[str], known: Collection[str]) -> tuple[str, ...] | None:
    # "--quiz a --quiz b" and "?quiz=a,b" both work.
    wanted = [part.strip() for value in raw for part in value.split(",") if part.strip()]
    for quiz_id in wanted:
        if quiz_id not in known:
            names = ", ".join(sorted(known)) or "none"
            raise ExportError("quiz", f"no quiz {quiz_id!r} in the library; known quizzes: {names}")
    return tuple(dict.fromkeys(wanted)) or None


def _moment(raw: str, parameter: str, *, end_of_day: bool) -> datetime:
    text = raw.strip()
    try:
        if _BARE_DATE.match(text):
            start = datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
            return start + timedelta(days=1, microseconds=-1) if end_of_day else start
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # 9999-12-31T23:59-01:00 is past the last moment Python knows
        raise ExportError(parameter, f"{raw!r} is not a date; {DATE_HELP}") from None


def _consent(raw: str | None) -> Consent:
    chosen = (raw or "subscribed").strip().lower()
    if chosen == "subscribed":
        return "subscribed"
    if chosen == "any":
        return "any"
    raise ExportError("consent", f"{raw!r} is not a consent filter; use subscribed or any")


def _locale(raw: str | None) -> str | None:
    if not raw:
        return None
    if not re.match(LOCALE_PATTERN, raw.strip()):
        raise ExportError("locale", f"{raw!r} is not a locale; use a language code such as en, ja or pt-BR")
    return raw.strip()


def _stored_moment(raw: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def by_id(quizzes: Iterable[Quiz]) -> dict[str, Quiz]:
    """The library's quizzes by id; as ``QuizLibrary.get``, the first file with an id wins."""
    found: dict[str, Quiz] = {}
    for quiz in quizzes:
        found.setdefault(quiz.id, quiz)
    return found


def chosen(library: Mapping[str, Quiz], wanted: ExportFilter) -> dict[str, Quiz]:
    """The quizzes whose questions become columns: those asked for, in that order, else all by id."""
    if wanted.quizzes is None:
        return {quiz_id: library[quiz_id] for quiz_id in sorted(library)}
    return {quiz_id: library[quiz_id] for quiz_id in wanted.quizzes if quiz_id in library}


@dataclass(frozen=True)
class _QuestionColumn:
    header: str
    question: Question
    labels: dict[str, str]  # option id -> label in the export's language


def _question_columns(quizzes: Iterable[Quiz], locale: str | None) -> dict[str, list[_QuestionColumn]]:
    """Each quiz's answer columns; headers are the question texts, made unique."""
    quizzes = list(quizzes)
    planned: list[tuple[Quiz, Question, str]] = []
    for quiz in quizzes:
        for question in quiz.questions:
            if isinstance(question, Info):
                continue  # a slide, not a question: it has no answer
            title = resolve(question.title, locale or quiz.locale, quiz.locale)
            planned.append((quiz, question, f"{quiz.id}: {title}" if len(quizzes) > 1 else title))
    repeated = Counter(header for _, _, header in planned)
    taken = set(FIXED_COLUMNS) | set(RAW_FIELDS)
    found: dict[str, list[_QuestionColumn]] = {quiz.id: [] for quiz in quizzes}
    for quiz, question, header in planned:
        if repeated[header] > 1 or header in taken:
            header = f"{header} ({question.id})"
        while header in taken:  # a title that happens to read like another's disambiguated header
            header = f"{header} ({question.id})"
        taken.add(header)
        labels = {option.id: resolve(option.label, locale or quiz.locale, quiz.locale) for option in question.choices()}
        found[quiz.id].append(_QuestionColumn(header, question, labels))
    return found


def columns(quizzes: Iterable[Quiz], locale: str | None) -> list[str]:
    """The CSV header: the fixed columns, then one per question of the exported quizzes (see ``chosen``)."""
    by_quiz = _question_columns(quizzes, locale)
    return [*FIXED_COLUMNS, *(column.header for found in by_quiz.values() for column in found)]


def rows(
    leads: Iterable[Mapping[str, Any]], quizzes: Mapping[str, Quiz], wanted: ExportFilter
) -> Iterator[dict[str, Any]]:
    """One flat row per lead that ``wanted`` keeps: every column as text, plus the raw answers and products.

    ``quizzes`` are the exported ones (see ``chosen``). A lead whose quiz left the library keeps its
    fixed columns; its answers are only in the raw ``answers``, as option ids.
    """
    by_quiz = _question_columns(quizzes.values(), wanted.locale)
    titles = {quiz.id: _product_titles(quiz, wanted.locale) for quiz in quizzes.values()}
    for lead in leads:
        if wanted.keeps(lead):
            quiz_id = str(lead.get("quiz", ""))
            yield _row(lead, by_quiz.get(quiz_id, []), titles.get(quiz_id, {}))


def line_leads(line_users: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """LINE identities (``quiz.line.book``) as leads: the latest response they asked results for, LINE's consent."""
    for user in line_users:
        latest = user.get("latest") or {}
        yield {
            **latest,
            "channel": "line",
            "email": "",
            "line_user": user.get("id", ""),
            "line_friend": bool(user.get("friend")) and not user.get("blocked"),
            "consent": user.get("consent") or {},
            "created_at": user.get("created_at"),
            "updated_at": user.get("updated_at"),
        }


def _product_titles(quiz: Quiz, locale: str | None) -> dict[str, str]:
    return {product.id: resolve(product.title, locale or quiz.locale, quiz.locale) for product in quiz.products}


def _row(lead: Mapping[str, Any], answer_columns: list[_QuestionColumn], titles: dict[str, str]) -> dict[str, Any]:
    consent = lead.get("consent") or {}
    context = lead.get("context") or {}
    answers = lead.get("answers") or {}
    products = lead.get("products") or []
    product_ids = [_text(product.get("id")) for product in products if isinstance(product, dict)]
    line = lead.get("channel") == "line"
    row: dict[str, Any] = {
        "channel": "line" if line else "email",
        "email": _text(lead.get("email")),
        "line_user_id": _text(lead.get("line_user")),
        "line_friend": _text(lead.get("line_friend")) if line else "",
        "consent_status": _text(consent.get("status") or "none"),
        "consent_at": _text(consent.get("at")),
        "consent_version": _text(consent.get("version")),
        "consent_text_sha256": _text(consent.get("text_sha256")),
        "quiz": _text(lead.get("quiz")),
        "quiz_version": _text(lead.get("quiz_version")),
        "locale": _text(lead.get("locale")),
        "created_at": _text(lead.get("created_at")),
        "updated_at": _text(lead.get("updated_at")),
        "page": _text(context.get("page")),
        "product_page": _text(context.get("product")),
        "site": _text(lead.get("site")),
        "recommended": SEPARATOR.join(titles.get(product_id, product_id) for product_id in product_ids),
        "recommended_ids": SEPARATOR.join(product_ids),
    }
    for column in answer_columns:
        row[column.header] = _answer_text(answers.get(column.question.id), column.labels)
    row["answers"] = answers
    row["products"] = products
    return row


def _answer_text(answer: Any, labels: dict[str, str]) -> str:
    """An answer as a person reads it: option labels (an option since removed keeps its id), numbers as text."""
    if isinstance(answer, list):
        return SEPARATOR.join(_answer_text(item, labels) for item in answer)
    if isinstance(answer, str):
        return labels.get(answer, answer)
    return _text(answer)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return format_number(value)
    return str(value)


def defused(cell: str) -> str:
    """``=1+1`` -> ``'=1+1``: shown as text by a spreadsheet instead of run (see ``FORMULA_STARTS``)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def csv_chunks(
    header: Sequence[str], table: Iterable[Mapping[str, Any]], *, bom: bool, crlf: bool = False
) -> Iterator[str]:
    """The header and then one chunk per row, as CSV text; every cell defused against formulas.

    ``bom`` and ``crlf`` make the file Excel opens right (``--excel``): without the byte order mark
    Excel reads UTF-8 as the system's code page, and Japanese turns to mojibake.
    """
    buffer = io.StringIO()
    # Always written with CRLF, then cut to LF if asked: the csv module quotes a cell holding a lone
    # "\r" only when "\r" is in the line terminator, and an unquoted one would split the row when read.
    writer = csv.writer(buffer, lineterminator="\r\n")
    ending = "\r\n" if crlf else "\n"
    writer.writerow([defused(name) for name in header])
    yield ("\ufeff" if bom else "") + _drained(buffer, ending)
    for row in table:
        # Written out rather than calling defused(_text(...)) per cell: this loop runs for every cell.
        texts = [value if isinstance(value, str) else _text(value) for value in map(row.get, header)]
        writer.writerow(["'" + text if text.startswith(FORMULA_STARTS) else text for text in texts])
        yield _drained(buffer, ending)


def _drained(buffer: io.StringIO, ending: str) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text[:-2] + ending


def jsonl_chunks(table: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """One JSON object per line: the same labeled fields as the CSV, plus ``answers`` and ``products`` raw.

    Not defused: JSON Lines is read by programs, which should get the text exactly as stored.
    """
    for row in table:
        yield json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


@dataclass
class Count:
    """How many rows an export has produced so far (the audit log records it once the stream ends)."""

    rows: int = 0


def export_chunks(
    leads: Iterable[Mapping[str, Any]],
    library: Mapping[str, Quiz],
    wanted: ExportFilter,
    *,
    format: Format,
    excel: bool = False,
    count: Count | None = None,
) -> Iterator[str]:
    """The whole export as text chunks: the one call the CLI and the HTTP endpoint make."""
    count = count if count is not None else Count()
    exported = chosen(library, wanted)
    if format == "jsonl":
        return jsonl_chunks(_counted(rows(leads, exported, wanted), count))
    return _csv_export(leads, exported, wanted, bom=excel, crlf=excel, count=count)


def _counted(table: Iterable[dict[str, Any]], count: Count) -> Iterator[dict[str, Any]]:
    for row in table:
        count.rows += 1
        yield row


# --- the CSV export, row after row ---------------------------------------------------------------
#
# The same text as ``csv_chunks(columns(...), rows(...))`` (tests compare the two on generated
# leads), made without row dictionaries or the csv module: a million leads spend their time here, and
# the csv module's per-character checks cost as much as reading the lead (10 us a row on the 2-core
# machine). What depends only on the quiz (which columns are its, its option labels defused and
# quoted, its product titles) is worked out once per export; each lead then becomes one line of text.

ROWS_AT_ONCE = 1000
_FORMULA_AFTER_COMMA = re.compile("," + "[" + re.escape("".join(FORMULA_STARTS)) + "]")


@dataclass(frozen=True)
class _Plan:
    """How a lead of one quiz fills a line: commas for the other quizzes' columns, its own answers."""

    before: str
    # question id, labels, labels as CSV cells, and the cells of other answers met so far (by repr)
    answers: list[tuple[str, dict[str, str], dict[str, str], dict[str, str]]]
    after: str
    titles: dict[str, str]
    recommended: dict[tuple[str, ...], str] = field(default_factory=dict)  # product ids -> their two cells


def _plans(quizzes: Mapping[str, Quiz], locale: str | None) -> tuple[dict[str, _Plan], _Plan]:
    """Each exported quiz's plan, and the plan of a lead whose quiz left the library (blank answers)."""
    by_quiz = _question_columns(quizzes.values(), locale)
    total = sum(len(found) for found in by_quiz.values())
    plans, start = {}, 0
    for quiz_id, found in by_quiz.items():
        answers: list[tuple[str, dict[str, str], dict[str, str], dict[str, str]]] = [
            (c.question.id, c.labels, {k: _cell(defused(v)) for k, v in c.labels.items()}, {}) for c in found
        ]
        titles = _product_titles(quizzes[quiz_id], locale)
        plans[quiz_id] = _Plan("," * start, answers, "," * (total - start - len(found)), titles)
        start += len(found)
    return plans, _Plan("," * total, [], "", {})


def _cell(text: str) -> str:
    """A cell as the csv module writes it: quoted, its quotes doubled, only when it must be."""
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_export(
    leads: Iterable[Mapping[str, Any]],
    quizzes: Mapping[str, Quiz],
    wanted: ExportFilter,
    *,
    bom: bool,
    crlf: bool,
    count: Count,
) -> Iterator[str]:
    plans, unknown = _plans(quizzes, wanted.locale)
    everyone = wanted == ExportFilter(consent="any", locale=wanted.locale)  # no lead to leave out: no test per lead
    ending = "\r\n" if crlf else "\n"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(
        [defused(name) for name in columns(quizzes.values(), wanted.locale)]
    )
    yield ("\ufeff" if bom else "") + _drained(buffer, ending)
    lines: list[str] = []
    for lead in leads:
        if everyone or wanted.keeps(lead):
            lines.append(_line(lead, plans.get(str(lead.get("quiz", "")), unknown)))
            if len(lines) == ROWS_AT_ONCE:
                count.rows += len(lines)
                yield ending.join(lines) + ending
                lines = []
    if lines:
        count.rows += len(lines)
        yield ending.join(lines) + ending


def _line(lead: Mapping[str, Any], plan: _Plan) -> str:
    """One lead's CSV line, without its end: the cells of ``_row``, defused and quoted as ``csv_chunks`` does."""
    get = lead.get
    line = get("channel") == "line"
    products = get("products") or []
    product_ids = [
        found if (found := product.get("id")).__class__ is str else _text(found)
        for product in products
        if isinstance(product, dict)
    ]
    first = ("line," if line else "email,") + _fixed_cells(lead, line) + "," + _recommended(tuple(product_ids), plan)
    return first + plan.before + _answer_cells(get("answers") or {}, plan) + plan.after


def _fixed_cells(lead: Mapping[str, Any], line: bool) -> str:
    """The cells every lead has, from its address to its site, joined."""
    get = lead.get
    consent = get("consent") or {}
    context = get("context") or {}
    raw = [  # "" where a field is missing, as _text writes None; a None or a number stored is written by _text
        get("email", ""),
        get("line_user", ""),
        get("line_friend", "") if line else "",
        consent.get("status") or "none",
        consent.get("at", ""),
        consent.get("version", ""),
        consent.get("text_sha256", ""),
        get("quiz", ""),
        get("quiz_version", ""),
        get("locale", ""),
        get("created_at", ""),
        get("updated_at", ""),
        context.get("page", ""),
        context.get("product", ""),
        get("site", ""),
    ]
    try:
        fixed = ",".join(raw)  # every cell text already: the common case
        texts = raw
    except TypeError:
        texts = [value if value.__class__ is str else _text(value) for value in raw]
        fixed = ",".join(texts)
    # One look at the joined cells instead of one per cell: with no comma inside a cell, a formula
    # sign after a comma or at the start is where a cell starts with one.
    if (
        fixed.count(",") != len(raw) - 1
        or '"' in fixed
        or "\n" in fixed
        or "\r" in fixed
        or fixed.startswith(FORMULA_STARTS)
        or _FORMULA_AFTER_COMMA.search(fixed)
    ):
        fixed = ",".join([_cell(defused(text)) for text in texts])
    return fixed


def _answer_cells(answers: Mapping[str, Any], plan: _Plan) -> str:
    """The cells of the lead's own quiz's questions, joined, each answer's cell made once per export."""
    cells = []
    for question_id, labels, label_cells, seen in plan.answers:
        answer: Any = answers.get(question_id)
        if answer.__class__ is str and answer in label_cells:
            cells.append(label_cells[answer])  # the common case: an option's label
            continue
        key = repr(answer)  # tells 1 from 1.0, True and "1", as the cells do
        cell = seen.get(key)
        if cell is None:
            cell = _answer_cell(answer, labels)
            if len(seen) < _SEEN_MOST:  # free text is seldom met twice: the memory stays bounded
                seen[key] = cell
        cells.append(cell)
    return "," + ",".join(cells) if cells else ""


def _recommended(product_ids: tuple[str, ...], plan: _Plan) -> str:
    """The two product columns' cells, titles then ids: made once per export for each set of results."""
    found = plan.recommended.get(product_ids)
    if found is None:
        titles = SEPARATOR.join([plan.titles.get(product_id, product_id) for product_id in product_ids])
        found = _cell(defused(titles)) + "," + _cell(defused(SEPARATOR.join(product_ids)))
        if len(plan.recommended) < _SEEN_MOST:
            plan.recommended[product_ids] = found
    return found


def _answer_cell(answer: Any, labels: dict[str, str]) -> str:
    if answer.__class__ is list:  # options picked: their labels
        text = SEPARATOR.join([labels.get(a, a) if a.__class__ is str else _answer_text(a, labels) for a in answer])
        return _cell(defused(text))
    if answer.__class__ is int and -(10**15) < answer < 10**15:  # as format_number writes it
        return "'" + str(answer) if answer < 0 else str(answer)
    return _cell(defused(_answer_text(answer, labels)))


_SEEN_MOST = 1_000  # answers (or sets of results) kept per question and export, with their cells: memory stays flat


def batched(chunks: Iterable[str], *, size: int = 64 * 1024) -> Iterator[str]:
    """Chunks joined into pieces of about ``size`` characters: one write, or one thread hop, per piece."""
    pending: list[str] = []
    length = 0
    for chunk in chunks:
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield "".join(pending)
            pending, length = [], 0
    if pending:
        yield "".join(pending)

"""The marketer's use cases, written once for ``quiz`` on the command line and for the HTTP API.

- ``begin_export``: which leads, as what, with its audit line opened before the first row;
- ``forget``: erase a person everywhere (email address or LINE user id), keeping a suppression;
- ``describe``: everything kept about a person, as one JSON document (a data-subject access request).

Callers bring the store and queues they hold: the server its own, the command line ones it opened.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quiz.delivery.mail import MailQueue
from quiz.format.schema import Quiz
from quiz.leads.book import LeadBook
from quiz.leads.records import EmailError, normalize_email
from quiz.line.book import LINE_USER_ID, LineBook
from quiz.line.queue import pending_messages
from quiz.marketer.audit import ExportAudit
from quiz.marketer.export import Count, by_id, export_chunks, line_leads, parse_filter, parse_format
from quiz.store.base import Store


class PersonError(ValueError):
    """Neither an email address nor a LINE user id."""


def person(raw: str) -> str:
    """The person a marketer names: a LINE user id as it is, else the normalized email address."""
    if is_line_user(raw):
        return raw
    try:
        return normalize_email(raw)
    except EmailError:
        raise PersonError(f"{raw[:100]!r} is neither an email address nor a LINE user id") from None


def is_line_user(person: str) -> bool:
    return re.fullmatch(LINE_USER_ID, person) is not None


@dataclass(frozen=True)
class Export:
    """An export under way: its chunks of text, and the audit line to finish when they end."""

    chunks: Iterator[str]
    format: str
    audit: ExportAudit
    count: Count

    def finish(self, *, complete: bool) -> None:
        self.audit.finish(rows=self.count.rows, complete=complete)


def begin_export(
    store: Store,
    quizzes: Iterable[Quiz],
    data_dir: Path,
    *,
    who: str,
    quiz_ids: list[str],
    since: str | None,
    until: str | None,
    consent: str | None,
    locale: str | None,
    format: str | None,
    excel: bool,
) -> Export:
    """The leads the filters choose, email and LINE alike; raises ExportError naming a bad filter."""
    library = by_id(quizzes)
    chosen_format = parse_format(format, excel=excel)
    wanted = parse_filter(known=library, quizzes=quiz_ids, since=since, until=until, consent=consent, locale=locale)
    audit = ExportAudit(data_dir, store, who=who, filters=wanted.as_dict(), format=chosen_format, excel=excel)
    count = Count()
    leads = itertools.chain(store.records("leads"), line_leads(store.records("line_users")))
    chunks = export_chunks(leads, library, wanted, format=chosen_format, excel=excel, count=count)
    return Export(chunks=chunks, format=chosen_format, audit=audit, count=count)


@dataclass(frozen=True)
class People:
    """Where a person's data is kept: the books, and the outbox of every machine (through the mail queue)."""

    leads: LeadBook
    lines: LineBook
    mail: MailQueue

    def forget(self, person: str) -> dict[str, Any]:
        """Erase ``person`` (see LeadBook.forget and LineBook.forget); what was erased, counted."""
        if is_line_user(person):
            erased = self.lines.forget(person)
            erased["line_messages"] = self.mail.outbox.forget(person)
            return {"line_user": person, "erased": erased}
        erased = self.leads.forget(person)
        erased["mail"] = self.mail.forget(person)
        return {"email": person, "erased": erased, "suppressed": True}

    def describe(self, person: str) -> dict[str, Any]:
        if is_line_user(person):
            document = self.lines.subject(person)
            document["line_messages"] = pending_messages(self.mail.outbox, person)
            return document
        document = self.leads.subject(person)
        document["mail"] = self.mail.pending(person)
        return document

"""The dashboard's lead pages: the table, its download, a person's page, and erasure (with a confirmation).

The table's filters are ``quiz export``'s (quiz, since, until, consent, locale), parsed by the same
code, and the download goes through the same export and audit as the command and the API: what a
marketer sees filtered is exactly what they download. A person's page is at their email lead's id
or their LINE user id, never at an address (it would sit in logs and browser history).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from quiz.format.schema import Quiz
from quiz.format.text import resolve
from quiz.leads.channel import EmailChannel
from quiz.line.channel import LineChannel
from quiz.marketer.api import export_response
from quiz.marketer.dashboard import FilterError, check_parameters, titles
from quiz.marketer.export import ExportError, ExportFilter, by_id, line_leads, parse_filter
from quiz.marketer.gate import HEADERS, PREFIX, Visit, bad_filter, dashboard, not_found, page, signed_in
from quiz.marketer.operations import People, begin_export, is_line_user
from quiz.store.base import Record, Store
from quiz.web.services import services
from quiz.web.steps import under_root

PAGE_SIZE = 50
MAX_PAGE = 100_000
FILTERS = ("quiz", "since", "until", "consent", "locale")


@dataclass(frozen=True)
class LeadRow:
    key: str  # the person page's id: the lead's, or the LINE user's
    person: str
    channel: str
    status: str
    version: str
    when: str
    quiz: str
    top: str


def _filter(request: Request, library: Mapping[str, Quiz]) -> ExportFilter:
    params = request.query_params
    return parse_filter(
        known=library,
        quizzes=params.getlist("quiz"),
        since=params.get("since"),
        until=params.get("until"),
        consent=params.get("consent"),
        locale=params.get("locale"),
    )


def _page_number(raw: str | None) -> int:
    text = (raw or "1").strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise ExportError("page", f"{text[:20]!r} is not a page number; use 1 to {MAX_PAGE}")
    return int(text)


def matching(store: Store, wanted: ExportFilter) -> list[Record]:
    """Every lead the filter keeps, email and LINE alike, newest first."""
    leads = itertools.chain(store.records("leads"), line_leads(store.records("line_users")))
    kept = [lead for lead in leads if wanted.keeps(lead)]
    kept.sort(key=lambda lead: str(lead.get("updated_at") or lead.get("created_at") or ""), reverse=True)
    return kept


def lead_rows(leads: Iterable[Record], library: Mapping[str, Quiz], locale: str) -> list[LeadRow]:
    rows = []
    for lead in leads:
        consent = lead.get("consent") or {}
        quiz = library.get(str(lead.get("quiz", "")))
        products = [product.get("id") for product in lead.get("products") or [] if isinstance(product, dict)]
        line = lead.get("channel") == "line"
        rows.append(
            LeadRow(
                key=str(lead.get("line_user") if line else lead.get("id", "")),
                person=str(lead.get("line_user") if line else lead.get("email", "")),
                channel="LINE" if line else "email",
                status=str(consent.get("status") or "none"),
                version=str(consent.get("version") or ""),
                when=str(lead.get("updated_at") or lead.get("created_at") or "")[:16].replace("T", " "),
                quiz=str(lead.get("quiz", "")),
                top=_title(quiz, str(products[0]), locale) if products else "",
            )
        )
    return rows


def _title(quiz: Quiz | None, product_id: str, locale: str) -> str:
    product = quiz.product_index.get(product_id) if quiz else None
    return resolve(product.title, locale, quiz.locale) if product and quiz else product_id


@signed_in("marketer")
async def show_leads(request: Request, visit: Visit) -> Response:
    library = by_id(services(request).library.all())
    try:
        check_parameters(request.query_params)
        wanted = _filter(request, library)
        number = _page_number(request.query_params.get("page"))
    except (ExportError, FilterError) as error:
        return bad_filter(request, visit, error)
    kept = await run_in_threadpool(matching, services(request).store, wanted)
    shown = kept[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    query = {name: request.query_params.get(name, "") for name in FILTERS}
    # every filter as given, a repeated quiz too: the download and the next page keep exactly this set
    kept_filters = [(name, value) for name, value in request.query_params.multi_items() if name in FILTERS and value]
    context = {
        "visit": visit,
        "section": "leads",
        "quizzes": titles(library, visit.locale),
        "query": query,
        "rows": lead_rows(shown, library, visit.locale),
        "total": len(kept),
        "number": number,
        "first": (number - 1) * PAGE_SIZE + 1 if shown else 0,
        "last": (number - 1) * PAGE_SIZE + len(shown),
        "more": number * PAGE_SIZE < len(kept),
        "kept": kept_filters,
        "chosen_quizzes": wanted.quizzes or (),
    }
    return page(request, visit.locale, "admin/leads.html", context)


@signed_in("marketer")
async def download_leads(request: Request, visit: Visit) -> Response:
    found = services(request)
    params = request.query_params
    try:
        check_parameters(params)
        export = begin_export(
            found.store,
            found.library.all(),
            found.settings.data_dir,
            who=f"dashboard:{visit.user.email}",
            quiz_ids=params.getlist("quiz"),
            since=params.get("since"),
            until=params.get("until"),
            consent=params.get("consent"),
            locale=params.get("locale"),
            format=params.get("format"),
            excel=False,
        )
    except (ExportError, FilterError) as error:
        return bad_filter(request, visit, error)
    return export_response(export)


def _people(request: Request) -> People:
    found = services(request)
    email, line = found.channel(EmailChannel), found.channel(LineChannel)
    return People(leads=email.book, lines=line.book, mail=email.mail)


def person_of(store: Store, key: str) -> str | None:
    """The person a page's id names: a LINE user id as it is, an email lead's id as its address."""
    if is_line_user(key):
        return key if store.get("line_users", key) else None
    if len(key) != 32 or not key.isalnum():
        return None
    lead = store.get("leads", key)
    return str(lead["email"]) if lead and lead.get("email") else None


@signed_in("marketer")
async def show_person(request: Request, visit: Visit) -> Response:
    key = request.path_params["key"]
    found = services(request)
    person = await run_in_threadpool(person_of, found.store, key)
    if person is None:
        return not_found(request, visit)
    document = await run_in_threadpool(_people(request).describe, person)
    library = by_id(found.library.all())
    context = {
        "visit": visit,
        "section": "leads",
        "key": key,
        "person": person,
        "leads": _person_leads(document, library, visit.locale),
        "consent": sorted(document.get("consent") or [], key=lambda record: str(record.get("at", ""))),
        "may_erase": visit.user.may("owner"),
    }
    return page(request, visit.locale, "admin/person.html", context)


def _person_leads(document: Mapping[str, Any], library: Mapping[str, Quiz], locale: str) -> list[dict[str, Any]]:
    """Each lead (or LINE response) of the person, with its answers as labels and its recommendations as titles."""
    leads = document.get("leads") or document.get("responses") or []
    shown = []
    for lead in leads:
        quiz = library.get(str(lead.get("quiz", "")))
        shown.append(
            {
                "quiz": lead.get("quiz", ""),
                "when": str(lead.get("updated_at") or lead.get("completed_at") or "")[:16].replace("T", " "),
                "status": (lead.get("consent") or {}).get("status", ""),
                "answers": _answer_labels(quiz, lead.get("answers") or {}, locale),
                "products": [
                    _title(quiz, str(p.get("id")), locale) for p in lead.get("products") or [] if isinstance(p, dict)
                ],
            }
        )
    return shown


def _answer_labels(quiz: Quiz | None, answers: Mapping[str, Any], locale: str) -> list[tuple[str, str]]:
    labelled = []
    for question_id, answer in answers.items():
        if quiz is None or question_id not in quiz.question_index:
            labelled.append((question_id, str(answer)))
            continue
        question = quiz.question(question_id)
        options = {option.id: resolve(option.label, locale, quiz.locale) for option in question.choices()}
        values = answer if isinstance(answer, list) else [answer]
        text = ", ".join(options.get(str(value), str(value)) for value in values)
        labelled.append((resolve(question.title, locale, quiz.locale), text))
    return labelled


@signed_in("owner")
async def confirm_erasure(request: Request, visit: Visit) -> Response:
    key = request.path_params["key"]
    person = await run_in_threadpool(person_of, services(request).store, key)
    if person is None:
        return not_found(request, visit)
    context = {"visit": visit, "section": "leads", "key": key, "person": person}
    return page(request, visit.locale, "admin/erase.html", context)


@signed_in("owner")
async def erase_person(request: Request, visit: Visit) -> Response:
    key = request.path_params["key"]
    person = await run_in_threadpool(person_of, services(request).store, key)
    if person is None:
        return not_found(request, visit)
    audit = dashboard(request).audit
    await run_in_threadpool(audit.check)  # an erasure the trail could not record does not happen
    erased = await run_in_threadpool(_people(request).forget, person)
    await run_in_threadpool(audit.record, "erasure", f"dashboard:{visit.user.email}", erased=erased["erased"])
    target = under_root(request, f"{PREFIX}/leads?erased=1")
    return RedirectResponse(target, status_code=303, headers=HEADERS)

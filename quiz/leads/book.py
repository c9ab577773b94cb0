"""Leads, people, consent evidence and suppressions, kept in the store (shapes: ``quiz.leads.records``).

Every change that a shopper is told about is durable before the handler answers: consent evidence
first (so no opt-in exists without its proof), then the lead, then the person that ties a
person's leads together for one-click unsubscribe.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from quiz.consent import ConsentText, now
from quiz.leads.records import lead_id, person_id
from quiz.store.base import Record, Store


@dataclass(frozen=True)
class OptIn:
    """One opt-in form as sent, already checked: the address is normalized."""

    email: str
    quiz_id: str
    quiz_version: str
    locale: str
    response: Record  # the completed response: answers, products, context, site
    consent: ConsentText | None  # the marketing line shown, None if the quiz shows none
    ticked: bool
    double_opt_in: bool
    submission: str  # a hash of the signed form, so a replayed form changes nothing


@dataclass(frozen=True)
class Outcome:
    lead: Record
    replayed: bool  # the same form was already taken: nothing was written or should be sent


P = ParamSpec("P")
R = TypeVar("R")


def _whole(method: Callable[Concatenate[LeadBook, P], R]) -> Callable[Concatenate[LeadBook, P], R]:
    """One change at a time: an erasure running while the same person opts in must not leave half a person."""

    @functools.wraps(method)
    def locked(book: LeadBook, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with book._lock:
            return method(book, *args, **kwargs)

    return locked


class LeadBook:
    """Call it from worker threads, not the event loop: every call reads and writes files."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()

    def is_suppressed(self, email: str) -> bool:
        return self.store.get("suppressions", person_id(email)) is not None

    @_whole
    def opt_in(self, form: OptIn) -> Outcome:
        identifier = lead_id(form.email, form.quiz_id)
        existing = self.store.get("leads", identifier)
        if existing is not None and existing.get("submission") == form.submission:
            return Outcome(existing, replayed=True)
        lead = _lead_record(form, identifier, existing, _status_after_opt_in(form, existing))
        shown = form.consent or ConsentText("", "", "")  # the line shown, whether ticked or not
        self._append_consent(lead, identifier, shown, action="opt_in", method="checkbox", checkbox=form.ticked)
        self._remember_person(form.email, identifier)  # first: an unsubscribe must reach every lead
        self.store.put("leads", identifier, lead)
        return Outcome({**lead, "id": identifier}, replayed=False)

    @_whole
    def confirm(self, identifier: str, nonce: str) -> Record | None:
        """Double opt-in: the link's nonce turns a pending lead into a subscribed one, once."""
        lead = self.store.get("leads", identifier)
        if lead is not None and lead["consent"]["status"] == "subscribed":
            return lead  # pressed twice: already done, nothing new to record
        if lead is None or not nonce or lead["consent"].get("nonce") != nonce:
            return None
        consent = {key: value for key, value in lead["consent"].items() if key != "nonce"}
        consent.update(status="subscribed", at=now())
        self._append_consent(lead, identifier, _agreed(lead), action="confirmed", method="double_opt_in", checkbox=None)
        self.store.update("leads", identifier, {"consent": consent, "updated_at": now()})
        person = person_id(lead["email"])
        if self.store.get("suppressions", person) is not None:  # fresh, proven consent lifts an erasure's block
            self.store.remove("suppressions", lambda record: record.get("id") == person)
        return {**lead, "consent": consent}

    @_whole
    def withdraw(self, person: str, *, method: str) -> str | None:
        """Unsubscribe one person from every lead's marketing; returns their address, or None if unknown."""
        record = self.store.get("people", person)
        if record is None:
            return None
        for identifier in record.get("leads", []):
            lead = self.store.get("leads", identifier)
            if lead is None or lead["consent"]["status"] in ("none", "unsubscribed"):
                continue
            text = _agreed(lead)
            self._append_consent(lead, identifier, text, action="withdrawn", method=method, checkbox=None)
            consent = {"status": "unsubscribed", "at": now(), "version": text.version, "text_sha256": text.sha256}
            self.store.update("leads", identifier, {"consent": consent, "updated_at": now()})
        return str(record["email"])

    @_whole
    def forget(self, email: str) -> dict[str, int]:
        """Erase a person: leads, the responses they sent, consent evidence, their person record.

        What stays is a suppression record (a hash of the address) so no later import or replayed form
        mails them again without fresh consent. Funnel events hold nothing about a person, so they stay.
        """
        person = person_id(email)
        leads = [lead for lead in self.store.records("leads") if lead.get("email") == email]
        responses = {lead.get("response") for lead in leads} - {"", None}
        erased = {
            "leads": self.store.remove("leads", lambda record: record.get("email") == email),
            "responses": self.store.remove("responses", lambda record: record.get("id") in responses),
            "consent": self.store.remove("consent", lambda record: record.get("email") == email),
            "people": self.store.remove("people", lambda record: record.get("id") == person),
        }
        digest = hashlib.sha256(email.encode()).hexdigest()
        self.store.put("suppressions", person, {"email_sha256": digest, "at": now(), "reason": "erasure request"})
        return erased

    @_whole
    def subject(self, email: str) -> dict[str, Any]:
        """Everything kept about one person, as one document (a data-subject access request)."""
        leads = [lead for lead in self.store.records("leads") if lead.get("email") == email]
        responses = {lead.get("response") for lead in leads} - {"", None}
        return {
            "email": email,
            "suppressed": self.is_suppressed(email),
            "person": self.store.get("people", person_id(email)),
            "leads": leads,
            "responses": [record for record in self.store.records("responses") if record.get("id") in responses],
            "consent": [record for record in self.store.records("consent") if record.get("email") == email],
        }

    @_whole
    def reopen(self, identifier: str) -> None:
        """Forget which form made the lead, so that form sent again is taken anew (its email was lost)."""
        with contextlib.suppress(KeyError):  # erased meanwhile: nothing to reopen
            self.store.update("leads", identifier, {"submission": ""})

    def _append_consent(
        self, lead: Record, identifier: str, text: ConsentText, *, action: str, method: str, checkbox: bool | None
    ) -> None:
        """One piece of evidence about ``lead``: who and where come from the lead, what was shown from ``text``."""
        self.store.add(
            "consent",
            {
                "email": lead["email"],
                "channel": "email",
                "purpose": "marketing",
                "action": action,
                "checkbox": checkbox,
                "method": method,
                "text": text.text,
                "text_version": text.version,
                "text_sha256": text.sha256,
                "at": now(),
                "quiz": lead["quiz"],
                "lead": identifier,
                "page": lead.get("context", {}).get("page", ""),
                "origin": lead.get("site", ""),
            },
        )

    def _remember_person(self, email: str, identifier: str) -> None:
        person = person_id(email)
        record = self.store.get("people", person) or {"email": email, "leads": []}
        if identifier not in record["leads"]:
            record["leads"] = [*record["leads"], identifier]
            record.pop("id", None)
            self.store.put("people", person, record)


def _agreed(lead: Record) -> ConsentText:
    """The consent line a lead ticked, as its record keeps it."""
    consent = lead["consent"]
    return ConsentText(lead.get("consent_text", ""), consent["version"], consent["text_sha256"])


def submission_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:24]


def _status_after_opt_in(form: OptIn, existing: Record | None) -> str:
    """A new form never lowers a subscription: an unticked box means "no new consent", not "stop"."""
    before = existing["consent"]["status"] if existing else "none"
    if form.ticked and form.consent is not None:
        if before == "subscribed":
            return "subscribed"
        return "pending" if form.double_opt_in else "subscribed"
    return before if before in ("pending", "subscribed") else "none"


def _lead_record(form: OptIn, identifier: str, existing: Record | None, status: str) -> Record:
    at = now()
    response = form.response
    keep_old_consent = existing is not None and not (form.ticked and form.consent is not None)
    if keep_old_consent:
        assert existing is not None
        consent, consent_text = existing["consent"], existing.get("consent_text", "")
    else:
        consent = {
            "status": status,
            "at": at if status != "none" else None,
            "version": form.consent.version if form.consent and form.ticked else None,
            "text_sha256": form.consent.sha256 if form.consent and form.ticked else None,
        }
        if status == "pending":
            consent["nonce"] = secrets.token_urlsafe(12)
        consent_text = form.consent.text if form.consent and form.ticked else ""
    return {
        "email": form.email,
        "quiz": form.quiz_id,
        "quiz_version": form.quiz_version,
        "locale": form.locale,
        "answers": response.get("answers", {}),
        "products": response.get("products", []),
        "response": response.get("id", ""),
        "context": response.get("context", {}),
        "site": response.get("site", ""),
        "created_at": existing["created_at"] if existing else at,
        "updated_at": at,
        "consent": consent,
        "consent_text": consent_text,
        "submission": form.submission,
    }

"""Leads, people, consent evidence and suppressions, kept in the store (shapes: ``quiz.leads.records``).

Every change that a shopper is told about is durable before the handler answers, and made as one
store transaction: the consent evidence, the lead and the person that ties a person's leads
together for one-click unsubscribe are kept together or not at all. Transactions are keyed by the
person, so an erasure and an opt-in of the same person, or one form sent to two servers at once,
run one after the other on any backend and any number of processes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from quiz.consent import NOTHING_SHOWN, ConsentText, Provenance, now
from quiz.leads.records import lead_id, person_id
from quiz.leads.suppressions import Suppressions
from quiz.store.base import Record, Store, Writes


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


Letter = Callable[[Record], EmailMessage | None]  # the email a lead is sent, written from the lead
Send = Callable[[EmailMessage, Writes], None]  # queues it inside the opt-in's transaction


@dataclass(frozen=True)
class Outcome:
    lead: Record
    replayed: bool  # the same form was already taken: nothing was written or should be sent


class LeadBook:
    """Call it from worker threads, not the event loop: every call is store I/O."""

    def __init__(self, store: Store, suppressions: Suppressions, provenance: Provenance) -> None:
        self.store = store
        self.suppressions = suppressions
        self.provenance = provenance

    def is_suppressed(self, email: str) -> bool:
        return self.suppressions.contains(email)

    def opt_in(self, form: OptIn, letter: Letter | None = None, send: Send | None = None) -> Outcome:
        """Keep the lead with its evidence, and ``send(letter(lead), writes)`` in the same transaction.

        The letter is written first, outside the transaction, from the lead as it will most likely
        be (rendering it must not hold the store's lock or connection); only if another opt-in of
        the same person changed the lead meanwhile is it written again inside. ``letter`` may return
        None (no email: an address over its limit).
        """
        identifier = lead_id(form.email, form.quiz_id)
        before = self.store.get("leads", identifier)
        if before is not None and before.get("submission") == form.submission:
            return Outcome(before, replayed=True)
        expected = _lead_record(form, identifier, before, _status_after_opt_in(form, before))
        message = letter({**expected, "id": identifier}) if letter else None
        with self.store.transaction(person_id(form.email)) as writes:
            existing = writes.get("leads", identifier)
            if existing is not None and existing.get("submission") == form.submission:
                return Outcome(existing, replayed=True)  # the same form, taken meanwhile (another machine)
            lead = expected
            if existing != before:  # changed meanwhile: the lead, and its letter, as they are now
                lead = _lead_record(form, identifier, existing, _status_after_opt_in(form, existing))
                message = letter({**lead, "id": identifier}) if letter else None
            shown = form.consent or NOTHING_SHOWN  # the line shown, whether ticked or not
            evidence = self._evidence(lead, identifier, shown)
            _append_consent(writes, evidence, action="opt_in", method="checkbox", checkbox=form.ticked)
            _remember_person(writes, form.email, identifier)
            writes.put("leads", identifier, lead)
            if message is not None and send is not None:
                send(message, writes)
        return Outcome({**lead, "id": identifier}, replayed=False)

    def confirm(self, identifier: str, nonce: str) -> Record | None:
        """Double opt-in: the link's nonce turns a pending lead into a subscribed one, once."""
        found = self.store.get("leads", identifier)
        if found is None:
            return None
        with self.store.transaction(person_id(found["email"])) as writes:
            lead = writes.get("leads", identifier)  # again, inside: an erasure may have come first
            if lead is not None and lead["consent"]["status"] == "subscribed":
                return lead  # pressed twice: already done, nothing new to record
            if lead is None or not nonce or lead["consent"].get("nonce") != nonce:
                return None
            consent = {key: value for key, value in lead["consent"].items() if key != "nonce"}
            consent.update(status="subscribed", at=now())
            evidence = self._evidence(lead, identifier, _agreed(lead))
            _append_consent(writes, evidence, action="confirmed", method="double_opt_in")
            writes.update("leads", identifier, {"consent": consent, "updated_at": now()})
            self.suppressions.lift(writes, lead["email"])  # fresh, proven consent lifts an erasure's block
        return {**lead, "consent": consent}

    def withdraw(self, person: str, *, method: str) -> str | None:
        """Unsubscribe one person from every lead's marketing; returns their address, or None if unknown."""
        with self.store.transaction(person) as writes:
            record = writes.get("people", person)
            if record is None:
                return None
            for identifier in record.get("leads", []):
                lead = writes.get("leads", identifier)
                if lead is None or lead["consent"]["status"] in ("none", "unsubscribed"):
                    continue
                text = _agreed(lead)
                _append_consent(writes, self._evidence(lead, identifier, text), action="withdrawn", method=method)
                consent = {"status": "unsubscribed", "at": now(), **_consent_fields(text)}
                writes.update("leads", identifier, {"consent": consent, "updated_at": now()})
        return str(record["email"])

    def forget(self, email: str) -> dict[str, int]:
        """Erase a person: leads, the responses they sent, consent evidence, their person record.

        What stays is a suppression entry (a keyed hash of the address, see ``Suppressions``) so no later
        import or replayed form mails them again without fresh consent. Funnel events hold nothing about a
        person, so they stay.
        """
        person = person_id(email)
        with self.store.transaction(person) as writes:
            leads = writes.find("leads", email=email)
            responses = _responses_of(leads)
            erased = {
                "leads": writes.remove("leads", email=email),
                "responses": sum([writes.remove("responses", id=response) for response in responses]),
                "consent": writes.remove("consent", email=email),
                "people": writes.remove("people", id=person),
            }
            self.suppressions.add(writes, email, reason="erasure request")
        return erased

    def subject(self, email: str) -> dict[str, Any]:
        """Everything kept about one person, as one document (a data-subject access request)."""
        leads = self.store.find("leads", email=email)
        responses = _responses_of(leads)
        return {
            "email": email,
            "suppressed": self.is_suppressed(email),
            "person": self.store.get("people", person_id(email)),
            "leads": leads,
            "responses": [record for response in responses for record in self.store.find("responses", id=response)],
            "consent": self.store.find("consent", email=email),
        }

    def _evidence(self, lead: Record, identifier: str, text: ConsentText) -> Record:
        """What all evidence about ``lead`` says: who and where from the lead, what was shown from ``text``."""
        return {
            "email": lead["email"],
            "channel": "email",
            **self.provenance.evidence(text),
            "quiz": lead["quiz"],
            "quiz_version": lead.get("quiz_version", ""),
            "lead": identifier,
            "page": lead.get("context", {}).get("page", ""),
            "origin": lead.get("site", ""),
        }


def _append_consent(
    writes: Writes, evidence: Record, *, action: str, method: str, checkbox: bool | None = None
) -> None:
    writes.add("consent", {**evidence, "action": action, "checkbox": checkbox, "method": method, "at": now()})


def _remember_person(writes: Writes, email: str, identifier: str) -> None:
    person = person_id(email)
    record = writes.get("people", person) or {"email": email, "leads": []}
    if identifier not in record["leads"]:
        record["leads"] = [*record["leads"], identifier]
        writes.put("people", person, record)


def _responses_of(leads: list[Record]) -> list[str]:
    return sorted({str(lead["response"]) for lead in leads if lead.get("response")})


def _agreed(lead: Record) -> ConsentText:
    """The consent line a lead ticked, as its record keeps it (leads made before the locale was kept: the lead's)."""
    consent = lead["consent"]
    locale = consent.get("locale", lead.get("locale", ""))
    return ConsentText(lead.get("consent_text", ""), consent["version"], consent["text_sha256"], locale)


def _consent_fields(text: ConsentText) -> Record:
    """What a lead's consent status keeps of the text, so later evidence can name it again."""
    return {"version": text.version, "text_sha256": text.sha256, "locale": text.locale}


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
        agreed = form.consent if form.consent and form.ticked else None
        consent = {
            "status": status,
            "at": at if status != "none" else None,
            **(_consent_fields(agreed) if agreed else {"version": None, "text_sha256": None}),
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

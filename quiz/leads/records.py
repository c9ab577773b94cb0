"""Leads and consent as plain data: who asked for what, and the records that prove it.

No I/O here: ``quiz.leads.book`` keeps these records in the store. The shapes, field by field:

``responses`` (one per completed quiz run, written within a second like funnel events)
    id, quiz, quiz_version, locale, answers {question id: answer}, products [{id, score}],
    context {locale, product, page}, site (the embedding page's origin), started_at, completed_at

``leads`` (one per email and quiz, id ``lead_id(email, quiz)``, so a replayed form replaces, never adds)
    id, email, quiz, quiz_version, locale, answers, products, response (id), context, site,
    created_at, updated_at, consent {status, at, version, text_sha256, locale}, where status is
    ``none`` (results only, box unticked), ``pending`` (ticked, waiting for the confirmation link),
    ``subscribed`` or ``unsubscribed``

``people`` (id ``person_id(email)``): email, leads [lead ids]; how one unsubscribe reaches every lead

``consent`` (append-only evidence; one per opt-in, confirmation and withdrawal)
    email, channel, purpose, controller (the shop, ``QUIZ_CONTROLLER``), action (``opt_in``, ``confirmed``,
    ``withdrawn``), checkbox (ticked or not; None when no box was involved), method, text, text_version
    (the quiz's label and the text's hash), text_sha256, locale (the language it was shown in), at, quiz,
    quiz_version, widget_version, lead, page, origin

``suppressions`` (id: a keyed HMAC of the address, see ``quiz.leads.suppressions``): what ``quiz forget``
    leaves, never the address, so a forgotten person is not mailed again without fresh consent.

Times are UTC ISO 8601 with milliseconds (``quiz.consent.now``).
"""

from __future__ import annotations

import hashlib

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL_CHARS = 254  # RFC 5321's limit on a forward path

STATUSES = ("none", "pending", "subscribed", "unsubscribed")


class EmailError(ValueError):
    """An address we cannot mail; ``code`` names why for the shopper's message (quiz.web.wording)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def normalize_email(raw: str) -> str:
    """The address in one canonical form, so ``Foo@Example.com`` and ``foo@example.com`` are one lead.

    email-validator checks the syntax (no DNS lookup: a shopper's form must not wait on the network)
    and normalizes the domain; the local part is lower-cased too because no mailbox provider a shop
    meets treats case as different, and two leads for one person would double the mail.
    """
    address = raw.strip()
    if not address:
        raise EmailError("email_missing")
    if len(address) > MAX_EMAIL_CHARS or any(character in address for character in "\r\n\0"):
        raise EmailError("email_invalid")
    try:
        # SMTPUTF8 addresses (ü@example.com) fail at most mail servers: refused here, not retried for days.
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise EmailError("email_invalid") from None
    return str(checked.normalized).lower()


def person_id(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def lead_id(email: str, quiz_id: str) -> str:
    return hashlib.sha256(f"{email}\n{quiz_id}".encode()).hexdigest()[:32]

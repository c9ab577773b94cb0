"""LINE identities, the quiz responses they are linked to, and their consent evidence, in the store.

Collections (besides the shared ``consent`` evidence, where LINE's rows have ``channel: "line"``):

    line_users   id = LINE user id: friend and blocked flags, linked responses, consent status
    line_links   id = response id: which LINE user asked for this response's results, and what became of it
    line_logins  id = a login attempt: PKCE verifier, nonce, response, single use (LINE Login, flow A)
    line_codes   id = a one-time code shown with the results (flow C): the response it stands for
    line_events  id = webhookEventId: each webhook event takes effect once

The last three only serve for a while; ``prune`` deletes what has served.

Single use and de-duplication are the store's own (compare-and-set, insert-if-absent), and changes
to one user are transactions keyed by the user: they hold across processes and machines. Like the
lead book, every method is store I/O: call it from worker threads.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from quiz.consent import NOTHING_SHOWN, ConsentText, Provenance, now
from quiz.store.base import Record, Store, Writes

LOGIN_SECONDS = 10 * 60  # a LINE Login started from the quiz must come back within ten minutes
CODE_SECONDS = 7 * 24 * 60 * 60  # a shopper may add the account days later and still send the code
EVENT_SECONDS = 7 * 24 * 60 * 60  # webhook event ids are kept longer than LINE goes on redelivering
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a screen, typed on a phone
CODE_LENGTH = 8
LINE_USER_ID = r"U[0-9a-f]{32}"
LATEST_FIELDS = ("quiz", "quiz_version", "locale", "answers", "products", "context", "site", "id")


@dataclass(frozen=True)
class Linking:
    """A LINE user asking for one response's results, with the consent line they were shown."""

    user: str
    response: Record  # the stored completed response: id, quiz, answers, products, locale, context
    consent: ConsentText | None  # the quiz's LINE consent line, None when the quiz shows none
    ticked: bool
    method: str  # "line_login" (flow A) or "chat_code" (flow C)
    friend: bool


class LineBook:
    def __init__(self, store: Store, provenance: Provenance, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.provenance = provenance
        self._clock = clock

    # --- flow A: LINE Login -------------------------------------------------------------------------

    def begin_login(self, quiz_id: str, token: str, *, ticked: bool, verifier: str, nonce: str) -> str:
        """Remember one login attempt (durably: the shopper leaves for LINE next); returns its id.

        ``token`` is the shopper's signed progress: the answers come back from it after the login.
        """
        attempt = secrets.token_urlsafe(18)
        record = {
            "quiz": quiz_id,
            "token": token,
            "ticked": ticked,
            "verifier": verifier,
            "nonce": nonce,
            "started": self._clock(),
            "used": False,
        }
        self.store.put("line_logins", attempt, record)
        return attempt

    def take_login(self, attempt: str) -> Record | None:
        """The attempt, once: a second callback with the same state, or a late one, gets None."""
        taken = self.store.swap("line_logins", attempt, {"used": False}, {"used": True, "verifier": "", "nonce": ""})
        if taken is None or self._clock() - taken["started"] > LOGIN_SECONDS:
            return None
        self.store.update("line_logins", attempt, {"token": ""})  # the answers are not kept longer than needed
        return taken

    # --- flow C: a code sent in chat ----------------------------------------------------------------

    def remember_code(self, response_id: str) -> None:
        """Make the response's code usable in chat: durable, since the shopper reads it at once."""
        code = {"response": response_id, "issued": self._clock(), "used": False}
        self.store.put("line_codes", line_code(response_id), code)

    def take_code(self, text: str) -> str | None:
        """The response a code sent in chat stands for, once; None for an unknown, used or stale code."""
        code = normal_code(text)
        if code is None:
            return None
        record = self.store.get("line_codes", code)
        if record is None or self._clock() - record["issued"] > CODE_SECONDS:
            return None
        # Codes kept before they had a "used" field are matched by their time instead.
        unused = {"used": False} if "used" in record else {"issued": record["issued"]}
        taken = self.store.swap("line_codes", code, unused, {"used": True})
        return None if taken is None else str(taken["response"])

    # --- identities, consent, friendship ------------------------------------------------------------

    def link(self, linking: Linking) -> Record:
        """Tie a LINE user to a response and record the consent they gave (or did not); returns the user."""
        response, user_id = linking.response, linking.user
        with self.store.transaction(user_id) as writes:
            user = writes.get("line_users", user_id) or _new_user()
            user.pop("id", None)
            user["responses"] = list(dict.fromkeys([*user["responses"], response["id"]]))
            if not user["blocked"]:  # a block recorded meanwhile (another machine's unfollow) stands
                user["friend"] = linking.friend or user["friend"]
            user["updated_at"] = now()
            user["latest"] = {key: response.get(key) for key in LATEST_FIELDS}  # the export reads no other record
            shown = linking.consent or NOTHING_SHOWN
            if linking.ticked and linking.consent is not None:
                user["consent"] = _consent("subscribed", shown)
                user["consent_text"] = shown.text
            evidence = self._evidence(user_id, response, shown)
            _append_consent(writes, evidence, action="opt_in", method=linking.method, box=linking.ticked)
            writes.put("line_users", user_id, user)
            writes.put("line_links", response["id"], {"user": user_id, "status": "linked", "at": now()})
        return {**user, "id": user_id}

    def mark(self, response_id: str, status: str) -> None:
        """What became of a linked response's results: "sent", "not_friend" or "failed"."""
        if not self.store.update("line_links", response_id, {"status": status, "at": now()}):
            self.store.insert_new("line_links", response_id, {"status": status, "at": now()})

    def status_of(self, response_id: str) -> str:
        link = self.store.get("line_links", response_id)
        return str(link.get("status", "")) if link else ""

    def befriended(self, user_id: str) -> Record | None:
        """The user added (or unblocked) the official account; returns them if known."""
        with self.store.transaction(user_id) as writes:
            user = writes.get("line_users", user_id)
            if user is None:
                return None
            writes.update("line_users", user_id, {"friend": True, "blocked": False, "updated_at": now()})
        return {**user, "friend": True, "blocked": False}

    def blocked(self, user_id: str) -> None:
        """The user blocked the account: no more pushes, and their marketing consent is withdrawn."""
        self.withdraw(user_id, method="blocked", flags={"friend": False, "blocked": True})

    def withdraw(self, user_id: str, *, method: str, flags: dict[str, bool] | None = None) -> None:
        with self.store.transaction(user_id) as writes:
            user = writes.get("line_users", user_id)
            if user is None:
                return
            changes: Record = {**(flags or {}), "updated_at": now()}
            if user["consent"]["status"] == "subscribed":
                text = _agreed(user)
                changes["consent"] = _consent("unsubscribed", text)
                latest = writes.get("responses", user["responses"][-1]) if user["responses"] else None
                evidence = self._evidence(user_id, latest or user.get("latest") or {}, text)
                _append_consent(writes, evidence, action="withdrawn", method=method, box=None)
            writes.update("line_users", user_id, changes)

    def may_push(self, user_id: str) -> bool:
        """Results go only to a friend who has not blocked the account."""
        user = self.store.get("line_users", user_id)
        return user is not None and user["friend"] and not user["blocked"]

    def user(self, user_id: str) -> Record | None:
        return self.store.get("line_users", user_id)

    def seen_event(self, event_id: str) -> bool:
        """True if this webhook event was handled before (LINE redelivers); marks it handled otherwise."""
        return not self.store.insert_new("line_events", event_id, {"seen": self._clock()})

    def prune(self) -> dict[str, int]:
        """Delete what has served its purpose: taken or stale logins, used or stale codes, old event ids.

        What is deleted would be refused anyway, so pruning changes no answer; it only stops growth.
        """
        at, store = self._clock(), self.store
        return {
            "line_logins": store.remove("line_logins", used=True)
            + store.remove_older("line_logins", "started", at - LOGIN_SECONDS),
            "line_codes": store.remove("line_codes", used=True)
            + store.remove_older("line_codes", "issued", at - CODE_SECONDS),
            "line_events": store.remove_older("line_events", "seen", at - EVENT_SECONDS),
        }

    # --- erasure and access -------------------------------------------------------------------------

    def forget(self, user_id: str) -> dict[str, int]:
        """Erase a LINE user: identity, links, responses they asked results for, consent evidence."""
        with self.store.transaction(user_id) as writes:
            user = writes.get("line_users", user_id)
            responses = sorted(set(user["responses"])) if user else []
            return {
                "line_users": writes.remove("line_users", id=user_id),
                "line_links": writes.remove("line_links", user=user_id),
                "responses": sum([writes.remove("responses", id=response) for response in responses]),
                "consent": writes.remove("consent", line_user=user_id),
            }

    def _evidence(self, user_id: str, response: Record, text: ConsentText) -> Record:
        """What all evidence about a LINE user says: where from the response, what was shown from ``text``."""
        return {
            "email": "",
            "line_user": user_id,
            "channel": "line",
            **self.provenance.evidence(text),
            "quiz": response.get("quiz", ""),
            "quiz_version": response.get("quiz_version", ""),
            "response": response.get("id", ""),
            "page": response.get("context", {}).get("page", ""),
            "origin": response.get("site", ""),
        }

    def subject(self, user_id: str) -> dict[str, Any]:
        user = self.store.get("line_users", user_id)
        responses = sorted(set(user["responses"])) if user else []
        return {
            "line_user": user_id,
            "user": user,
            "responses": [record for response in responses for record in self.store.find("responses", id=response)],
            "consent": self.store.find("consent", line_user=user_id),
        }


def _append_consent(writes: Writes, evidence: Record, *, action: str, method: str, box: bool | None) -> None:
    writes.add("consent", {**evidence, "action": action, "checkbox": box, "method": method, "at": now()})


def _agreed(user: Record) -> ConsentText:
    """The LINE consent line a user agreed to, as their record keeps it."""
    consent = user["consent"]
    locale = consent.get("locale", (user.get("latest") or {}).get("locale", ""))
    return ConsentText(user.get("consent_text", ""), consent["version"], consent["text_sha256"], locale)


def line_code(response_id: str) -> str:
    """The response's chat code, ``ABCD-EFGH``: derived from its id, which only that shopper's token holds."""
    number = int.from_bytes(hashlib.sha256(f"line-code:{response_id}".encode()).digest()[:8], "big")
    letters = []
    for _ in range(CODE_LENGTH):
        number, index = divmod(number, len(CODE_ALPHABET))
        letters.append(CODE_ALPHABET[index])
    return "".join(letters[:4]) + "-" + "".join(letters[4:])


def normal_code(text: str) -> str | None:
    """A code as a shopper typed it (full-width, lower case, spaces or no hyphen) in its stored form."""
    squeezed = re.sub(r"[\s\-ー－‐]", "", unicodedata.normalize("NFKC", text)).upper()
    if len(squeezed) != CODE_LENGTH or any(letter not in CODE_ALPHABET for letter in squeezed):
        return None
    return squeezed[:4] + "-" + squeezed[4:]


def _new_user() -> Record:
    at = now()
    return {
        "friend": False,
        "blocked": False,
        "responses": [],
        "consent": {"status": "none", "at": None, "version": None, "text_sha256": None},
        "consent_text": "",
        "created_at": at,
        "updated_at": at,
    }


def _consent(status: str, text: ConsentText) -> Record:
    return {"status": status, "at": now(), "version": text.version, "text_sha256": text.sha256, "locale": text.locale}

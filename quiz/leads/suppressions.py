"""The suppression list: people who were erased, kept so no import or replayed form mails them again.

An entry is named by a keyed HMAC-SHA256 of the address, never the address. An unkeyed hash would
let anyone holding a copy of the store and a list of addresses (a leaked backup and a marketing
list) test who asked to be forgotten; the HMAC cannot be tested without the key, which lives in
the settings (``QUIZ_SUPPRESSION_KEY``, else the oldest of ``QUIZ_SECRET_KEYS``), never in the store.

The store keeps the key's fingerprint instead, so a server started with another key refuses to
start while keyed entries exist: they would silently stop matching, and erased people would get
mail again. Entries made before they were keyed (named by the unkeyed ``person_id``, holding an
``email_sha256``) are still honoured, and replaced by a keyed one when that person is erased again.
"""

from __future__ import annotations

import hashlib
import hmac

from quiz.consent import now
from quiz.leads.records import person_id
from quiz.settings import SettingsError
from quiz.store.base import Store, Writes

COLLECTION = "suppressions"
KEYS = "suppression_keys"  # one record, "current": the fingerprint of the key the entries are made with
SCHEME = "hmac-sha256"


class Suppressions:
    def __init__(self, store: Store, key: str) -> None:
        self.store = store
        # Its own key, derived, so the HMAC never equals anything else the secret key signs.
        self._key = hmac.new(key.encode(), b"quiz.suppression", hashlib.sha256).digest()

    def entry_id(self, email: str) -> str:
        return hmac.new(self._key, email.encode(), hashlib.sha256).hexdigest()[:32]

    def fingerprint(self) -> str:
        return hmac.new(self._key, b"fingerprint", hashlib.sha256).hexdigest()[:16]

    def contains(self, email: str) -> bool:
        found = self.store.get_many(COLLECTION, [self.entry_id(email), person_id(email)])
        return bool(found)

    def add(self, writes: Writes, email: str, *, reason: str) -> None:
        writes.remove(COLLECTION, id=person_id(email))  # an unkeyed entry of an earlier version gives way
        writes.put(COLLECTION, self.entry_id(email), {"scheme": SCHEME, "at": now(), "reason": reason})

    def lift(self, writes: Writes, email: str) -> None:
        """Fresh, proven consent ends the block, whichever way the entry was named."""
        for entry in (self.entry_id(email), person_id(email)):
            writes.remove(COLLECTION, id=entry)

    def check_key(self, *, remember: bool = True) -> None:
        """Refuse a key other than the one the stored entries were made with; remember it if there is none.

        ``remember=False`` for a reader that must not write (``quiz subject`` beside a running server).
        """
        current = {"fingerprint": self.fingerprint(), "at": now()}
        if remember and self.store.insert_new(KEYS, "current", current):
            return
        stored = self.store.get(KEYS, "current")
        if stored is None:
            return
        if stored.get("fingerprint") == current["fingerprint"]:
            return
        keyed = len(self.store.find(COLLECTION, scheme=SCHEME))
        if keyed:
            raise SettingsError(
                f"QUIZ_SUPPRESSION_KEY: the store's {keyed} suppression entries (people who were erased) were made"
                " with another key, and would stop matching: set QUIZ_SUPPRESSION_KEY to that key (when it is"
                " not set, the key is the oldest of QUIZ_SECRET_KEYS; keep a retired secret key here)"
            )
        if remember:
            self.store.put(KEYS, "current", current)  # nothing was made with the old key: the new one takes over

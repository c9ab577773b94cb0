"""Who may sign in to the dashboard: an address, a role, and an argon2 hash of the password, in the store.

Roles, each allowed what the one before is, and more:

- ``viewer``: aggregates only (the funnel, answers, recommendations);
- ``marketer``: also sees and downloads leads;
- ``owner``: also erases people and manages users.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended profile);
a hash made with weaker parameters is made again at the next sign-in. An unknown address costs a
sign-in as long as a known one, so the timing does not tell which addresses have accounts.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from quiz.consent import now
from quiz.leads.records import EmailError, normalize_email
from quiz.marketer.sessions import Sessions
from quiz.store.base import Record, Store

COLLECTION = "users"
ROLES = ("viewer", "marketer", "owner")
MIN_PASSWORD_CHARS = 12  # NIST SP 800-63B asks at least 8; a dashboard of personal data asks more
MAX_PASSWORD_CHARS = 1_000  # argon2 hashes any length; this bounds the work a hostile form can ask


class UserError(ValueError):
    """A user cannot be added or changed as asked; the message says why."""


@dataclass(frozen=True)
class User:
    email: str
    role: str
    created_at: str

    def may(self, role: str) -> bool:
        """At least ``role``'s rights: an owner may what a marketer may."""
        return ROLES.index(self.role) >= ROLES.index(role)


class Users:
    def __init__(self, store: Store, *, hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))  # what an unknown address is checked against

    def add(self, email: str, role: str, password: str) -> User:
        address = _address(email)
        if role not in ROLES:
            raise UserError(f"{role!r} is not a role; use one of {', '.join(ROLES)}")
        check_password(password)
        record = {"email": address, "role": role, "hash": self._hasher.hash(password), "created_at": now()}
        if not self.store.insert_new(COLLECTION, address, record):
            raise UserError(f"{address} is already a user; remove it first to change its role or password")
        return _user(record)

    def remove(self, email: str) -> bool:
        """Remove a user and end their sessions (so one added again later under the address starts afresh)."""
        address = _address(email)
        Sessions(self.store).end_all(address)
        return self.store.remove(COLLECTION, id=address) > 0

    def all(self) -> list[User]:
        return sorted((_user(record) for record in self.store.records(COLLECTION)), key=lambda user: user.email)

    def get(self, email: str) -> User | None:
        try:
            record = self.store.get(COLLECTION, _address(email))
        except UserError:
            return None
        return None if record is None else _user(record)

    def verify(self, email: str, password: str) -> User | None:
        """The user if the password is theirs, else None (unknown address or wrong password alike)."""
        try:
            record = self.store.get(COLLECTION, _address(email))
        except UserError:
            record = None
        if len(password) > MAX_PASSWORD_CHARS:
            return None
        try:
            self._hasher.verify(record["hash"] if record else self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if record is None:
            return None
        if self._hasher.check_needs_rehash(record["hash"]):
            self.store.update(COLLECTION, record["id"], {"hash": self._hasher.hash(password)})
        return _user(record)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise UserError(f"a password may have at most {MAX_PASSWORD_CHARS} characters")
    if password != password.strip():
        raise UserError("a password may not start or end with a space (it would be lost when typed again)")


def generated_password() -> str:
    """A password to print once: 24 URL-safe characters, 144 bits."""
    return secrets.token_urlsafe(18)


def account_key(email: str) -> str:
    """The account a sign-in names, as the store keeps it: the limit on tries counts "A@x.jp" and "a@X.JP" as one."""
    try:
        return normalize_email(email)
    except EmailError:
        return email.lower()  # not an address: no account, but its tries are still counted


def _address(email: str) -> str:
    try:
        return normalize_email(email)
    except EmailError:
        raise UserError(f"{email[:100]!r} is not an email address") from None


def _user(record: Record) -> User:
    return User(email=str(record["email"]), role=str(record["role"]), created_at=str(record["created_at"]))

"""Dashboard users: argon2 hashes in the store, roles, and `quiz user add|list|remove` on the command line."""

from __future__ import annotations

import io

import pytest
from argon2 import PasswordHasher

from quiz import cli
from quiz.marketer.users import User, UserError, Users
from quiz.store.memory import MemoryStore
from quiz.store.tiny import TinyStore

PASSWORD = "correct horse battery"


@pytest.fixture(params=["memory", "postgres"])
def users(request) -> Users:
    if request.param == "memory":
        return Users(MemoryStore())
    from quiz.store.postgres import PostgresStore

    store = PostgresStore(request.getfixturevalue("postgres_database"))
    request.addfinalizer(store.close)
    return Users(store)


def test_a_user_signs_in_with_their_password_only(users):
    added = users.add("Ana@Example.com", "marketer", PASSWORD)
    assert added.email == "ana@example.com" and added.role == "marketer"
    assert users.verify("ana@example.com", PASSWORD) == added
    assert users.verify("ANA@example.com", PASSWORD) == added
    assert users.verify("ana@example.com", PASSWORD + "!") is None
    assert users.verify("nobody@example.com", PASSWORD) is None
    assert users.verify("not an address", PASSWORD) is None
    assert users.verify("ana@example.com", "x" * 100_000) is None  # no unbounded hashing
    hashes = [record["hash"] for record in users.store.records("users")]
    assert PASSWORD not in repr(hashes) and hashes[0].startswith("$argon2id$")


@pytest.mark.parametrize(
    ("email", "role", "password", "message"),
    [
        ("ana@example.com", "admin", PASSWORD, "'admin' is not a role"),
        ("ana@example.com", "viewer", "short", "at least 12 characters"),
        ("ana@example.com", "viewer", " " + PASSWORD, "may not start or end with a space"),
        ("not-an-address", "viewer", PASSWORD, "is not an email address"),
    ],
)
def test_bad_users_are_refused_with_a_sentence(users, email, role, password, message):
    with pytest.raises(UserError, match=message):
        users.add(email, role, password)
    assert users.all() == []


def test_an_address_is_one_user_and_removing_it_ends_its_sign_in(users):
    users.add("ana@example.com", "owner", PASSWORD)
    with pytest.raises(UserError, match="already a user"):
        users.add("ANA@example.com", "viewer", PASSWORD)
    users.add("ben@example.com", "viewer", PASSWORD)
    assert [user.email for user in users.all()] == ["ana@example.com", "ben@example.com"]
    assert users.remove("ana@example.com") is True and users.remove("ana@example.com") is False
    assert users.verify("ana@example.com", PASSWORD) is None


def test_roles_include_the_rights_of_those_below():
    owner, viewer = User("o@example.com", "owner", ""), User("v@example.com", "viewer", "")
    assert owner.may("marketer") and owner.may("viewer") and viewer.may("viewer") and not viewer.may("marketer")


def test_a_hash_made_with_weaker_parameters_is_made_again_at_sign_in():
    store = MemoryStore()
    Users(store, hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)).add(
        "a@example.com", "viewer", PASSWORD
    )
    weak = store.get("users", "a@example.com")["hash"]
    assert Users(store).verify("a@example.com", PASSWORD) is not None
    assert store.get("users", "a@example.com")["hash"] != weak


# --- the command line -----------------------------------------------------------------------------


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("QUIZ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QUIZ_SECRET_KEYS", "k")
    monkeypatch.delenv("QUIZ_STORE_URL", raising=False)
    return tmp_path / "data"


def _stored_users(data):
    store = TinyStore(data / "store", read_only=True)
    return Users(store)


def test_a_password_read_from_standard_input_for_scripts(data, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["user", "add", "ana@example.com", "--role", "owner", "--password-stdin"]) == 0
    assert "added ana@example.com as owner" in capsys.readouterr().out
    assert _stored_users(data).verify("ana@example.com", PASSWORD) is not None


def test_a_generated_password_is_printed_once_and_works(data, capsys):
    assert cli.main(["user", "add", "ben@example.com", "--role", "viewer", "--generate"]) == 0
    out = capsys.readouterr().out
    password = out.split("password (shown once): ")[1].strip()
    assert len(password) == 24 and _stored_users(data).verify("ben@example.com", password) is not None
    assert cli.main(["user", "list"]) == 0
    assert capsys.readouterr().out.startswith("ben@example.com\tviewer\t")


def test_a_password_typed_twice_must_match(data, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    typed = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    assert cli.main(["user", "add", "ana@example.com", "--role", "viewer"]) == 2
    assert "the two passwords differ; nothing was changed" in capsys.readouterr().err
    typed = iter([PASSWORD, PASSWORD])
    assert cli.main(["user", "add", "ana@example.com", "--role", "viewer"]) == 0


def test_without_a_terminal_the_command_says_how_to_give_a_password(data, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["user", "add", "ana@example.com", "--role", "viewer"]) == 2
    assert "use --password-stdin or --generate" in capsys.readouterr().err


def test_removing_and_bad_input_answer_with_their_status(data, capsys):
    assert cli.main(["user", "remove", "nobody@example.com"]) == 1
    assert "is not a user" in capsys.readouterr().err
    assert cli.main(["user", "add", "not an address", "--role", "viewer", "--generate"]) == 2
    assert "is not an email address" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["user", "add", "ana@example.com", "--role", "admin", "--generate"])


def test_a_running_server_on_the_embedded_store_is_named_with_what_to_do(data, capsys):
    running = TinyStore(data / "store")
    try:
        assert cli.main(["user", "add", "ana@example.com", "--role", "viewer", "--generate"]) == 2
        assert "stop it to change users, or share a PostgreSQL store" in capsys.readouterr().err
    finally:
        running.close()

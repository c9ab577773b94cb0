"""Erasure and access for one person: `quiz forget`, `quiz subject` and their API endpoints."""

import hashlib
import json

import pytest
from starlette.testclient import TestClient
from test_optin import make_client, opt_in, results_page, stored

from quiz import cli
from quiz.leads import optin
from quiz.leads.channel import EmailChannel
from quiz.web.services import services_of

KEY = "k" * 32


@pytest.fixture(autouse=True)
def humans_type_instantly(monkeypatch):
    monkeypatch.setattr(optin, "MIN_SECONDS_ON_FORM", 0)


def with_two_leads(tmp_path, **settings):
    client = make_client(tmp_path, **settings)
    with client:
        opt_in(client, results_page(client), "gone@example.com")
        opt_in(client, results_page(client), "stays@example.com")
        services_of(client.app).channel(EmailChannel).mail.deliver_due()
    return client


def test_quiz_subject_then_quiz_forget_from_the_command_line(tmp_path, monkeypatch, capsys):
    with_two_leads(tmp_path)
    monkeypatch.setenv("QUIZ_DATA_DIR", str(tmp_path / "data"))
    assert cli.main(["subject", "Gone@Example.com"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["email"] == "gone@example.com" and len(document["leads"]) == 1
    assert [event["action"] for event in document["consent"]] == ["opt_in"]
    assert document["responses"][0]["quiz"] == "serum" and document["suppressed"] is False

    assert cli.main(["forget", "gone@example.com"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["erased"] == {"leads": 1, "responses": 1, "consent": 1, "people": 1, "mail": 1}
    data = tmp_path / "data"
    everything = "".join(path.read_text(errors="replace") for path in data.rglob("*") if path.is_file())
    assert "gone@example.com" not in everything and "stays@example.com" in everything
    assert cli.main(["subject", "gone@example.com"]) == 0
    assert json.loads(capsys.readouterr().out)["suppressed"] is True


def test_quiz_subject_beside_a_running_server_changes_no_file_of_its(tmp_path, monkeypatch, capsys):
    with_two_leads(tmp_path)
    data = tmp_path / "data"
    with make_client(tmp_path):
        # What a live write has on disk before it lands: a temporary file beside the segment.
        (data / "store" / "leads" / ".000001.json.ab12.tmp").write_bytes(b"being written")
        before = {path: path.stat().st_mtime_ns for path in data.rglob("*")}
        monkeypatch.setenv("QUIZ_DATA_DIR", str(data))
        assert cli.main(["subject", "gone@example.com"]) == 0
        assert json.loads(capsys.readouterr().out)["email"] == "gone@example.com"
        assert {path: path.stat().st_mtime_ns for path in data.rglob("*")} == before


def test_quiz_forget_also_erases_a_half_written_copy_a_crash_left(tmp_path, monkeypatch, capsys):
    with_two_leads(tmp_path)
    leftover = tmp_path / "data" / "store" / "outbox" / ".000001.json.ab12.tmp"
    leftover.write_bytes(b'{"records": {"1": {"recipient": "gone@example.com", "payload": "half a mess')
    monkeypatch.setenv("QUIZ_DATA_DIR", str(tmp_path / "data"))
    assert cli.main(["forget", "gone@example.com"]) == 0
    assert not leftover.exists()


def test_quiz_forget_refuses_while_a_server_holds_the_folder(tmp_path, monkeypatch, capsys):
    with make_client(tmp_path):
        monkeypatch.setenv("QUIZ_DATA_DIR", str(tmp_path / "data"))
        assert cli.main(["forget", "a@example.com"]) == 2
    assert "POST /api/forget" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["forget", "subject"])
def test_a_bad_address_is_a_message_not_a_traceback(tmp_path, monkeypatch, capsys, command):
    monkeypatch.setenv("QUIZ_DATA_DIR", str(tmp_path / "data"))
    assert cli.main([command, "not-an-address\r\n"]) == 2
    assert "is neither an email address nor a LINE user id" in capsys.readouterr().err


def api_client(tmp_path, api_key=KEY):
    with_two_leads(tmp_path)
    (tmp_path / "quizzes" / "serum.json").touch()
    from quiz.app import create_app
    from quiz.settings import from_environment

    environ = {"QUIZ_DATA_DIR": str(tmp_path / "data"), "QUIZ_API_KEY": api_key}
    return TestClient(create_app(from_environment(environ, quizzes_dir=str(tmp_path / "quizzes"))))


def test_the_api_forgets_and_describes_with_the_key(tmp_path):
    with api_client(tmp_path) as client:
        auth = {"Authorization": f"Bearer {KEY}"}
        described = client.post("/api/subject", json={"email": "GONE@example.com"}, headers=auth)
        assert described.status_code == 200 and len(described.json()["leads"]) == 1
        forgotten = client.post("/api/forget", data={"email": "gone@example.com"}, headers=auth)
        assert forgotten.status_code == 200 and forgotten.json()["erased"]["leads"] == 1
        assert [lead["email"] for lead in stored(client, "leads")] == ["stays@example.com"]


@pytest.mark.parametrize("path", ["/api/forget", "/api/subject"])
def test_the_api_needs_the_key_and_gives_no_hint(tmp_path, path):
    with api_client(tmp_path) as client:
        missing = client.post(path, data={"email": "gone@example.com"})
        wrong = client.post(path, data={"email": "gone@example.com"}, headers={"Authorization": "Bearer nope"})
        assert missing.status_code == wrong.status_code == 401 and missing.text == wrong.text
        assert len(stored(client, "leads")) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "not valid JSON"),
        ({"json": ["gone@example.com"]}, "email: missing"),
        ({"data": {}}, "email: missing"),
        ({"data": {"email": "x" * 10_000}}, "not an email address"),
    ],
)
def test_bad_bodies_get_a_400_that_says_what(tmp_path, body, message):
    with api_client(tmp_path) as client:
        headers = {"Authorization": f"Bearer {KEY}", **body.pop("headers", {})}
        response = client.post("/api/forget", headers=headers, **body)
        assert response.status_code == 400 and message in response.text
        assert len(stored(client, "leads")) == 2


def test_the_access_export_shows_the_whole_consent_evidence(tmp_path, monkeypatch, capsys):
    with_two_leads(tmp_path)
    monkeypatch.setenv("QUIZ_DATA_DIR", str(tmp_path / "data"))
    assert cli.main(["subject", "gone@example.com"]) == 0
    (evidence,) = json.loads(capsys.readouterr().out)["consent"]
    assert evidence["controller"] == "Serum Shop K.K." and evidence["locale"] == "en"
    assert evidence["text_version"].startswith("v1+") and evidence["text"]
    assert evidence["quiz_version"] and evidence["widget_version"].startswith("0.1.0+")


def erased_store(tmp_path):
    """A store where gone@example.com was erased, and the client that erased it (closed)."""
    client = with_two_leads(tmp_path)
    with client:
        services_of(client.app).channel(EmailChannel).book.forget("gone@example.com")
    return client


def test_the_suppression_is_a_keyed_hmac_that_no_list_of_addresses_can_test(tmp_path):
    from quiz.leads.records import person_id
    from quiz.leads.suppressions import Suppressions
    from quiz.store.tiny import TinyStore

    erased_store(tmp_path)
    store = TinyStore(tmp_path / "data" / "store")
    try:
        (entry,) = store.records("suppressions")
        on_disk = "".join(path.read_text() for path in (tmp_path / "data" / "store").rglob("*.json"))
        plain = hashlib.sha256(b"gone@example.com").hexdigest()
        # Neither the unkeyed hash nor the id derived from it: holding the store and a list of addresses is not enough.
        assert plain not in on_disk and person_id("gone@example.com") not in on_disk
        assert entry["scheme"] == "hmac-sha256" and set(entry) == {"id", "scheme", "at", "reason"}
        key = (tmp_path / "data" / "secret_key").read_text().strip()
        assert Suppressions(store, key).contains("gone@example.com")
        assert not Suppressions(store, key).contains("stays@example.com")
        assert not Suppressions(store, "a guessed key").contains("gone@example.com")
    finally:
        store.close()


def test_an_unkeyed_entry_of_an_earlier_version_is_honoured_then_replaced(tmp_path):
    from quiz.leads.records import person_id

    with make_client(tmp_path) as client:
        store = services_of(client.app).store
        old_id = person_id("old@example.com")
        store.put("suppressions", old_id, {"email_sha256": "…", "at": "2025-01-01T00:00:00.000+00:00", "reason": "x"})
        book = services_of(client.app).channel(EmailChannel).book
        assert book.is_suppressed("old@example.com") and not book.is_suppressed("new@example.com")
        opt_in(client, results_page(client), "old@example.com", consent=False)
        assert not stored(client, "leads")  # no fresh consent: nothing is kept, nothing is sent
        book.forget("old@example.com")  # erased again: the entry is keyed now
        (entry,) = stored(client, "suppressions")
        assert entry["id"] != old_id and entry["scheme"] == "hmac-sha256"
        assert book.is_suppressed("old@example.com")


def test_another_suppression_key_refuses_to_start_while_entries_exist(tmp_path, monkeypatch, capsys):
    from quiz.app import create_app
    from quiz.settings import SettingsError, from_environment

    erased_store(tmp_path)
    environ = {"QUIZ_DATA_DIR": str(tmp_path / "data"), "QUIZ_SUPPRESSION_KEY": "another key"}
    with pytest.raises(SettingsError, match="QUIZ_SUPPRESSION_KEY: the store's 1 suppression entries"):
        create_app(from_environment(environ, quizzes_dir=str(tmp_path / "quizzes")))
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["serve", str(tmp_path / "quizzes"), "--port", "1"]) == 2  # before it would listen anywhere
    assert "were made with another key, and would stop matching" in capsys.readouterr().err
    assert cli.main(["forget", "stays@example.com"]) == 2
    assert "QUIZ_SUPPRESSION_KEY" in capsys.readouterr().err
    key = (tmp_path / "data" / "secret_key").read_text().strip()
    monkeypatch.setenv("QUIZ_SUPPRESSION_KEY", key)  # the key the entries were made with, named explicitly
    assert cli.main(["subject", "gone@example.com"]) == 0
    assert json.loads(capsys.readouterr().out)["suppressed"] is True


def test_a_new_suppression_key_takes_over_while_nothing_was_made_with_the_old(tmp_path):
    from quiz.app import create_app
    from quiz.settings import from_environment

    with_two_leads(tmp_path)  # a fingerprint is stored, but no one was erased
    environ = {"QUIZ_DATA_DIR": str(tmp_path / "data"), "QUIZ_SUPPRESSION_KEY": "a new key"}
    with TestClient(create_app(from_environment(environ, quizzes_dir=str(tmp_path / "quizzes")))) as client:
        book = services_of(client.app).channel(EmailChannel).book
        book.forget("gone@example.com")
        assert book.is_suppressed("gone@example.com")

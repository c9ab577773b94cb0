"""Erasure and access for one person: `quiz forget`, `quiz subject` and their API endpoints."""

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

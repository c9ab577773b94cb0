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


def test_a_new_catalog_goes_live_without_touching_the_quiz_file(tmp_path):
    """What ``quiz catalog fetch`` relies on: the catalog is watched as the quiz file is."""
    feed = tmp_path / "products.tsv"
    header = "id\ttitle\tlink\tprice\n"
    feed.write_text(header + "aqua\tAqua serum\thttps://s.example/aqua\t30.00 USD\n", encoding="utf-8")
    write(tmp_path / "serum.json", products=[], catalog="products.tsv", scoring={"fallback": ["aqua"]})
    library = QuizLibrary(tmp_path, recheck_seconds=0)
    assert [product.id for product in library.get("serum").products] == ["aqua"]
    before = library.stamp("serum")
    feed.write_text(
        header + "aqua\tAqua serum\thttps://s.example/aqua\t30.00 USD\nrose\tRose\thttps://s.example/rose\t25 USD\n"
    )
    assert [product.id for product in library.get("serum").products] == ["aqua", "rose"]
    assert library.stamp("serum") != before  # the preview reloads for a new catalog too
    feed.write_text("not a feed", encoding="utf-8")  # a broken catalog keeps the last good quiz live
    assert [product.id for product in library.get("serum").products] == ["aqua", "rose"]

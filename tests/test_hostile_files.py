"""Hostile quiz files and catalog paths: each is refused with a located sentence, nothing blocks, and a
bad file never takes another quiz (or the server) down."""

from __future__ import annotations

import json
import os
import threading

import pytest
from factory import quiz_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.authoring.loader import load_quiz
from quiz.cli import main
from quiz.settings import from_environment
from quiz.web.library import QuizLibrary


def quiz_with_catalog(folder, name, catalog):
    path = folder / name
    path.write_text(json.dumps(quiz_document(catalog=catalog)), encoding="utf-8")
    return path


def loaded_within(path, seconds=10.0):
    """``load_quiz(path)`` on a thread: a loader that blocks fails the test instead of hanging it."""
    found = []
    worker = threading.Thread(target=lambda: found.append(load_quiz(path)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert found, f"loading {path} blocked for {seconds} s"
    return found[0]


@pytest.mark.parametrize(
    ("catalog", "said"),
    [
        ("products\x00.csv", "holds a control character"),
        ("/etc/passwd", "is an absolute path"),
        ("C:\\products.csv", "is an absolute path"),
        ("../outside.csv", "must be inside the quiz's folder"),
        ("   ", "is empty"),
    ],
)
def test_a_catalog_path_that_cannot_be_used_is_a_located_problem(tmp_path, catalog, said):
    path = quiz_with_catalog(tmp_path, "quiz.json", catalog)
    loaded = loaded_within(path)
    (problem,) = loaded.problems
    assert loaded.quiz is None and said in problem.message
    assert problem.render().startswith(f"{path}:") and "catalog" in problem.render()


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("id,title,url,tags\nx,X,/x,hydrating\n", encoding="utf-8")
    folder = tmp_path / "quizzes"
    folder.mkdir()
    (folder / "products.csv").symlink_to(outside)
    (problem,) = loaded_within(quiz_with_catalog(folder, "quiz.json", "products.csv")).problems
    assert "must be inside the quiz's folder" in problem.message


@pytest.mark.parametrize(("kind", "said"), [("fifo", "a named pipe"), ("folder", "a folder")])
def test_a_catalog_that_is_not_a_regular_file_never_blocks(tmp_path, kind, said):
    special = tmp_path / "products.csv"
    os.mkfifo(special) if kind == "fifo" else special.mkdir()
    (problem,) = loaded_within(quiz_with_catalog(tmp_path, "quiz.json", special.name)).problems
    assert f"not a regular file ({said})" in problem.message


@pytest.mark.parametrize(
    ("make", "said"), [(os.mkfifo, "a named pipe"), (lambda path: path.symlink_to("/dev/zero"), "a character device")]
)
def test_a_quiz_file_that_is_not_a_regular_file_never_blocks(tmp_path, make, said):
    special = tmp_path / "quiz.json"
    make(special)  # /dev/zero is endless: a reader without a size check would never stop
    (problem,) = loaded_within(special).problems
    assert f"not a regular file ({said})" in problem.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(catalog=st.text(max_size=40) | st.sampled_from(["..", "/", "\x00", "a/../../b", "~/x", "./", "%00"]))
def test_any_catalog_path_is_loaded_or_refused_never_raises(tmp_path, catalog):
    loaded = loaded_within(quiz_with_catalog(tmp_path, "quiz.json", catalog))
    assert loaded.quiz is None and loaded.problems  # there is no such catalog here: always a problem


def test_a_bad_file_dropped_into_a_running_server_affects_only_itself(tmp_path):
    folder = tmp_path / "quizzes"
    folder.mkdir()
    (folder / "serum.json").write_text(json.dumps(quiz_document()), encoding="utf-8")
    settings_ = from_environment({"QUIZ_DATA_DIR": str(tmp_path / "data")}, quizzes_dir=str(folder))
    with TestClient(create_app(settings_), base_url="http://quiz.test") as client:
        assert client.get("/q/serum").status_code == 200
        quiz_with_catalog(folder, "evil.json", "x\x00.csv")
        os.mkfifo(folder / "pipe.json")
        library = client.app.state.services.library
        library._checked_at = float("-inf")  # the next request re-checks the folder now
        assert client.get("/q/serum").status_code == 200
        assert [quiz.id for quiz in library.all()] == ["serum"]


def test_the_server_starts_with_a_bad_file_among_good_ones(tmp_path):
    folder = tmp_path / "quizzes"
    folder.mkdir()
    (folder / "serum.json").write_text(json.dumps(quiz_document()), encoding="utf-8")
    quiz_with_catalog(folder, "evil.json", "x\x00.csv")
    assert [quiz.id for quiz in QuizLibrary(folder).all()] == ["serum"]


def test_validate_says_what_is_wrong_and_exits_one(tmp_path, capsys):
    path = quiz_with_catalog(tmp_path, "evil.json", "x\x00.csv")
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert main(["validate", str(path), str(fifo)]) == 1
    out, err = capsys.readouterr()
    assert "holds a control character" in out and "a named pipe" in out and "Traceback" not in out + err


def test_a_bug_in_a_command_is_its_own_exit_code_and_one_line(tmp_path, capsys, monkeypatch):
    from quiz import cli

    def broken(path):
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "load_quiz", broken)
    path = quiz_with_catalog(tmp_path, "quiz.json", "products.csv")
    assert main(["validate", str(path)]) == cli.INTERNAL_ERROR
    out, err = capsys.readouterr()
    assert err.strip() == "quiz: internal error (KeyError: 'a bug'); please report it" and "Traceback" not in out + err

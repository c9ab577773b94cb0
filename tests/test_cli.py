"""The `quiz` command's output and exit codes."""

import json

import pytest
from factory import quiz_document

from quiz.cli import main


def write(tmp_path, name, document):
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return str(path)


def test_lint_prints_located_warnings_and_exits_zero_without_errors(tmp_path, capsys):
    document = quiz_document(scoring={"fallback": ["aqua"], "count": 1})  # every path can show one
    document["products"].append({"id": "ghost", "title": "Ghost", "url": "/ghost"})
    path = write(tmp_path, "quiz.json", document)
    assert main(["lint", path]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{path}:78:5: warning: products[3]: product 'ghost' is not recommended on any answer path"
    ]
    assert err.strip() == f"{path}: 0 error(s), 1 warning(s)"


def test_lint_exits_one_on_errors(tmp_path, capsys):
    path = write(tmp_path, "quiz.json", quiz_document(scoring={"min_score": 99}))
    assert main(["lint", path]) == 1
    assert "error: scoring: 4 of 4 answer paths show no product at all" in capsys.readouterr().out


def test_lint_of_an_invalid_file_shows_the_validation_problems(tmp_path, capsys):
    path = write(tmp_path, "quiz.json", quiz_document(title=None))
    assert main(["lint", path]) == 1
    assert "title: expected a string or an object, got None" in capsys.readouterr().out


def test_validate_reports_every_file(tmp_path, capsys):
    good = write(tmp_path, "good.json", quiz_document())
    bad = write(tmp_path, "bad.json", quiz_document(id="Bad"))
    assert main(["validate", good, bad]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{bad}:")


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "validate" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2


def test_serve_refuses_a_data_folder_another_server_writes(tmp_path, monkeypatch, capsys):
    from quiz.store.tiny import TinyStore

    monkeypatch.setenv("QUIZ_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QUIZ_SECRET_KEYS", "k")
    running = TinyStore(tmp_path / "store")
    try:
        assert main(["serve", str(tmp_path)]) == 2
    finally:
        running.close()
    assert "is in use by another quiz server; give each server its own QUIZ_DATA_DIR" in capsys.readouterr().err

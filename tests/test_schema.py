"""The committed JSON Schema, the format's version chain, and the models' defaults."""

import json
from pathlib import Path

import pytest
from factory import make_quiz, problems_of, quiz_document

from quiz.cli import main
from quiz.format import migrations
from quiz.format.schema import json_schema_text

QUIZZES = Path(__file__).parent.parent / "quizzes"


def test_committed_schema_is_up_to_date():
    committed = (QUIZZES / "quiz.schema.json").read_text(encoding="utf-8")
    assert committed == json_schema_text(), "run `make schema` and commit quizzes/quiz.schema.json"


def test_schema_command_prints_the_schema(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "Product recommendation quiz"


@pytest.mark.parametrize("path", sorted(QUIZZES.glob("*.json")), ids=lambda path: path.stem)
def test_every_example_points_editors_at_the_schema(path):
    if path.name == "quiz.schema.json":
        return
    assert json.loads(path.read_text(encoding="utf-8"))["$schema"] == "./quiz.schema.json"


def test_a_future_migration_upgrades_old_files_step_by_step(monkeypatch):
    def rename_intro(document):
        document["intro"] = document.pop("welcome")
        return document

    monkeypatch.setattr(migrations, "CURRENT_VERSION", 2)
    monkeypatch.setitem(migrations.MIGRATIONS, 1, rename_intro)
    upgraded = migrations.migrate({"version": 1, "welcome": "Hi"})
    assert upgraded == {"version": 2, "intro": "Hi"}


def test_defaults_live_in_the_code_not_in_every_file():
    quiz = make_quiz()
    assert quiz.scoring.count == 3
    assert quiz.scoring.tie_break == ["priority", "in_stock", "price"]
    assert quiz.theme.accent.startswith("#")
    assert quiz.locale == "en"


def test_default_locale_must_be_declared():
    (problem,) = problems_of(quiz_document(locale="ja", locales=["en"]))
    assert problem == "locale: the default locale 'ja' is not among locales ['en']"

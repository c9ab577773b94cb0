"""`quiz simulate`: every path when few, a seeded sample when many, and what each showed."""

import json

from factory import make_quiz, quiz_document

from quiz.cli import main
from quiz.engine.simulate import answer_space, simulate


def test_small_quiz_is_played_exhaustively():
    coverage = simulate(make_quiz())
    assert coverage.mode == "exhaustive"
    assert coverage.paths == 4  # 2 skin types x yes/no
    assert coverage.recommended == {"aqua": 2, "rose": 1, "matte": 2}
    assert coverage.never == []


def test_large_quiz_is_sampled_with_a_seed_and_repeats_exactly():
    document = quiz_document()
    questions = document["questions"] + [
        {"id": f"extra{index}", "type": "single", "title": "?", "options": ["A", "B", "C", "D"]} for index in range(8)
    ]
    quiz = make_quiz(questions=questions)
    first = simulate(quiz, samples=300, seed=7)
    assert first.mode == "sampled" and first.paths == 300 and first.seed == 7
    assert simulate(quiz, samples=300, seed=7).recommended == first.recommended


def test_number_answers_are_tried_either_side_of_each_threshold():
    quiz = make_quiz(
        questions=[
            *quiz_document()["questions"],
            {"id": "age", "type": "number", "title": "Age", "min": 18, "max": 99, "integer": True},
        ],
        scoring={"rules": [{"when": {"question": "age", "gte": 40}, "points": {"tags": {"hydrating": 1}}}]},
    )
    assert answer_space(quiz, quiz.question("age")) == [18.0, 39.0, 40.0, 41.0, 99.0]


def test_optional_questions_are_also_skipped():
    document = quiz_document()
    document["questions"][1]["optional"] = True
    quiz = make_quiz(questions=document["questions"])
    assert answer_space(quiz, quiz.question("fragrance")) == ["yes", "no", None]


def test_multiple_choice_tries_every_allowed_combination():
    quiz = make_quiz(
        questions=[{"id": "likes", "type": "multiple", "title": "?", "options": ["A", "B", "C"], "min": 1, "max": 2}]
    )
    assert answer_space(quiz, quiz.question("likes")) == [["a"], ["b"], ["c"], ["a", "b"], ["a", "c"], ["b", "c"]]


def test_json_report(tmp_path, capsys):
    path = tmp_path / "quiz.json"
    path.write_text(json.dumps(quiz_document()), encoding="utf-8")
    assert main(["simulate", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "exhaustive"
    assert report["paths"] == 4
    assert report["recommended"] == {"aqua": 2, "matte": 2, "rose": 1}


def test_text_report_names_the_mode_and_every_product(tmp_path, capsys):
    path = tmp_path / "quiz.json"
    path.write_text(json.dumps(quiz_document()), encoding="utf-8")
    assert main(["simulate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Played all 4 answer paths.")
    assert "Never recommended: none" in out
    for product_id in ("aqua", "rose", "matte"):
        assert product_id in out

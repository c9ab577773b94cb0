"""`quiz validate` on broken files: every problem located, worded, and never a traceback."""

import json
from pathlib import Path

import pytest
from factory import problems_of, quiz_document

from quiz.authoring.loader import MAX_DEPTH, MAX_QUIZ_BYTES, load_quiz
from quiz.cli import main

BROKEN = Path(__file__).parent / "broken"


@pytest.mark.parametrize("path", sorted(BROKEN.glob("*.json")), ids=lambda path: path.stem)
def test_broken_file_reports_each_problem_at_its_line_and_column(path, capsys, monkeypatch):
    monkeypatch.chdir(BROKEN)
    assert main(["validate", path.name]) == 1
    printed = capsys.readouterr().out.splitlines()
    expected = path.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    assert printed == expected


def test_valid_file_exits_zero_and_prints_nothing(tmp_path, capsys):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(quiz_document()), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == ""


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(quiz_document()).encode())
    assert load_quiz(path).quiz is not None


def test_text_that_is_not_utf8_is_located(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{\n  "title": "Caf\xe9"\n}')
    (problem,) = load_quiz(path).problems
    assert (problem.line, problem.column) == (2, 16)
    assert "not UTF-8" in problem.message


def test_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * (MAX_QUIZ_BYTES + 1))
    (problem,) = load_quiz(path).problems
    assert f"limit is {MAX_QUIZ_BYTES:,}" in problem.message


def test_deep_nesting_is_refused_without_recursing(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (problem,) = load_quiz(path).problems
    assert f"the limit is {MAX_DEPTH}" in problem.message


def test_brackets_inside_strings_do_not_count_as_nesting():
    document = quiz_document(intro='[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ \\" {{{{')
    assert problems_of(document) == []


def test_ten_thousand_questions_exceed_the_documented_limit():
    questions = [{"id": f"q{index}", "type": "yes_no", "title": "?"} for index in range(10_000)]
    (problem,) = problems_of(quiz_document(questions=questions))
    assert problem.startswith("questions: list should have at most 200 items")


def test_missing_file_is_a_problem_not_a_crash(tmp_path):
    (problem,) = load_quiz(tmp_path / "nope.json").problems
    assert "cannot read" in problem.message


@pytest.mark.parametrize("text", ["", "null", "[]", '"quiz"', "NaN", '{"version": NaN}', "{" * 10])
def test_json_that_is_not_a_quiz_object_is_refused(text, tmp_path):
    path = tmp_path / "odd.json"
    path.write_text(text, encoding="utf-8")
    loaded = load_quiz(path)
    assert loaded.quiz is None
    assert loaded.problems


@pytest.mark.parametrize("version", [0, -1, "1", 1.5, True, None])
def test_malformed_version_is_explained(version):
    (problem,) = problems_of(quiz_document(version=version))
    assert problem.startswith("version: 'version' must be a whole number")


def test_option_shorthand_without_latin_letters_asks_for_an_id():
    document = quiz_document()
    document["questions"][0]["options"] = ["乾燥肌", "脂性肌"]
    (problem,) = problems_of(document)
    assert "has no letters or digits to make an id from" in problem
    assert problem.startswith("questions[0].options")


def test_shorthand_ids_drop_accents_and_never_end_in_a_dash():
    document = quiz_document()
    document["questions"][0]["options"] = ["Crème fraîche", "x" * 63 + " y", "Oily"]
    from factory import make_quiz

    quiz = make_quiz(questions=document["questions"])
    assert [option.id for option in quiz.questions[0].options] == ["creme-fraiche", "x" * 63, "oily"]


def test_channels_are_listed_once():
    (problem,) = problems_of(quiz_document(lead_capture={"channels": ["email", "email"]}))
    assert problem == "lead_capture.channels: each channel may be listed once; got ['email', 'email']"


def test_text_compared_with_a_number_answer_is_refused():
    document = quiz_document()
    document["questions"].append({"id": "age", "type": "number", "title": "Age"})
    document["questions"][1]["next"] = [{"if": {"question": "age", "is": "forty"}, "goto": "results"}]
    (problem,) = problems_of(document)
    assert problem == "questions[1].next[0].if: question 'age' is answered with a number, so 'forty' never matches"


def test_typo_hint_never_suggests_the_key_itself():
    document = quiz_document()
    document["questions"][1]["options"] = ["A", "B"]
    (problem,) = problems_of(document)
    assert problem == "questions[1].options: unknown key 'options'; did you mean 'optional'?"


def test_pydantic_messages_say_got_once():
    (problem,) = problems_of(quiz_document(scoring={"count": 1.5}))
    assert problem.count("got") == 1


def test_schema_lets_editors_accept_the_options_shorthand():
    from quiz.format.schema import json_schema

    single = json_schema()["$defs"]["SingleChoice"]["properties"]["options"]
    assert {"type": "string"} in single["items"]["anyOf"]


def test_a_thousand_mistakes_show_the_first_hundred_and_count_the_rest(tmp_path):
    from quiz.authoring.loader import MAX_PROBLEMS

    document = quiz_document()
    document["products"] += [{"id": f"p{index}", "title": "P", "url": "/p", "price": -1} for index in range(1000)]
    path = tmp_path / "many.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    *shown, last = load_quiz(path).problems
    assert len(shown) == MAX_PROBLEMS and all(problem.location[:1] == ("products",) for problem in shown)
    assert [problem.line for problem in shown] == sorted(problem.line for problem in shown) and shown[0].line > 1
    assert last.message == "900 more problems not shown; fix these and validate again"


def test_bad_references_stop_being_searched_after_the_hundredth(tmp_path):
    branches = [{"if": {"question": "q0", "is": "dry"}, "goto": f"nowhere{index}"} for index in range(100)]
    questions = [dict(quiz_document()["questions"][0], id=f"q{index}", next=branches) for index in range(3)]
    path = tmp_path / "references.json"
    path.write_text(json.dumps(quiz_document(questions=questions)), encoding="utf-8")
    *shown, last = load_quiz(path).problems
    assert len(shown) == 100 and "no question 'nowhere0'" in shown[0].message
    assert last.message == "More problems not shown; fix these and validate again"


def test_a_question_has_at_most_a_hundred_branches_and_a_group_fifty_parts(tmp_path):
    many = [{"goto": "results"}] * 101
    group = {"all": [{"question": "skin", "is": "dry"}] * 51}
    for name, next_ in (("branches", many), ("parts", [{"if": group, "goto": "results"}])):
        document = quiz_document()
        document["questions"][0]["next"] = next_
        (problem,) = problems_of(document)
        assert problem.startswith("questions[0].next") and "at most" in problem, (name, problem)

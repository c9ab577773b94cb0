"""`quiz lint`: logic mistakes in quizzes that validate."""

import json
from pathlib import Path

import pytest
from factory import make_quiz, quiz_document
from hypothesis import given, settings
from hypothesis import strategies as st

from quiz.authoring.lint import lint
from quiz.authoring.ranges import _verdict
from quiz.cli import main
from quiz.format.conditions import AnswerIs, evaluate
from quiz.format.questions import Scale


def findings(quiz):
    return {(problem.severity, problem.path, problem.message) for problem in lint(quiz)}


def messages(quiz):
    return [f"{problem.severity} {problem.path}: {problem.message}" for problem in lint(quiz)]


def test_the_factory_quiz_is_clean():
    # One result: with three products, no path of it could show the default three.
    assert messages(make_quiz(scoring={"fallback": ["aqua"], "count": 1})) == []


def test_unreachable_question_is_reported():
    document = quiz_document()
    document["questions"][0]["next"] = "results"
    found = messages(make_quiz(questions=document["questions"]))
    assert "warning questions[1]: no branch leads to question 'fragrance'; no shopper sees it" in found


def test_branch_after_an_unconditional_branch_is_dead():
    document = quiz_document()
    document["questions"][0]["next"] = [
        {"goto": "fragrance"},
        {"if": {"question": "skin", "is": "dry"}, "goto": "results"},
    ]
    found = messages(make_quiz(questions=document["questions"]))
    assert "warning questions[0].next[1]: an earlier branch has no condition, so this branch is never taken" in found


def test_branch_whose_condition_no_answer_satisfies_is_reported():
    document = quiz_document()
    document["questions"][0]["next"] = [
        {"if": {"all": [{"question": "skin", "is": "dry"}, {"question": "skin", "is": "oily"}]}, "goto": "results"}
    ]
    found = messages(make_quiz(questions=document["questions"]))
    assert "warning questions[0].next[0]: no combination of answers takes this branch to 'results'" in found


def test_branch_testing_a_question_asked_later_is_an_error():
    document = quiz_document()
    document["questions"][0]["next"] = [{"if": {"question": "fragrance", "is": "yes"}, "goto": "results"}]
    found = messages(make_quiz(questions=document["questions"]))
    assert "error questions[0].next[0].if: tests question 'fragrance', which is never asked before 'skin'" in found


def test_product_no_answer_can_recommend_is_reported():
    document = quiz_document()
    document["products"].append({"id": "ghost", "title": "Ghost", "url": "/ghost", "tags": ["nothing"]})
    found = messages(make_quiz(products=document["products"]))
    assert "warning products[3]: product 'ghost' is not recommended on any answer path" in found


def test_paths_that_hit_the_fallback_and_paths_with_nothing():
    quiz = make_quiz(scoring={"fallback": ["aqua"], "min_score": 4})
    found = messages(quiz)
    assert any(line.startswith("warning scoring.fallback: 4 of 4 answer paths match no product") for line in found)
    quiz = make_quiz(scoring={"min_score": 4})
    found = messages(quiz)
    assert any(line.startswith("error scoring: 4 of 4 answer paths show no product at all") for line in found)


def test_ties_settled_only_by_product_id_are_reported():
    document = quiz_document()
    for product in document["products"]:
        product.update(priority=0, price=10)
    found = messages(make_quiz(products=document["products"]))
    assert any("only the product id orders them, e.g. skin=dry fragrance=no" in line for line in found)


def test_option_without_effect_among_options_with_effects():
    document = quiz_document()
    document["questions"][0]["options"].append({"id": "normal", "label": "Normal"})
    found = messages(make_quiz(questions=document["questions"]))
    assert (
        "warning questions[0].options[2]: option 'normal' affects neither scoring nor branching, "
        "unlike the other options" in found
    )


def test_option_used_only_for_branching_has_an_effect():
    document = quiz_document()
    document["questions"][0]["options"].append({"id": "normal", "label": "Normal"})
    document["questions"][0]["next"] = [{"if": {"question": "skin", "is": "normal"}, "goto": "results"}]
    found = messages(make_quiz(questions=document["questions"]))
    assert not any("affects neither" in line for line in found)


def test_tag_no_product_has_is_a_likely_typo():
    document = quiz_document()
    document["questions"][0]["options"][0]["points"] = {"tags": {"hydrating": 3, "hydratng": 1}}
    found = messages(make_quiz(questions=document["questions"]))
    assert "warning questions[0].options[0].points.tags: no product has the tag 'hydratng'; is it a typo?" in found


def test_missing_translations_for_declared_locales():
    document = quiz_document(locale="en", locales=["en", "ja"], title={"en": "Serum finder"})
    found = messages(make_quiz(**{key: document[key] for key in ("locale", "locales", "title")}))
    assert "warning title: no ja translation (declared in 'locales')" in found
    assert "warning questions[0].title: 'Your skin?' is one string for every locale; translate it per locale" in found


def test_sold_out_product_is_explained_not_called_unreachable():
    document = quiz_document()
    document["products"][2]["in_stock"] = False
    found = messages(make_quiz(products=document["products"]))
    assert (
        "warning products[2]: product 'matte' is out of stock, so it is hidden (scoring.out_of_stock is 'hide')"
        in found
    )


def test_product_and_consent_texts_need_every_declared_locale():
    document = quiz_document()
    document["products"][0]["title"] = {"en": "Aqua serum"}
    quiz = make_quiz(
        products=document["products"],
        locales=["en", "ja"],
        lead_capture={"channels": ["email"], "consent": {"text": "Send me offers", "version": "1"}},
    )
    found = messages(quiz)
    assert "warning products[0].title: no ja translation" in found
    assert (
        "warning lead_capture.consent.text: 'Send me offers' is one string for every locale; translate it per locale"
        in found
    )


def test_question_reached_only_through_a_branch_never_taken():
    document = quiz_document()
    document["questions"][0]["next"] = [
        {"if": {"all": [{"question": "skin", "is": "dry"}, {"question": "skin", "is": "oily"}]}, "goto": "extra"},
        {"goto": "fragrance"},
    ]
    document["questions"][1]["next"] = "results"
    document["questions"].append({"id": "extra", "type": "info", "title": "Extra"})
    found = messages(make_quiz(questions=document["questions"]))
    assert "warning questions[2]: no combination of answers leads to question 'extra'" in found


def test_markup_outside_the_allow_list_is_named():
    document = quiz_document()
    document["questions"][0]["help"] = "Pick <b>one</b>.<img src=x onerror=alert(1)><script>x()</script>"
    found = messages(make_quiz(intro="Hello <div>there</div>", questions=document["questions"]))
    allowed = "<a>, <b>, <br>, <em>, <i>, <small>, <strong>"
    assert f"warning questions[0].help: <img>, <script> will be removed; allowed here: {allowed}" in found
    assert f"warning intro: <div> will be removed; allowed here: {allowed}" in found


def test_markup_in_a_plain_text_field_is_shown_as_typed():
    found = messages(make_quiz(title={"en": "The <b>best</b> serum"}))
    assert "warning title: <b> will be shown as typed: only intro, help and results texts take HTML" in found


# Each check on a broken file, with the exact output a merchant sees ---------------------------------

BROKEN = Path(__file__).parent / "broken" / "lint"


@pytest.mark.parametrize("path", sorted(BROKEN.glob("*.json")), ids=lambda path: path.stem)
def test_each_check_names_the_cause_and_the_fix_at_its_place(path, capsys, monkeypatch):
    monkeypatch.chdir(BROKEN)
    expected = path.with_suffix(".expected").read_text(encoding="utf-8")
    assert main(["lint", path.name]) == (1 if ": error: " in expected else 0)
    assert capsys.readouterr().out == expected


def test_an_invalid_file_is_said_not_linted(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text("{", encoding="utf-8")
    assert main(["lint", str(path)]) == 1
    said = capsys.readouterr()
    assert said.out.startswith(f"{path}:1:2: not valid JSON")
    assert said.err == f"{path}: not linted: 1 problem(s) in the file\n"


@pytest.mark.parametrize("command", [["validate"], ["lint"], ["simulate"]])
def test_json_output_carries_the_problems_of_an_invalid_file(tmp_path, capsys, command):
    path = tmp_path / "bad.json"
    path.write_text('{"version": 1, "id": "x", "titel": "typo"}', encoding="utf-8")
    assert main([*command, "--json", str(path)]) == 1
    printed = json.loads(capsys.readouterr().out)
    report = printed if command == ["simulate"] else printed["files"][0]
    assert report["file"] == str(path) and report["valid"] is False and report["errors"] >= 1
    typo = next(problem for problem in report["problems"] if problem["path"] == "titel")
    assert typo == {**typo, "line": 1, "severity": "error", "message": "unknown key 'titel'; did you mean 'title'?"}


def test_lint_json_lists_warnings_with_their_places(capsys, monkeypatch):
    monkeypatch.chdir(BROKEN)
    assert main(["lint", "--json", "ties.json", "short.json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert [(report["file"], report["errors"], report["warnings"]) for report in files] == [
        ("ties.json", 0, 2),
        ("short.json", 0, 1),
    ]
    assert files[1]["problems"][0]["path"] == "scoring.count" and files[1]["problems"][0]["line"] == 23


SCALE = Scale(id="age", type="scale", title="Age?", min=1, max=5)


@settings(max_examples=300, deadline=None)
@given(
    operator=st.sampled_from(["is", "gt", "gte", "lt", "lte"]),
    threshold=st.one_of(st.integers(-3, 9).map(float), st.sampled_from([0.5, 1.5, 4.99, 5.01])),
)
def test_a_threshold_is_called_never_or_always_exactly_when_the_scale_says_so(operator, threshold):
    """Against brute force over every point of a 1..5 scale."""
    test = AnswerIs.model_validate({"question": "age", operator: threshold})
    passes = [evaluate(test, {"age": value}) for value in SCALE.values()]
    verdict = _verdict(test, SCALE)
    assert ("is never true" in verdict) == (not any(passes))
    assert ("is always true" in verdict) == (all(passes) and operator != "is")


def test_the_format_guides_lint_example_prints_what_it_shows(tmp_path, capsys, monkeypatch):
    guide = (Path(__file__).parent.parent / "docs" / "quiz-format.md").read_text(encoding="utf-8")
    section = guide[guide.index("### `quiz lint FILE...`") : guide.index("### `quiz simulate FILE`")]
    document = section.split("```json\n", 1)[1].split("```", 1)[0]
    shown = section.split("$ quiz lint lint-demo.json\n", 1)[1].split("```", 1)[0].splitlines()
    (tmp_path / "lint-demo.json").write_text(document, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    main(["lint", "lint-demo.json"])
    said = capsys.readouterr()
    assert said.out.splitlines() + said.err.splitlines() == shown

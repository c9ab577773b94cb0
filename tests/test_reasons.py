"""Reasons are written from the scoring trace, per locale, never canned."""

from factory import make_quiz, quiz_document

from quiz.engine.reasons import reason_for
from quiz.engine.scoring import recommend
from quiz.format.text import fill, join_labels, resolve


def bilingual_quiz():
    document = quiz_document()
    document["questions"][0]["options"][0]["reason"] = {"ja": "乾燥肌", "en": "dry skin"}
    document["questions"][1]["yes"]["reason"] = {"ja": "無香料", "en": "fragrance-free"}
    return make_quiz(questions=document["questions"], locale="ja", locales=["ja", "en"])


def test_reason_names_the_answers_that_scored_and_the_rules_passed():
    quiz = bilingual_quiz()
    (item,) = recommend(quiz, {"skin": "dry", "fragrance": "yes"}).items
    assert reason_for(quiz, item, "en") == "Because you said “dry skin” and “fragrance-free”."
    assert reason_for(quiz, item, "ja-JP") == "「乾燥肌」「無香料」とお答えいただいたため、おすすめです。"


def test_unknown_locale_falls_back_to_the_quiz_default():
    quiz = bilingual_quiz()
    (item,) = recommend(quiz, {"skin": "dry", "fragrance": "yes"}).items
    assert reason_for(quiz, item, "fr") == reason_for(quiz, item, "ja")


def test_strongest_answers_come_first():
    document = quiz_document()
    document["questions"][1]["yes"] = {"points": {"tags": {"hydrating": 5}}, "reason": "fragrance-free"}
    quiz = make_quiz(questions=document["questions"])
    item = recommend(quiz, {"skin": "dry", "fragrance": "yes"}).items[0]
    assert reason_for(quiz, item, "en") == "Because you said “fragrance-free” and “dry skin”."


def test_product_template_overrides_the_quiz_template():
    document = quiz_document()
    document["products"][0]["reason"] = "{product} suits {reasons}."
    quiz = make_quiz(products=document["products"])
    item = recommend(quiz, {"skin": "dry", "fragrance": "yes"}).items[0]
    assert reason_for(quiz, item, "en") == "Aqua serum suits “dry skin” and “fragrance-free”."


def test_fallback_products_say_they_are_a_fallback():
    quiz = make_quiz(scoring={"fallback": ["matte"], "min_score": 50}, results={"fallback_reason": "Our bestseller."})
    result = recommend(quiz, {"skin": "dry", "fragrance": "no"})
    assert result.fallback
    assert reason_for(quiz, result.items[0], "en", fallback=True) == "Our bestseller."


def test_templates_cannot_reach_python_attributes():
    assert fill("{product.__class__} {reasons}", {"reasons": "x"}) == "{product.__class__} x"


def test_locale_chain_goes_from_region_to_language_to_default():
    text = {"en": "Hello", "ja": "こんにちは"}
    assert resolve(text, "ja-JP", "en") == "こんにちは"
    assert resolve(text, "de-AT", "en") == "Hello"
    assert resolve({"ja": "だけ"}, "en", "en") == "だけ"


def test_english_lists_use_and():
    assert join_labels(["a", "b", "c"], "en") == "“a”, “b” and “c”"


def test_rule_on_a_skipped_question_quotes_nothing():
    document = quiz_document()
    document["questions"].append({"id": "age", "type": "number", "title": "Age", "optional": True})
    quiz = make_quiz(
        questions=document["questions"],
        scoring={"rules": [{"when": {"question": "age", "answered": False}, "points": {"tags": {"light": 9}}}]},
    )
    item = recommend(quiz, {"skin": "dry", "fragrance": "no", "age": None}).items[0]
    assert item.product.id == "matte"
    assert reason_for(quiz, item, "en") == "It fits everything you told us."


def test_numbers_in_reasons_are_written_as_people_write_them():
    document = quiz_document()
    document["questions"].append(
        {"id": "budget", "type": "number", "title": "Budget", "reason": "a {value} yen budget"}
    )
    quiz = make_quiz(
        questions=document["questions"],
        scoring={"rules": [{"when": {"question": "budget", "gte": 10}, "points": {"tags": {"light": 9}}}]},
    )
    item = recommend(quiz, {"skin": "dry", "fragrance": "no", "budget": 1_000_000.0}).items[0]
    assert reason_for(quiz, item, "en") == "Because you said “a 1000000 yen budget”."

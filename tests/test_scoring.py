"""Scoring: points, hard rules, ranking, tie-breaks, fallback, diversity and the trace."""

from factory import make_quiz, quiz_document

from quiz.engine.scoring import recommend


def ids(recommendation):
    return [item.product.id for item in recommendation.items]


def test_tag_points_rank_matching_products_first():
    result = recommend(make_quiz(), {"skin": "oily", "fragrance": "no"})
    assert ids(result) == ["matte"]


def test_equal_scores_follow_the_tie_break_chain():
    # aqua and rose both score 3; rose has priority 1, so it comes first.
    result = recommend(make_quiz(), {"skin": "dry", "fragrance": "no"})
    assert ids(result) == ["rose", "aqua"]
    assert not result.tied_on_id


def test_price_breaks_ties_when_priorities_are_equal():
    document = quiz_document()
    document["products"][1]["priority"] = 0
    result = recommend(make_quiz(products=document["products"]), {"skin": "dry", "fragrance": "no"})
    assert ids(result) == ["rose", "aqua"]  # rose is cheaper


def test_products_equal_on_every_tie_break_are_ordered_by_id_and_flagged():
    document = quiz_document()
    for product in document["products"]:
        product.update(priority=0, price=10)
    result = recommend(make_quiz(products=document["products"]), {"skin": "dry", "fragrance": "no"})
    assert ids(result) == ["aqua", "rose"]
    assert result.tied_on_id


def test_require_keeps_only_matching_products():
    result = recommend(make_quiz(), {"skin": "dry", "fragrance": "yes"})
    assert ids(result) == ["aqua"]


def test_exclude_removes_products_whatever_their_score():
    document = quiz_document()
    document["questions"][1]["yes"] = {"exclude": {"ids": ["rose"]}}
    result = recommend(make_quiz(questions=document["questions"]), {"skin": "dry", "fragrance": "yes"})
    assert ids(result) == ["aqua"]
    assert not result.fallback


def test_fallback_is_shown_when_nothing_qualifies_and_respects_hard_rules():
    document = quiz_document()
    document["questions"][1]["yes"] = {"exclude": {"ids": ["rose"]}}
    quiz = make_quiz(questions=document["questions"], scoring={"fallback": ["rose", "aqua"], "min_score": 10})
    result = recommend(quiz, {"skin": "dry", "fragrance": "yes"})
    assert result.fallback
    assert ids(result) == ["aqua"]


def test_fallback_excluded_by_hard_rules_leaves_no_result():
    document = quiz_document()
    document["questions"][1]["yes"] = {"exclude": {"tags_any": ["hydrating", "light"]}}
    result = recommend(make_quiz(questions=document["questions"]), {"skin": "dry", "fragrance": "yes"})
    assert ids(result) == []


def test_count_limits_the_results():
    quiz = make_quiz(scoring={"count": 1})
    assert ids(recommend(quiz, {"skin": "dry", "fragrance": "no"})) == ["rose"]


def test_out_of_stock_products_are_hidden_by_default_and_last_when_shown():
    document = quiz_document()
    document["products"][1]["in_stock"] = False
    hidden = make_quiz(products=document["products"])
    assert ids(recommend(hidden, {"skin": "dry", "fragrance": "no"})) == ["aqua"]
    shown = make_quiz(
        products=document["products"], scoring={"out_of_stock": "show", "tie_break": ["in_stock", "priority"]}
    )
    assert ids(recommend(shown, {"skin": "dry", "fragrance": "no"})) == ["aqua", "rose"]


def test_negative_points_push_a_product_below_the_minimum():
    document = quiz_document()
    document["questions"][1]["yes"] = {"points": {"products": {"rose": -5}}}
    result = recommend(make_quiz(questions=document["questions"]), {"skin": "dry", "fragrance": "yes"})
    assert ids(result) == ["aqua"]


def test_rules_with_numeric_conditions_add_points():
    document = quiz_document()
    document["questions"].append({"id": "age", "type": "number", "title": "Age", "min": 10, "max": 99})
    document["products"].append({"id": "renew", "title": "Renew", "url": "/renew", "tags": ["anti-aging"]})
    quiz = make_quiz(
        questions=document["questions"],
        products=document["products"],
        scoring={"rules": [{"when": {"question": "age", "gte": 40}, "points": {"tags": {"anti-aging": 5}}}]},
    )
    assert ids(recommend(quiz, {"skin": "dry", "fragrance": "no", "age": 45.0}))[0] == "renew"
    assert "renew" not in ids(recommend(quiz, {"skin": "dry", "fragrance": "no", "age": 30.0}))


def test_attribute_and_price_filters():
    document = quiz_document()
    document["products"][0]["attributes"] = {"texture": "gel"}
    document["questions"][1]["yes"] = {"require": {"attributes": {"texture": ["GEL", "cream"]}, "price_max": 30}}
    result = recommend(
        make_quiz(questions=document["questions"], products=document["products"]),
        {
            "skin": "dry",
            "fragrance": "yes",
        },
    )
    assert ids(result) == ["aqua"]


def test_diversity_spreads_results_over_tags():
    document = quiz_document()
    document["products"].append(
        {"id": "mist", "title": "Mist", "url": "/mist", "price": 15, "tags": ["hydrating", "spray"]}
    )
    document["questions"][0]["options"][0]["points"] = {"tags": {"hydrating": 3, "light": 1}}
    quiz = make_quiz(
        products=document["products"],
        questions=document["questions"],
        scoring={"diversity": {"max_per_tag": 1, "tags": ["hydrating"]}},
    )
    result = recommend(quiz, {"skin": "dry", "fragrance": "no"})
    assert ids(result) == ["rose", "matte"]


def test_trace_says_which_answer_gave_which_points():
    result = recommend(make_quiz(), {"skin": "dry", "fragrance": "yes"})
    (item,) = result.items
    assert item.score == 3
    lines = {(line.question, line.kind, line.points, line.via) for line in item.trace}
    assert lines == {("skin", "points", 3.0, "tag:hydrating"), ("fragrance", "require", 0.0, "")}
    assert item.trace[0].source == "questions[0].options[0]"


def test_a_repeated_tag_earns_its_points_once():
    document = quiz_document()
    document["products"][2]["tags"] = ["light", "light", "fragrance-free"]
    result = recommend(make_quiz(products=document["products"]), {"skin": "oily", "fragrance": "no"})
    assert result.items[0].score == 3


def test_numeric_attribute_filters_match_csv_text_values():
    document = quiz_document()
    document["products"][0]["attributes"] = {"size_ml": "50"}
    document["questions"][1]["yes"] = {"require": {"attributes": {"size_ml": 50}}}
    quiz = make_quiz(questions=document["questions"], products=document["products"])
    assert ids(recommend(quiz, {"skin": "dry", "fragrance": "yes"})) == ["aqua"]

"""Property-based tests: random valid quizzes and random shoppers never break the engine."""

import json
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scoring_reference import reference_recommend

from quiz.authoring.loader import parse_quiz
from quiz.engine import ranking
from quiz.engine.flow import AnswerError, parse_answer, walk
from quiz.engine.scoring import active_causes, recommend
from quiz.engine.simulate import answer_space

TAGS = ["a", "b", "c", "d", "e"]
weights = st.integers(min_value=-5, max_value=5)


@st.composite
def product_filters(draw, product_ids):
    kind = draw(st.sampled_from(["tags_any", "tags_all", "tags_none", "ids", "price_max", "in_stock"]))
    if kind == "ids":
        return {"ids": draw(st.lists(st.sampled_from(product_ids), min_size=1, max_size=3, unique=True))}
    if kind == "price_max":
        return {"price_max": draw(st.integers(min_value=0, max_value=100))}
    if kind == "in_stock":
        return {"in_stock": True}
    return {kind: draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=2, unique=True))}


@st.composite
def effects(draw, product_ids, weight=weights):
    effect = {}
    if draw(st.booleans()):
        effect["points"] = {
            "tags": draw(st.dictionaries(st.sampled_from(TAGS), weight, max_size=3)),
            "products": draw(st.dictionaries(st.sampled_from(product_ids), weight, max_size=2)),
        }
    if draw(st.integers(0, 5)) == 0:
        effect["require"] = draw(product_filters(product_ids))
    if draw(st.integers(0, 5)) == 0:
        effect["exclude"] = draw(product_filters(product_ids))
    return effect


@st.composite
def quizzes(draw, weight=weights, most_products=8):
    products = [
        {
            "id": f"p{index}",
            "title": f"Product {index}",
            "url": f"/p{index}",
            "price": draw(st.integers(min_value=1, max_value=100)),
            "tags": draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True)),
            "in_stock": draw(st.booleans()),
            "priority": draw(st.integers(0, 2)),
        }
        for index in range(draw(st.integers(min_value=1, max_value=most_products)))
    ]
    product_ids = [product["id"] for product in products]
    count = draw(st.integers(min_value=1, max_value=5))
    ids = [f"q{index}" for index in range(count)]
    questions = []
    for index, question_id in enumerate(ids):
        kind = draw(st.sampled_from(["single", "multiple", "yes_no", "scale", "number"]))
        question = {"id": question_id, "type": kind, "title": question_id, "optional": draw(st.booleans())}
        if kind in ("single", "multiple"):
            size = draw(st.integers(min_value=2, max_value=4))
            question["options"] = [
                {"id": f"o{option}", "label": f"Option {option}", **draw(effects(product_ids, weight))}
                for option in range(size)
            ]
        elif kind == "yes_no":
            question["yes"] = draw(effects(product_ids, weight))
        elif kind == "scale":
            question.update(min=1, max=5)
        else:
            question.update(min=0, max=100)
        later = [*ids[index + 1 :], "results"]
        if draw(st.booleans()):
            question["next"] = [
                {"if": {"question": question_id, "answered": True}, "goto": draw(st.sampled_from(later))}
            ]
        questions.append(question)
    rules = [
        {"when": {"question": draw(st.sampled_from(ids)), "answered": True}, **draw(effects(product_ids, weight))}
        for _ in range(draw(st.integers(0, 2)))
    ]
    scoring = {
        "count": draw(st.integers(min_value=1, max_value=4)),
        "rules": rules,
        "fallback": draw(st.lists(st.sampled_from(product_ids), max_size=3, unique=True)),
        "out_of_stock": draw(st.sampled_from(["hide", "show"])),
    }
    if draw(st.booleans()):
        scoring["diversity"] = {"max_per_tag": draw(st.integers(1, 2))}
        if draw(st.booleans()):
            scoring["diversity"]["tags"] = draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=3, unique=True))
    if draw(st.booleans()):
        order = ["priority", "in_stock", "price", "price_desc"]
        scoring["tie_break"] = draw(st.lists(st.sampled_from(order), max_size=3, unique=True))
    if draw(st.booleans()):
        scoring["min_score"] = draw(st.integers(-3, 3))
    document = {"version": 1, "id": "random", "title": "Random", "questions": questions, "products": products}
    document["scoring"] = scoring
    return document


@st.composite
def shoppers(draw, quiz):
    """Answers a shopper gives, question by question along their own path (sometimes nonsense)."""
    answers = {}
    position = walk(quiz, answers)
    while not position.finished:
        question = position.current
        if draw(st.integers(0, 9)) == 0:
            raw = draw(st.lists(st.text(max_size=5), max_size=3))
        else:
            choice = draw(st.sampled_from(answer_space(quiz, question)))
            raw = (
                [] if choice is None else [f"{item:g}" if isinstance(item, float) else item for item in _listed(choice)]
            )
        try:
            answers[question.id] = parse_answer(question, raw)
        except AnswerError:
            continue  # the widget shows the error and the shopper tries again
        position = walk(quiz, answers)
    return answers


def _listed(choice):
    return choice if isinstance(choice, list) else [choice]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example, HealthCheck.data_too_large],
)
@given(data=st.data(), document=quizzes())
def test_random_quizzes_validate_and_score_deterministically_within_hard_rules(data, document):
    loaded = parse_quiz(json.dumps(document))
    assert loaded.quiz is not None, [problem.render() for problem in loaded.problems]
    quiz = loaded.quiz
    answers = data.draw(shoppers(quiz))

    result = recommend(quiz, answers)
    again = recommend(parse_quiz(json.dumps(document)).quiz, dict(reversed(list(answers.items()))))
    assert [(item.product.id, item.score) for item in result.items] == [
        (item.product.id, item.score) for item in again.items
    ]

    shown = [item.product for item in result.items]
    assert len(shown) <= quiz.scoring.count
    assert len({product.id for product in shown}) == len(shown)
    causes = list(active_causes(quiz, walk(quiz, answers).answers))
    for product in shown:
        for cause in causes:
            if cause.effect.require is not None:
                assert cause.effect.require.matches(product)
            if cause.effect.exclude is not None:
                assert not cause.effect.exclude.matches(product)
        if quiz.scoring.out_of_stock == "hide":
            assert product.in_stock


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text_as_a_quiz_file_gives_problems_not_exceptions(text):
    loaded = parse_quiz(text)
    assert loaded.quiz is None
    assert loaded.problems


@settings(max_examples=200, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=30,
    )
)
def test_any_json_value_in_any_field_gives_problems_not_exceptions(value):
    from factory import quiz_document

    for field in ("title", "questions", "products", "scoring", "theme", "lead_capture"):
        loaded = parse_quiz(json.dumps(quiz_document(**{field: value})))
        assert loaded.quiz is not None or loaded.problems


# Weights whose sums land near the ninth decimal, where ranking rounds scores, and far from it.
awkward_weights = st.integers(-5, 5) | st.sampled_from(
    [0.1, 0.2, 0.3, -0.1, 1 / 3, 1e-9, 5e-10, -5e-10, 2.5e-9, 1.0000000005, 999.9999999995, 1000, -1000]
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example, HealthCheck.data_too_large],
)
@given(data=st.data(), document=quizzes(weight=awkward_weights, most_products=60))
def test_optimized_scoring_agrees_with_the_plain_reference(data, document):
    quiz = parse_quiz(json.dumps(document)).quiz
    assert quiz is not None
    answers = data.draw(shoppers(quiz))
    expected = reference_recommend(quiz, answers)
    assert recommend(quiz, answers) == expected
    with mock.patch.object(ranking, "_FIRST_LOOK", 1):  # the catalog cut by partitions, as a big one is
        assert recommend(quiz, answers) == expected

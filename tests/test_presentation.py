"""What the server decides about how the quiz looks: the intro picture, the background, the option grid,
the best match's strength and the product pictures' sizes."""

from __future__ import annotations

import json

import pytest
from factory import problems_of, quiz_document
from html_page import Page
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.settings import from_environment

SHOP = "https://shop.example"


def client_for(tmp_path, **overrides) -> TestClient:
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir(parents=True, exist_ok=True)
    document = quiz_document(embed={"allowed_origins": [SHOP]}, **overrides)
    (quizzes / "serum.json").write_text(json.dumps(document), encoding="utf-8")
    settings = from_environment({"QUIZ_DATA_DIR": str(tmp_path / "data")}, quizzes_dir=str(quizzes))
    return TestClient(create_app(settings))


def play(client, *answers):
    response = client.post("/q/serum/start", data={"page": f"{SHOP}/products/serum"})
    for value in answers:
        page = Page(response.text)
        response = client.post("/q/serum/answer", data={"t": page.value("t"), "a": value, "action": "next"})
    return response.text


def test_the_intro_picture_comes_from_the_embedding_shop(tmp_path):
    client = client_for(tmp_path, intro_image="/images/intro.jpg")
    html = client.get("/q/serum", params={"page": f"{SHOP}/products/serum"}).text
    assert f'<span class="quiz-media quiz-intro-image"><img src="{SHOP}/images/intro.jpg"' in html
    assert 'width="640" height="360"' in html  # sized before it arrives
    question = play(client)
    assert "quiz-intro-image" not in question


@pytest.mark.parametrize("image", ["javascript:alert(1)", "images/no-slash.jpg", "/a b.jpg", 'x" onerror="y'])
def test_an_intro_picture_that_is_no_address_is_a_located_error(image):
    assert [problem.split(":")[0] for problem in problems_of(quiz_document(intro_image=image))] == ["intro_image"]


def test_the_background_may_be_transparent_for_the_shop_to_show_through(tmp_path):
    css = client_for(tmp_path, theme={"background": "transparent"}).get("/q/serum/theme.css").text
    assert css.rstrip().endswith(";--background:transparent}")
    assert "--background:#ffffff" in client_for(tmp_path / "plain").get("/q/serum/theme.css").text


@pytest.mark.parametrize("background", ["red", "#fff", "transparent;x:y", "url(x)", ""])
def test_a_background_is_a_colour_or_transparent_nothing_else(background):
    problems = problems_of(quiz_document(theme={"background": background}))
    assert problems and all(problem.startswith("theme.background") for problem in problems), problems


def test_options_with_pictures_sit_in_a_grid_whatever_the_question_type(tmp_path):
    document = quiz_document()
    for option in document["questions"][0]["options"]:
        option["image"] = f"/images/{option['id']}.jpg"
    client = client_for(tmp_path, questions=document["questions"])
    assert 'class="quiz-options quiz-grid"' in play(client)
    document["questions"][0]["options"][1].pop("image")  # one without: a list, as before
    assert 'class="quiz-options"' in play(client_for(tmp_path / "mixed", questions=document["questions"]))


def two_scoring_questions() -> list[dict]:
    questions = quiz_document()["questions"]
    questions[1] = {
        "id": "feel",
        "type": "single",
        "title": "Which feel?",
        "options": [
            {"id": "rich", "label": "Rich", "points": {"tags": {"hydrating": 1}}},
            {"id": "matte", "label": "Matte", "points": {"tags": {"matte": 1}}},
        ],
    }
    return questions


def test_the_best_match_says_how_many_of_the_answers_it_fits(tmp_path):
    client = client_for(tmp_path, questions=two_scoring_questions())
    everything = Page(play(client, "dry", "rich"))
    assert everything.text("quiz-badge") == "Best match"
    assert everything.text("quiz-fit") == "Fits all 2 of your answers"
    half = Page(play(client, "dry", "matte"))  # hydrating for dry skin; nothing of ours is matte
    assert half.text("quiz-fit") == "Fits 1 of your 2 answers"


def test_a_best_match_that_fits_under_half_the_answers_claims_nothing(tmp_path):
    questions = two_scoring_questions()
    questions.append({**questions[1], "id": "third", "title": "And?"})
    questions[2]["options"] = [
        {"id": "odd", "label": "Odd", "points": {"tags": {"matte": 1}}},
        questions[2]["options"][0],
    ]
    html = play(client_for(tmp_path, questions=questions), "dry", "matte", "odd")
    assert 'class="quiz-badge"' in html and 'class="quiz-fit"' not in html  # 1 of 3: only "Best match"


def test_product_pictures_at_several_widths_become_a_srcset(tmp_path):
    products = quiz_document()["products"]
    products[0]["image"] = "/img/aqua-640.jpg"
    products[0]["images"] = [{"url": "/img/aqua-640.jpg", "width": 640}, {"url": "/img/aqua-320.jpg", "width": 320}]
    html = play(client_for(tmp_path, products=products), "dry", "yes")
    assert f'srcset="{SHOP}/img/aqua-320.jpg 320w, {SHOP}/img/aqua-640.jpg 640w"' in html
    assert 'sizes="(min-width: 40rem) 12rem' in html


@pytest.mark.parametrize("images", [[{"url": "/x.jpg", "width": 0}], [{"url": "/x.jpg"}], [{"url": "x", "width": 320}]])
def test_a_bad_picture_size_is_a_located_error(images):
    products = quiz_document()["products"]
    products[0]["images"] = images
    problems = problems_of(quiz_document(products=products))
    assert problems and all(problem.startswith("products[0].images[0]") for problem in problems), problems

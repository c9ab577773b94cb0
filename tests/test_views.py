"""The shopper's flow over HTTP, with and without htmx, and its answers to bad input."""

import json

import pytest
from factory import quiz_document
from html_page import Page
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.settings import from_environment
from quiz.web.services import services_of

HTMX = {"HX-Request": "true"}


@pytest.fixture
def client(tmp_path):
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    document = quiz_document(embed={"allowed_origins": ["https://shop.example"]}, currency="EUR")
    (quizzes / "serum.json").write_text(json.dumps(document), encoding="utf-8")
    other = quiz_document(id="other")
    (quizzes / "other.json").write_text(json.dumps(other), encoding="utf-8")
    settings = from_environment(
        {"QUIZ_DATA_DIR": str(tmp_path / "data"), "QUIZ_MAX_BODY_BYTES": "4096"}, quizzes_dir=str(quizzes)
    )
    return TestClient(create_app(settings))


def start(client, **context):
    response = client.post("/q/serum/start", data=context, follow_redirects=False)
    assert response.status_code == 303
    return Page(client.get(response.headers["location"]).text)


def answer(client, page, *values, action="next"):
    data = {"t": page.value("t"), "a": list(values), "action": action}
    response = client.post("/q/serum/answer", data=data, follow_redirects=False)
    if response.status_code == 303:
        response = client.get(response.headers["location"])
    return response


def destinations(client, page):
    """Where each product link of a results page sends the shopper (through the click counter)."""
    found = []
    for link in page.links:
        assert link.startswith("/q/serum/go/")
        response = client.get(link, follow_redirects=False)
        assert response.status_code == 303
        found.append(response.headers["location"])
    return found


def test_intro_page_offers_a_start_button(client):
    response = client.get("/q/serum")
    assert response.status_code == 200
    page = Page(response.text)
    assert page.text("quiz-title") == "Serum finder"
    assert page.buttons == ["Start"]


def test_quiz_works_without_javascript_by_post_redirect_get(client):
    page = start(client)
    assert page.text("quiz-title") == "Your skin?"
    assert page.options() == ["dry", "oily"]
    assert "Question 1 of 2" in page.text("quiz-progress")
    page = Page(answer(client, page, "dry").text)
    assert page.text("quiz-title") == "Fragrance-free only?"
    assert "Question 2 of 2" in page.text("quiz-progress")
    page = Page(answer(client, page, "yes").text)
    assert page.text("quiz-product-title") == "Aqua serum"
    assert page.text("quiz-reason") == "Because you said “dry skin” and “fragrance-free”."
    assert page.text("quiz-price") == "€30.00"


def test_htmx_posts_get_the_next_fragment_with_vary(client):
    response = client.post("/q/serum/start", data={}, headers=HTMX)
    assert response.status_code == 200
    assert {"HX-Request", "Accept-Language"} <= {name.strip() for name in response.headers["vary"].split(",")}
    assert not response.text.lstrip().startswith("<!doctype")
    page = Page(response.text)
    assert page.ids[0] == "quiz-step"
    response = client.post("/q/serum/answer", data={"t": page.value("t"), "a": "oily"}, headers=HTMX)
    assert Page(response.text).text("quiz-title") == "Fragrance-free only?"


def test_back_returns_to_the_previous_question_with_its_answer_kept(client):
    page = start(client)
    page = Page(answer(client, page, "oily").text)
    page = Page(answer(client, page, action="back").text)
    assert page.text("quiz-title") == "Your skin?"
    assert page.checked() == ["oily"]
    page = Page(answer(client, page, "dry").text)
    page = Page(answer(client, page, "no").text)
    assert page.text("quiz-product-title").split(" ")[:2] == ["Rose", "serum"]


def test_missing_answer_is_explained_next_to_the_question(client):
    page = start(client)
    response = answer(client, page)
    assert response.status_code == 422
    page = Page(response.text)
    assert page.text("quiz-error") == "Please answer this question."
    assert page.text("quiz-title") == "Your skin?"


@pytest.mark.parametrize("values", [["teen"], ["dry", "oily"], ["<script>alert(1)</script>"]])
def test_forged_answers_are_refused_without_crashing(client, values):
    page = start(client)
    response = answer(client, page, *values)
    assert response.status_code == 422
    assert "<script>alert" not in response.text


@pytest.mark.parametrize("token", ["", "garbage", "x" * 20_000])
def test_bad_tokens_restart_the_quiz_with_a_friendly_message(client, token):
    response = client.get("/q/serum/step", params={"t": token})
    assert response.status_code == 400  # told apart from a fresh start, and still the friendly page
    page = Page(response.text)
    assert "started again" in page.text("quiz-notice")
    assert page.buttons == ["Start"]


def test_tampered_token_restarts_the_quiz(client):
    page = start(client)
    token = page.value("t")
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = client.post("/q/serum/answer", data={"t": forged, "a": "dry"})
    assert response.status_code == 400 and "started again" in Page(response.text).text("quiz-notice")


def test_token_from_another_quiz_is_refused(client):
    response = client.post("/q/other/start", data={}, follow_redirects=False)
    token = response.headers["location"].split("t=")[1]
    response = client.get("/q/serum/step", params={"t": token})
    assert "started again" in Page(response.text).text("quiz-notice")


def test_unknown_quiz_is_a_404_page(client):
    response = client.get("/q/nope")
    assert response.status_code == 404
    assert Page(response.text).text("quiz-title") == "Quiz not found"


def test_oversized_body_is_refused(client):
    response = client.post("/q/serum/answer", data={"t": "x" * 10_000})
    assert response.status_code == 413


def test_html_responses_carry_strict_security_headers(client):
    response = client.get("/q/serum")
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://shop.example" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_pages_are_compressed_when_the_browser_accepts_it(client):
    response = client.get("/q/serum", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["vary"]
    assert Page(response.text).buttons == ["Start"]


def test_theme_is_a_stylesheet_of_custom_properties(client):
    response = client.get("/q/serum/theme.css")
    assert response.headers["content-type"].startswith("text/css")
    assert response.text.startswith(":root{--accent:#2F6FEB;--on-accent:#ffffff;--radius:12px;")


def test_japanese_browser_gets_japanese_buttons(client):
    response = client.get("/q/serum", headers={"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"})
    assert Page(response.text).buttons == ["Start"]  # the quiz is English-only: its words stay English


def test_product_links_are_absolute_on_the_embedding_shop_with_utm(client):
    page = start(client, page="https://shop.example/products/cleanser?ref=1")
    page = Page(answer(client, page, "dry").text)
    page = Page(answer(client, page, "yes").text)
    assert destinations(client, page) == [
        "https://shop.example/aqua?utm_source=quiz&utm_medium=quiz&utm_campaign=serum"
    ]


@pytest.mark.parametrize("page_url", ["https://evil.example/phish", "http://[", "javascript:alert(1)", ""])
def test_product_links_never_leave_the_allowed_shops(client, page_url):
    page = start(client, page=page_url)
    page = Page(answer(client, page, "dry").text)
    response = answer(client, page, "yes")
    assert response.status_code == 200
    assert destinations(client, Page(response.text)) == [
        "https://shop.example/aqua?utm_source=quiz&utm_medium=quiz&utm_campaign=serum"
    ]


def test_links_keep_the_prefix_of_a_proxy(tmp_path):
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    (quizzes / "serum.json").write_text(json.dumps(quiz_document()), encoding="utf-8")
    app = create_app(from_environment({"QUIZ_DATA_DIR": str(tmp_path)}, quizzes_dir=str(quizzes)))
    client = TestClient(app, root_path="/quiz")
    html = client.get("/q/serum").text
    assert 'action="/quiz/q/serum/start"' in html and 'href="/quiz/static/quiz.' in html
    response = client.post("/q/serum/start", follow_redirects=False)
    assert response.headers["location"].startswith("/quiz/q/serum/step?t=")


def test_back_from_the_results_returns_to_the_last_question(client):
    page = start(client)
    page = Page(answer(client, page, "dry").text)
    page = Page(answer(client, page, "yes").text)
    assert page.buttons == ["Back", "Start again"]
    page = Page(answer(client, page, action="back").text)
    assert page.text("quiz-title") == "Fragrance-free only?"
    assert page.checked() == ["yes"]


def test_missing_quiz_page_speaks_the_browser_language(client):
    response = client.get("/q/nope", headers={"Accept-Language": "fr;q=0.4, ja-JP;q=0.9"})
    assert response.status_code == 404
    page = Page(response.text)
    assert page.text("quiz-title") == "診断が見つかりません"
    assert '<html lang="ja">' in response.text


def test_server_wide_embed_origins_join_the_quiz_own(tmp_path):
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    document = quiz_document(embed={"allowed_origins": ["https://shop.example"]})
    (quizzes / "serum.json").write_text(json.dumps(document), encoding="utf-8")
    environ = {"QUIZ_DATA_DIR": str(tmp_path), "QUIZ_EMBED_ORIGINS": "http://localhost:8001,https://shop.example"}
    client = TestClient(create_app(from_environment(environ, quizzes_dir=str(quizzes))))
    response = client.get("/q/serum")
    assert response.headers["content-security-policy"].endswith(
        "frame-ancestors 'self' https://shop.example http://localhost:8001"
    )
    # The page posts its height only to these origins.
    assert Page(response.text).root["data-embedders"].split() == ["https://shop.example", "http://localhost:8001"]


def test_intro_markup_is_cleaned_and_plain_texts_are_escaped(tmp_path):
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir()
    document = quiz_document(title="<b>Serum</b> finder", intro="Two <b>quick</b> questions<script>steal()</script>")
    (quizzes / "serum.json").write_text(json.dumps(document), encoding="utf-8")
    client = TestClient(create_app(from_environment({"QUIZ_DATA_DIR": str(tmp_path)}, quizzes_dir=str(quizzes))))
    html = client.get("/q/serum").text
    assert "Two <b>quick</b> questions</p>" in html and "steal()" not in html
    assert "&lt;b&gt;Serum&lt;/b&gt; finder" in html


@pytest.mark.parametrize(
    "query",
    [
        {"page": "javascript:alert(1)", "product": '"><script>alert(1)</script>', "locale": "<b>"},
        {"page": "https://evil.example/" + "a" * 3000, "locale": "xx-" + "y" * 300},
        {"locale": "ja\x00", "product": "\ud7ff\u202e"},
        {"t": "not-a-token", "page": "//evil.example"},
    ],
)
def test_hostile_embed_context_is_kept_inert(client, query):
    response = client.get("/q/serum", params=query)
    assert response.status_code == 200
    assert "<script>alert" not in response.text and "<b>" not in response.text
    page = Page(response.text)
    assert all(len(field.get("value") or "") <= 500 for field in page.inputs)
    response = client.post("/q/serum/start", data=query, headers=HTMX)
    assert response.status_code == 200
    assert 'href="javascript:' not in response.text


def test_the_funnel_is_recorded_without_personal_data(client):
    page = start(client, page="https://shop.example/products/cleanser?email=a@b.c", product="cleanser")
    page = Page(answer(client, page, "dry").text)
    page = Page(answer(client, page, "yes").text)
    (link,) = page.links
    client.get(link, follow_redirects=False)
    client.get("/q/serum")
    store = services_of(client.app).store
    events = list(store.records("events"))
    assert [event["kind"] for event in events] == [
        "started", "answered", "answered", "completed", "clicked", "viewed"
    ]  # fmt: skip
    assert [event.get("question") for event in events[1:3]] == ["skin", "fragrance"]
    assert events[4]["product"] == "aqua"
    assert events[0]["site"] == "https://shop.example" and events[0]["product_page"] == "cleanser"
    assert "a@b.c" not in repr(events)


@pytest.mark.parametrize("link", ["/q/serum/go/nothing?t=x", "/q/serum/go/aqua%2F..?t=", "/q/missing/go/aqua"])
def test_clicks_on_unknown_products_are_404_never_a_redirect(client, link):
    response = client.get(link, follow_redirects=False)
    assert response.status_code == 404


def test_a_click_with_an_expired_token_still_reaches_the_product(client):
    response = client.get("/q/serum/go/aqua?t=expired", follow_redirects=False)
    assert response.headers["location"].startswith("https://shop.example/aqua?utm_source=quiz")

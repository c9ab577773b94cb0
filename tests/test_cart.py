"""Add to cart from the results: Shopify cart permalinks, the quiz:add-to-cart event, and the funnel's count."""

import html
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from factory import quiz_document
from html_page import Page
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.settings import from_environment
from quiz.web.services import services_of

VARIANTS = {"aqua": "40001", "rose": "40002", "matte": "40003"}


def client_for(tmp_path, *, variants=VARIANTS, scoring_out_of_stock=False, **results):
    document = quiz_document(embed={"allowed_origins": ["https://shop.example"]}, results=results)
    if scoring_out_of_stock:  # rose is sold out, and shown all the same
        document["scoring"]["out_of_stock"] = "show"
        next(product for product in document["products"] if product["id"] == "rose")["in_stock"] = False
    for product in document["products"]:
        if product["id"] in variants:
            product["variant_id"] = variants[product["id"]]
        product["description"] = f"All about {product['title']}."
    quizzes = tmp_path / "quizzes"
    quizzes.mkdir(parents=True)
    (quizzes / "serum.json").write_text(json.dumps(document), encoding="utf-8")
    settings = from_environment({"QUIZ_DATA_DIR": str(tmp_path / "data")}, quizzes_dir=str(quizzes))
    return TestClient(create_app(settings), base_url="http://quiz.test")


def results(client):
    response = client.post("/q/serum/start", data={"page": "https://shop.example/p/1"})
    for value in ("dry", "no"):
        response = client.post("/q/serum/answer", data={"t": Page(response.text).value("t"), "a": value})
    return response.text


def cart_links(text):
    return [html.unescape(link) for link in Page(text).links if "/cart?" in link]


def added(client):
    services_of(client.app).store.flush()
    return [event for event in services_of(client.app).store.records("events") if event["kind"] == "added_to_cart"]


def test_products_with_a_variant_go_to_the_shopify_cart_and_the_funnel_counts_it(tmp_path):
    with client_for(tmp_path) as client:
        text = results(client)
        page = Page(text)
        assert page.text("quiz-badge") == "Best match" and "quiz-best" in text  # the first card, and only it
        assert text.count("quiz-badge") == 1
        assert "All about Aqua serum." in page.text("quiz-description")
        one, second, every = cart_links(text)
        (first,) = parse_qs(urlsplit(one).query)["p"]
        shown = [first, *parse_qs(urlsplit(second).query)["p"]]
        assert parse_qs(urlsplit(every).query)["p"] == shown
        assert "Add all 2 to cart" in page.text("quiz-button")
        went = client.get(one, follow_redirects=False)
        assert went.status_code == 303 and went.headers["location"] == f"https://shop.example/cart/{VARIANTS[first]}:1"
        went = client.get(every, follow_redirects=False)
        permalink = ",".join(f"{VARIANTS[product]}:1" for product in shown)
        assert went.headers["location"] == f"https://shop.example/cart/{permalink}"
        counted = added(client)
        assert [(event["products"], event["via"]) for event in counted] == [([first], "link"), (shown, "link")]
        assert all(event["run"] and event["site"] == "https://shop.example" for event in counted)
        assert "data-cart-event" not in text  # "auto": plain links, nothing for the shop page's script


def test_without_variants_the_results_offer_no_cart_and_off_means_off(tmp_path):
    with client_for(tmp_path / "none", variants={}) as client:
        assert cart_links(results(client)) == []
    with client_for(tmp_path / "off", add_to_cart="off") as client:
        text = results(client)
        assert cart_links(text) == [] and "Add to cart" not in text


def test_event_mode_tells_the_shop_page_what_to_add_and_records_it(tmp_path):
    with client_for(tmp_path, variants={"aqua": "40001"}, add_to_cart="event") as client:
        text = results(client)
        told = [json.loads(html.unescape(found)) for found in re.findall(r"data-cart-event='([^']*)'", text)]
        one, two, both = told
        assert both == one + two and {item["product"] for item in both} == {"aqua", "rose"}
        assert {item["product"]: item["variant"] for item in both} == {"aqua": "40001", "rose": ""}
        assert Page(text).buttons.count("Add all 2 to cart") == 1  # a button: not every product has a variant
        record = html.unescape(re.findall(r'data-record="([^"]*)"', text)[1])
        assert client.post(record).status_code == 204
        assert [(event["products"], event["via"]) for event in added(client)] == [([two[0]["product"]], "event")]


@pytest.mark.parametrize(
    ("query", "status"),
    [("", 404), ("?p=nothing", 404), ("?p=matte&p=ghost", 404), ("?p=" + "x" * 5000, 404), ("?p=aqua&t=forged", 303)],
)
def test_a_cart_link_that_names_no_product_is_a_404_never_a_500(tmp_path, query, status):
    with client_for(tmp_path, variants={"aqua": "40001"}) as client:
        assert client.get(f"/q/serum/cart{query}", follow_redirects=False).status_code == status
        assert client.get("/q/serum/cart?p=rose", follow_redirects=False).status_code == 404  # no variant: no cart


def test_a_variant_id_is_digits():
    from factory import problems_of

    document = quiz_document()
    document["products"][0]["variant_id"] = "gid://shopify/ProductVariant/1"
    (problem,) = problems_of(document)
    assert problem.startswith("products[0].variant_id")


def test_a_csv_catalog_carries_the_variant_id():
    from quiz.authoring.catalog import read_catalog

    catalog = read_catalog("id,title,url,variant_id\naqua,Aqua,/aqua,40001\nrose,Rose,/rose,\n", file="c.csv")
    assert [product.variant_id for product in catalog.products] == ["40001", None] and not catalog.problems


def test_a_sold_out_product_shown_in_the_results_is_not_offered_for_the_cart(tmp_path):
    with client_for(tmp_path, scoring_out_of_stock=True) as client:
        text = results(client)
    links = cart_links(text)
    assert "Rose serum" in text  # shown, as scoring.out_of_stock "show" asks
    assert links and all("rose" not in parse_qs(urlsplit(link).query)["p"] for link in links)
    assert "Add all" not in text  # one of the results cannot be bought

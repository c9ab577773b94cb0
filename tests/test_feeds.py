"""Catalogs from the shop's own feed: Merchant Center (TSV, XML) and Shopify's products JSON, on disk and fetched.

Feeds are written to disk or served from loopback by the test, never fetched from the internet.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from factory import quiz_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from quiz.app import create_app
from quiz.authoring.catalog import read_catalog
from quiz.authoring.loader import load_quiz
from quiz.cli import main
from quiz.marketer.feeds import FeedFetchError, fetch_catalog
from quiz.settings import from_environment

FEEDS = Path(__file__).parent / "feeds"


def products_of(name: str) -> list[dict]:
    catalog = read_catalog((FEEDS / name).read_text(encoding="utf-8"), file=name)
    assert catalog.problems == []
    return [product.model_dump(exclude_defaults=True) for product in catalog.products]


CANDLE = {
    "id": "candle-trio",
    "title": "Soy Candle Trio",
    "url": "https://gifts.example/products/candle-trio",
    "image": "https://gifts.example/img/candle.jpg",
    "price": 24.0,
    "currency": "USD",
}


def test_a_merchant_center_tsv_feed_maps_to_products():
    candle, tea = products_of("merchant.tsv")
    assert candle == {
        **CANDLE,
        "description": "Fig, cedar and sea salt.",
        "tags": ["Home", "Candles", "gift"],  # each level of product_type, and the custom labels
        "attributes": {"brand": "Wickworks", "product_type": "Home > Candles", "custom_label_0": "gift"},
    }
    assert tea["price"] == 49.0 and tea["in_stock"] is False  # the sale price; out_of_stock
    assert "gtin" not in tea["attributes"]  # attributes a quiz cannot score on are left out


def test_a_merchant_center_xml_feed_maps_to_the_same_products():
    candle, tea = products_of("merchant.xml")
    assert candle == {
        **CANDLE,
        "description": "Fig, cedar & sea salt.",
        "tags": ["Home", "Candles"],
        "attributes": {"brand": "Wickworks", "product_type": "Home > Candles"},
    }
    assert tea["title"] == "Matcha Tea Set" and "in_stock" not in tea  # g:title; backorder can be bought
    catalog = read_catalog((FEEDS / "merchant.xml").read_text(), file="merchant.xml")
    assert catalog.lines == [7, 18]  # where each <item> starts


def test_shopify_products_json_keeps_the_variant_to_put_in_the_cart():
    candle, tea = products_of("shopify-products.json")
    assert candle == {
        "id": "soy-candle-trio",
        "title": "Soy Candle Trio",
        "url": "/products/soy-candle-trio",
        "image": "https://cdn.shopify.example/candle.jpg",
        "description": "Fig, cedar & sea-salt candles. 40 hours each",
        "variant_id": "40001",
        "price": 24.0,
        "tags": ["Candles", "gift", "home"],
        "attributes": {"vendor": "Wickworks", "product_type": "Candles", "variants": 1.0},
    }
    assert tea["variant_id"] == "40003" and tea["price"] == 58.0  # the first variant on sale, not the sold-out one


MALFORMED = [
    (
        "bad.tsv",
        "id\ttitle\tlink\tprice\tavailability\nok-1\tOk\thttps://s.example/p/1\t10.00 USD\tin_stock\n"
        "bad id\tBad\thttps://s.example/p/2\t10.00 USD\tin_stock\n"
        "p-3\tP3\thttps://s.example/p/3\tten dollars\tin_stock\n"
        "p-4\tP4\thttps://s.example/p/4\t10.00 USD\tsold\np-5\tP5\n",
        [
            "bad.tsv:3:1: id: 'bad id' is not valid: use letters, digits, '.', '-' and '_'",
            "bad.tsv:4:4: price: 'ten dollars' is not a price like '15.00 USD'",
            "bad.tsv:5:5: availability: 'sold' is not in_stock, out_of_stock, preorder or backorder",
            "bad.tsv:6:1: row has 2 cells; the header has 5",
        ],
    ),
    (
        "columns.tsv",
        "sku\tname\n1\tA\n",
        ["columns.tsv:1:1: the header row has no column 'id', 'title', 'link'; it has ['sku', 'name']"],
    ),
    (
        "bad.xml",
        '<?xml version="1.0"?>\n<rss xmlns:g="http://base.google.com/ns/1.0"><channel>\n'
        "<item><g:id>a</g:id><title>A</title><link>https://s.example/a</link></item>\n"
        "<item>\n<g:id>b</g:id><title>B</title><link>https://s.example/b</link><g:price>free</g:price></item>\n"
        "<item><g:id>c</g:id><title>C</title><link>ftp://s.example/c</link></item>\n</channel></rss>",
        [
            "bad.xml:4:1: item[1].price: 'free' is not a price like '15.00 USD'",
            "bad.xml:6:1: item[2].link: 'ftp://s.example/c' is not valid: use an absolute http(s) URL or a path "
            "starting with '/', without spaces or quotes",
        ],
    ),
    ("prefix.xml", "<rss><channel><item><g:id>a</item>", ["prefix.xml:1:21: not valid XML: unbound prefix"]),
    ("cut.xml", "<rss><channel><item>", ["cut.xml:1:21: not valid XML: no element found"]),
    (
        "bomb.xml",
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><rss>&c;</rss>',
        ["bomb.xml:1:1: refused: EntitiesForbidden (entities and external references are not read)"],
    ),
    (
        "external.xml",
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss><channel><item>'
        "<g:id xmlns:g='http://base.google.com/ns/1.0'>&x;</g:id></item></channel></rss>",
        ["external.xml:1:1: refused: EntitiesForbidden (entities and external references are not read)"],
    ),
    (
        "empty.xml",
        "<rss><channel></channel></rss>",
        ["empty.xml:1:1: no <item> or <entry> elements: is this a Merchant Center feed?"],
    ),
    (
        "shop.json",
        json.dumps(
            {
                "products": [
                    {"handle": "ok", "title": "Ok", "variants": [{"id": 1, "price": "5.00"}]},
                    {"title": "No handle", "variants": []},
                    {"handle": "cheap", "title": "B", "variants": [{"id": 2, "price": "NaN"}]},
                    "nope",
                    {"handle": "x", "title": "X", "variants": [{"id": "abc", "price": "1"}]},
                ]
            },
            indent=1,
        ),
        [
            "shop.json:13:3: products[1].handle: every product needs a 'handle' (a string)",
            "shop.json:20:4: products[2].variants: price 'NaN' is not a number",
            "shop.json:27:3: products[3]: a product is an object",
            "shop.json:31:4: products[4].variants: variant_id: 'abc' is not valid: it must match ^[0-9]{1,20}$",
        ],
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_every_bad_row_or_item_is_reported_where_it_is(name, text, expected):
    catalog = read_catalog(text, file=name)
    assert [problem.render() for problem in catalog.problems] == expected
    assert catalog.products == []  # a feed with problems gives no products at all, as a catalog file


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(alphabet=st.characters(codec="utf-8"), max_size=300), kind=st.sampled_from([".tsv", ".xml", ".json"])
)
def test_any_text_is_read_or_refused_never_a_crash(text, kind):
    catalog = read_catalog(text, file="feed" + kind)
    assert bool(catalog.products) != bool(catalog.problems)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["handle", "title", "variants", "images", "tags", "body_html", "vendor", "product_type"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=20),
            st.lists(
                st.one_of(st.integers(), st.text(max_size=5), st.dictionaries(st.text(max_size=5), st.integers())),
                max_size=3,
            ),
        ),
    )
)
def test_any_shopify_shaped_product_is_read_or_refused(item):
    document = json.dumps({"products": [{"variants": [], **item}]})
    catalog = read_catalog(document, file="shop.json")
    assert bool(catalog.products) != bool(catalog.problems)


def test_a_quiz_on_a_shopify_feed_adds_its_variants_to_the_cart(tmp_path):
    (tmp_path / "quizzes").mkdir()
    (tmp_path / "quizzes" / "products.json").write_text((FEEDS / "shopify-products.json").read_text())
    questions = quiz_document()["questions"][:1]
    questions[0]["options"][0]["points"] = {"tags": {"Candles": 3}}
    document = quiz_document(
        products=[],
        catalog="products.json",
        questions=questions,
        embed={"allowed_origins": ["https://shop.example"]},
        scoring={"fallback": ["soy-candle-trio"]},
    )
    (tmp_path / "quizzes" / "serum.json").write_text(json.dumps(document))
    assert load_quiz(tmp_path / "quizzes" / "serum.json").problems == []
    client = TestClient(
        create_app(from_environment({"QUIZ_DATA_DIR": str(tmp_path / "data")}, quizzes_dir=str(tmp_path / "quizzes")))
    )
    page = client.post("/q/serum/start", data={"page": "https://shop.example/p"}).text
    token = page.split('name="t" value="')[1].split('"')[0]
    results = client.post("/q/serum/answer", data={"t": token, "a": "dry", "action": "next"}).text
    assert "Soy Candle Trio" in results
    cart = client.get(
        "/q/serum/cart",
        params={"p": "soy-candle-trio", "t": results.split('name="t" value="')[1].split('"')[0]},
        follow_redirects=False,
    )
    assert cart.headers["location"] == "https://shop.example/cart/40001:1"


# Fetching ------------------------------------------------------------------------------------------


class FeedServer(BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}
    slow: float = 0.0
    seen: list[str] = []

    def do_GET(self) -> None:  # the name http.server calls
        self.seen.append(self.path)
        parts = urlsplit(self.path)
        if parts.path == "/elsewhere":  # a redirect the fetch must not follow off the web
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
            return
        if parts.path == "/shop/products.json":
            page = int(parse_qs(parts.query)["page"][0])
            body = self.routes.get(f"page{page}", json.dumps({"products": []}).encode())
        else:
            body = self.routes.get(parts.path)
        if body is None:
            self.send_response(404, "Not Found")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for start in range(0, len(body), 4096):
            time.sleep(self.slow)
            self.wfile.write(body[start : start + 4096])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[str]:
    FeedServer.routes, FeedServer.slow, FeedServer.seen = {}, 0.0, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FeedServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_writes_a_clean_feed_and_says_how_many_products(feed_server, tmp_path, capsys):
    FeedServer.routes["/feed.tsv"] = (FEEDS / "merchant.tsv").read_bytes()
    out = tmp_path / "catalog.tsv"
    assert main(["catalog", "fetch", f"{feed_server}/feed.tsv", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"{out}: 2 products written\n"
    assert out.read_bytes() == (FEEDS / "merchant.tsv").read_bytes()
    assert [path.name for path in tmp_path.iterdir()] == ["catalog.tsv"]  # no temporary file left


def test_a_broken_feed_leaves_the_last_good_copy(feed_server, tmp_path, capsys):
    out = tmp_path / "catalog.xml"
    out.write_bytes((FEEDS / "merchant.xml").read_bytes())
    FeedServer.routes["/feed.xml"] = b"<rss><channel><item><g:id>a</item>"
    assert main(["catalog", "fetch", f"{feed_server}/feed.xml", "--out", str(out)]) == 1
    said = capsys.readouterr()
    assert said.out == f"{out}:1:21: not valid XML: unbound prefix\n"
    assert "the file is left as it was" in said.err
    assert out.read_bytes() == (FEEDS / "merchant.xml").read_bytes()


@pytest.mark.parametrize(
    ("path", "limits", "message"),
    [
        ("/missing.tsv", {}, "answered 404 Not Found"),
        ("/big.tsv", {"max_bytes": 10_000}, "larger than 10 MiB"),
        ("/slow.tsv", {"max_seconds": 0.5}, "took longer than 0.5 s"),
        ("/elsewhere", {}, "is not allowed"),  # urllib refuses to follow a redirect off the web
    ],
)
def test_a_feed_that_fails_is_named_with_why(feed_server, tmp_path, path, limits, message):
    FeedServer.routes["/big.tsv"] = b"id\ttitle\tlink\n" + b"x" * 50_000
    FeedServer.routes["/slow.tsv"] = b"x" * 20_000  # five pieces, 0.3 s apart
    FeedServer.slow = 0.3 if path == "/slow.tsv" else 0.0
    out = tmp_path / "catalog.tsv"
    with pytest.raises(FeedFetchError, match=message):
        fetch_catalog(f"{feed_server}{path}", out, **limits)
    assert not out.exists()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)", "", "http://"])
def test_only_web_addresses_are_fetched(tmp_path, url, capsys):
    assert main(["catalog", "fetch", url, "--out", str(tmp_path / "c.tsv")]) == 1
    assert "is not an http(s) address" in capsys.readouterr().err


def test_an_unreachable_shop_is_said_in_one_line(tmp_path, capsys):
    assert main(["catalog", "fetch", "http://127.0.0.1:9/feed.tsv", "--out", str(tmp_path / "c.tsv")]) == 1
    assert "could not be reached" in capsys.readouterr().err


def test_shopify_products_json_is_fetched_page_by_page(feed_server, tmp_path):
    def page(start: int, count: int) -> bytes:
        products = [
            {
                "handle": f"p-{index}",
                "title": f"P {index}",
                "variants": [{"id": index + 1, "price": "1.00", "available": True}],
            }
            for index in range(start, start + count)
        ]
        return json.dumps({"products": products}).encode()

    FeedServer.routes["page1"], FeedServer.routes["page2"] = page(0, 250), page(250, 10)
    fetched = fetch_catalog(f"{feed_server}/shop/products.json", tmp_path / "products.json")
    assert fetched.written and fetched.pages == 2 and len(fetched.catalog.products) == 260
    assert FeedServer.seen == ["/shop/products.json?limit=250&page=1", "/shop/products.json?limit=250&page=2"]
    assert read_catalog((tmp_path / "products.json").read_text(), file="products.json").products[-1].id == "p-259"

"""LINE results messages: the Flex shape, every LINE limit, and the parts left out rather than sent invalid."""

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quiz.line.flex import (
    MAX_ALT_TEXT,
    MAX_BUBBLE_BYTES,
    MAX_CAROUSEL_BYTES,
    MAX_IMAGE_URL,
    MAX_LABEL,
    MAX_PRODUCTS,
    MAX_TEXT_MESSAGE,
    MAX_URI,
    ResultsCard,
    results_message,
    text_message,
)

SHOP = "https://shop.example"


def product(index: int = 1, **fields: Any) -> dict[str, Any]:
    """A result as quiz.web.results.results_for builds it; keyword arguments replace fields."""
    result = {
        "id": f"p{index}",
        "title": f"セラミド保湿美容液 {index}",
        "image": f"{SHOP}/images/p{index}.jpg",
        "url": f"{SHOP}/products/p{index}?utm_source=quiz&utm_medium=line",
        "price": "¥3,300",
        "in_stock": True,
        "reason": "「乾燥」とお答えいただいたため、おすすめです。",
    }
    result.update(fields)
    return result


def card(*products: dict[str, Any], **fields: Any) -> ResultsCard:
    values: dict[str, Any] = {
        "quiz_title": "肌タイプ診断",
        "heading": "あなたへのおすすめ",
        "button_label": "商品を見る",
        "products": list(products) if products else [product()],
    }
    values.update(fields)
    return ResultsCard(**values)


def carousel(message: dict[str, Any]) -> list[dict[str, Any]]:
    return message["contents"]["contents"]


def components(node: Any) -> Iterator[dict[str, Any]]:
    """Every object in a message, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from components(value)
    elif isinstance(node, list):
        for value in node:
            yield from components(value)


def of_type(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [node for node in components(message) if node.get("type") == kind]


def texts(message: dict[str, Any]) -> list[str]:
    return [node["text"] for node in of_type(message, "text")]


def uris(message: dict[str, Any]) -> list[str]:
    return [node["uri"] for node in of_type(message, "uri")]


def units(text: str) -> int:
    """Length as LINE counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# Shape


def test_results_are_a_flex_carousel_of_product_bubbles():
    message = results_message(card(product(1), product(2)))
    assert message["type"] == "flex"
    assert message["contents"]["type"] == "carousel"
    bubbles = carousel(message)
    assert [bubble["type"] for bubble in bubbles] == ["bubble", "bubble"]
    first = bubbles[0]
    assert first["hero"] == {
        "type": "image",
        "url": f"{SHOP}/images/p1.jpg",
        "size": "full",
        "aspectRatio": "1:1",
        "aspectMode": "cover",
        "action": {"type": "uri", "label": "商品を見る", "uri": f"{SHOP}/products/p1?utm_source=quiz&utm_medium=line"},
    }
    assert first["body"]["type"] == "box"
    [button] = first["footer"]["contents"]
    assert button["type"] == "button"
    assert button["action"] == {
        "type": "uri",
        "label": "商品を見る",
        "uri": f"{SHOP}/products/p1?utm_source=quiz&utm_medium=line",
    }


def test_a_single_product_is_still_a_carousel_of_one():
    message = results_message(card(product()))
    assert message["contents"]["type"] == "carousel"
    assert len(carousel(message)) == 1


def test_every_bubble_has_the_same_width():
    message = results_message(card(product(1), product(2), more_url=f"{SHOP}/results"))
    assert {bubble["size"] for bubble in carousel(message)} == {"kilo"}


def test_title_wraps_price_is_bold_and_reason_wraps_within_a_few_lines():
    body = carousel(results_message(card(product())))[0]["body"]["contents"]
    heading, title, price, reason = body
    assert heading["text"] == "あなたへのおすすめ"
    assert title == {
        "type": "text",
        "text": "セラミド保湿美容液 1",
        "size": "md",
        "weight": "bold",
        "wrap": True,
        "maxLines": 3,
    }
    assert price == {"type": "text", "text": "¥3,300", "size": "lg", "weight": "bold"}
    assert reason["wrap"] is True
    assert reason["maxLines"] == 4


def test_same_card_gives_the_same_message():
    first = results_message(card(product(1), product(2), more_url=f"{SHOP}/results"))
    second = results_message(card(product(1), product(2), more_url=f"{SHOP}/results"))
    assert json.dumps(first, ensure_ascii=False) == json.dumps(second, ensure_ascii=False)


# altText


def test_alt_text_names_the_quiz_then_each_product_and_its_price():
    message = results_message(card(product(1), product(2, price="¥5,500")))
    assert (
        message["altText"]
        == "肌タイプ診断\nあなたへのおすすめ\n• セラミド保湿美容液 1 ¥3,300\n• セラミド保湿美容液 2 ¥5,500"
    )


def test_alt_text_leaves_out_a_missing_price_and_an_empty_quiz_title():
    message = results_message(card(product(price=""), quiz_title=""))
    assert message["altText"] == "あなたへのおすすめ\n• セラミド保湿美容液 1"


def test_a_heading_that_names_the_quiz_does_not_repeat_its_title():
    message = results_message(card(heading="肌タイプ診断の診断結果", products=[], more_url=f"{SHOP}/results"))
    assert message["altText"] == "肌タイプ診断の診断結果"
    assert texts(carousel(message)[-1]) == ["肌タイプ診断の診断結果"]


def test_alt_text_stays_within_1500_characters_with_the_longest_texts():
    longest = [product(index, title="🍎" * 5000, price="€" * 500) for index in range(MAX_PRODUCTS)]
    message = results_message(card(*longest, quiz_title="診" * 5000, heading="🍎" * 5000))
    assert 1 <= units(message["altText"]) <= MAX_ALT_TEXT
    assert message["altText"].encode("utf-16-le").decode("utf-16-le")  # no half of a surrogate pair


# Products: how many, and which


def test_more_than_max_products_sends_the_first_ones():
    message = results_message(card(*[product(index) for index in range(1, 9)]))
    bubbles = carousel(message)
    assert len(bubbles) == MAX_PRODUCTS
    assert [bubble["body"]["contents"][1]["text"] for bubble in bubbles] == [
        f"セラミド保湿美容液 {index}" for index in range(1, MAX_PRODUCTS + 1)
    ]
    assert message["altText"].count("•") == MAX_PRODUCTS


def test_out_of_stock_products_are_left_out_of_cards_and_alt_text():
    message = results_message(card(product(1, in_stock=False), product(2)))
    assert len(carousel(message)) == 1
    assert "セラミド保湿美容液 1" not in json.dumps(message, ensure_ascii=False)


def test_products_beyond_the_first_five_fill_in_for_out_of_stock_ones():
    products = [product(1, in_stock=False), *[product(index) for index in range(2, 8)]]
    titles = [bubble["body"]["contents"][1]["text"] for bubble in carousel(results_message(card(*products)))]
    assert titles == [f"セラミド保湿美容液 {index}" for index in range(2, 7)]


def test_with_nothing_in_stock_the_carousel_holds_the_heading():
    message = results_message(card(product(in_stock=False)))
    [bubble] = carousel(message)
    assert texts(bubble) == ["肌タイプ診断", "あなたへのおすすめ"]
    assert "footer" not in bubble
    assert message["altText"] == "肌タイプ診断\nあなたへのおすすめ"


def test_no_products_still_makes_a_valid_message():
    message = results_message(card(products=[]))
    assert len(carousel(message)) == 1
    assert message["altText"]


def test_more_url_adds_a_last_bubble_linking_all_results():
    message = results_message(card(product(), more_url=f"{SHOP}/results", more_label="すべての結果を見る"))
    last = carousel(message)[-1]
    assert len(carousel(message)) == 2
    assert last["footer"]["contents"][0]["action"] == {
        "type": "uri",
        "label": "すべての結果を見る",
        "uri": f"{SHOP}/results",
    }


def test_more_link_without_its_own_label_is_labelled_with_the_heading():
    last = carousel(results_message(card(product(), more_url=f"{SHOP}/results")))[-1]
    assert last["footer"]["contents"][0]["action"]["label"] == "あなたへのおすすめ"


def test_a_more_label_without_visible_text_falls_back_to_the_heading():
    last = carousel(results_message(card(product(), more_url=f"{SHOP}/results", more_label="\x00 ")))[-1]
    assert last["footer"]["contents"][0]["action"]["label"] == "あなたへのおすすめ"


def test_an_unusable_more_url_adds_no_bubble():
    message = results_message(card(product(), more_url="javascript:alert(1)"))
    assert len(carousel(message)) == 1


# Images


def test_http_image_is_left_out():
    bubble = carousel(results_message(card(product(image="http://shop.example/p1.jpg"))))[0]
    assert "hero" not in bubble
    assert bubble["body"] and bubble["footer"]


def test_empty_image_is_left_out():
    assert "hero" not in carousel(results_message(card(product(image=""))))[0]


def test_image_url_of_2000_characters_is_kept_and_one_longer_left_out():
    base = f"{SHOP}/images/"
    fits = base + "a" * (MAX_IMAGE_URL - len(base))
    assert carousel(results_message(card(product(image=fits))))[0]["hero"]["url"] == fits
    assert "hero" not in carousel(results_message(card(product(image=fits + "a"))))[0]


def test_image_without_a_link_has_no_action():
    hero = carousel(results_message(card(product(url=""))))[0]["hero"]
    assert "action" not in hero


# Links


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        "  javascript:alert(1)",
        "java\tscript:alert(1)",
        "\x01https://shop.example/p1",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/p1",
        "/products/p1",
        "https:\\\\evil.example",
        "https://",
        "https://[::1",
        "https://shop.example:port/p1",
        "ftp://shop.example/p1",
        "",
    ],
)
def test_a_link_that_is_no_web_address_never_becomes_an_action(url):
    message = results_message(card(product(url=url)))
    assert uris(message) == []
    bubble = carousel(message)[0]
    assert "footer" not in bubble
    assert "action" not in bubble["hero"]


def test_http_product_page_gets_a_button():
    assert uris(results_message(card(product(url="http://shop.example/p1")))) == ["http://shop.example/p1"] * 2


def test_uri_of_1000_characters_is_kept_and_one_longer_leaves_the_button_out():
    base = f"{SHOP}/products/p1?ref="
    fits = base + "a" * (MAX_URI - len(base))
    assert uris(results_message(card(product(url=fits)))) == [fits, fits]
    assert uris(results_message(card(product(url=fits + "a")))) == []


def test_japanese_path_is_percent_encoded_and_measured_encoded():
    message = results_message(card(product(url=f"{SHOP}/商品/セラム")))
    assert uris(message)[0] == f"{SHOP}/%E5%95%86%E5%93%81/%E3%82%BB%E3%83%A9%E3%83%A0"
    # 150 kanji are 1350 characters once encoded: past LINE's 1000.
    assert uris(results_message(card(product(url=f"{SHOP}/" + "商" * 150)))) == []


def test_existing_escapes_are_kept_and_a_stray_percent_is_escaped():
    [uri, _] = uris(results_message(card(product(url=f"{SHOP}/p%41?off=10%"))))
    assert uri == f"{SHOP}/p%41?off=10%25"


def test_host_outside_ascii_leaves_the_link_out():
    assert uris(results_message(card(product(url="https://例え.jp/p1")))) == []


def test_button_label_is_cut_to_40_characters():
    [action, _] = of_type(results_message(card(product(), button_label="見" * 60)), "uri")
    assert units(action["label"]) == MAX_LABEL
    assert action["label"].endswith("…")


# Merchant text


def test_control_characters_are_stripped_from_merchant_text():
    dirty = product(title="Serum\x00\x07 Pro\nMax\t ", reason="Dry\r\nskin\x1b[31m", price="\u202e003,3¥")
    bubble = carousel(results_message(card(dirty)))[0]
    assert texts(bubble) == ["あなたへのおすすめ", "Serum Pro Max", "003,3¥", "Dry skin [31m"]


def test_empty_reason_and_price_leave_their_texts_out():
    bubble = carousel(results_message(card(product(reason="", price=" \n "))))[0]
    assert texts(bubble) == ["あなたへのおすすめ", "セラミド保湿美容液 1"]


def test_no_text_component_is_ever_empty():
    bare = product(title="\x00", price="", reason="   ", image="", url="")
    message = results_message(card(bare, quiz_title="\t"))
    assert all(text for text in texts(message))


def test_long_title_is_cut_with_an_ellipsis():
    title = carousel(results_message(card(product(title="長" * 500))))[0]["body"]["contents"][1]["text"]
    assert title.endswith("…")
    assert units(title) <= 120


def test_cut_never_leaves_half_an_emoji():
    title = carousel(results_message(card(product(title="a" + "🍎" * 200))))[0]["body"]["contents"][1]["text"]
    title.encode("utf-8")  # a lone surrogate would raise here
    assert title.endswith("🍎…")


def test_a_card_without_heading_or_button_label_fails_loudly():
    with pytest.raises(ValueError, match="heading"):
        card(heading=" \x00")
    with pytest.raises(ValueError, match="button_label"):
        card(button_label="")


# Size


def test_the_largest_possible_message_stays_under_lines_size_limits():
    huge = product(
        title="🍎" * 5000,
        price="🍎" * 5000,
        reason="🍎" * 5000,
        image=f"{SHOP}/" + "a" * (MAX_IMAGE_URL - len(SHOP) - 1),
        url=f"{SHOP}/" + "a" * (MAX_URI - len(SHOP) - 1),
    )
    message = results_message(
        card(
            *[huge] * 8,
            quiz_title="🍎" * 5000,
            heading="🍎" * 5000,
            button_label="🍎" * 100,
            more_url=f"{SHOP}/" + "r" * (MAX_URI - len(SHOP) - 1),
        )
    )
    assert len(carousel(message)) == MAX_PRODUCTS + 1
    assert len(json.dumps(message["contents"])) <= MAX_CAROUSEL_BYTES  # every character as a \uXXXX escape
    assert all(len(json.dumps(bubble)) <= MAX_BUBBLE_BYTES for bubble in carousel(message))


# Text messages


def test_text_message_keeps_line_breaks():
    assert text_message("診断結果\r\nこちらです\n") == {"type": "text", "text": "診断結果\nこちらです"}


def test_text_message_drops_other_control_characters():
    assert text_message("a\x00b\u202ec")["text"] == "a bc"


def test_text_message_is_cut_at_5000_characters_without_splitting_an_emoji():
    text = text_message("a" * 4999 + "🍎")["text"]
    assert units(text) <= MAX_TEXT_MESSAGE
    assert text == "a" * 4999 + "…"


def test_text_message_of_exactly_5000_characters_is_kept_whole():
    assert text_message("あ" * MAX_TEXT_MESSAGE)["text"] == "あ" * MAX_TEXT_MESSAGE


def test_text_message_without_visible_text_is_refused():
    with pytest.raises(ValueError, match="visible text"):
        text_message(" \n\x00 ")


# Properties: whatever the shop wrote, LINE can accept the message

# Every character, control characters and (asked for by name, hypothesis leaves them out) lone surrogates.
anything = st.one_of(st.characters(exclude_categories=()), st.characters(categories=["Cs"]))
messy_text = st.one_of(st.text(anything, max_size=300), st.text(anything, min_size=1000, max_size=6000), st.none())
url_like = st.one_of(
    messy_text,
    st.builds(
        lambda scheme, path: f"{scheme}{path}",
        st.sampled_from(["https://shop.example/", "http://shop.example/", "javascript:", "HTTPS://", "data:", " "]),
        st.one_of(st.text(anything, max_size=40), st.text("a商%", min_size=300, max_size=2500)),
    ),
)
products = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=10),
        "title": messy_text,
        "image": url_like,
        "url": url_like,
        "price": messy_text,
        "in_stock": st.booleans(),
        "reason": messy_text,
    },
)
visible = st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), max_size=200).filter(str.strip)


def check_message(message: dict[str, Any]) -> None:
    json.dumps(message, ensure_ascii=False).encode("utf-8")
    assert 1 <= units(message["altText"]) <= MAX_ALT_TEXT
    bubbles = carousel(message)
    assert 1 <= len(bubbles) <= min(12, MAX_PRODUCTS + 1)
    assert len(json.dumps(message["contents"])) <= MAX_CAROUSEL_BYTES
    for bubble in bubbles:
        assert {"hero", "body", "footer"} & bubble.keys()
        assert len(json.dumps(bubble)) <= MAX_BUBBLE_BYTES
    assert all(isinstance(text, str) and text for text in texts(message))
    for action in of_type(message, "uri"):
        assert urlsplit(action["uri"]).scheme.lower() in ("http", "https")
        assert len(action["uri"]) <= MAX_URI
        assert 1 <= units(action["label"]) <= MAX_LABEL
    for image in of_type(message, "image"):
        assert image["url"].lower().startswith("https://")
        assert len(image["url"]) <= MAX_IMAGE_URL


@settings(max_examples=150, deadline=None)
@given(
    st.lists(products, max_size=14),
    messy_text,
    visible,
    visible,
    url_like,
    messy_text,
)
def test_any_products_make_a_message_line_accepts(results, quiz_title, heading, button_label, more_url, more_label):
    results_card = ResultsCard(
        quiz_title=quiz_title if isinstance(quiz_title, str) else "",
        heading=heading,
        button_label=button_label,
        products=results,
        more_url=more_url if isinstance(more_url, str) else "",
        more_label=more_label if isinstance(more_label, str) else "",
    )
    check_message(results_message(results_card))


@settings(max_examples=100, deadline=None)
@given(st.text(anything, max_size=12000).filter(lambda text: text.split()))
def test_any_text_makes_a_text_message_line_accepts(text):
    try:
        message = text_message(text)
    except ValueError:
        return  # only control characters: nothing to send
    json.dumps(message, ensure_ascii=False).encode("utf-8")
    assert 1 <= units(message["text"]) <= MAX_TEXT_MESSAGE

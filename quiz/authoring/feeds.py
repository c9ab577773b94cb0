"""Product feeds a shop already publishes, read as a quiz's catalog.

Google Merchant Center feeds (tab-separated or RSS/Atom XML, the ``g:`` attributes) and Shopify's
products JSON (what ``https://SHOP/products.json`` serves) become products with the same fields,
tags and attributes whichever the source. Every bad row or item is reported with its line, as the
CSV reader does; XML is parsed by defusedxml, so an entity bomb or an external entity is refused.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote
from xml.etree.ElementTree import Element, TreeBuilder

import nh3
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError
from pydantic import ValidationError

from quiz.authoring.problems import Problem, from_validation_error, locate
from quiz.format.products import MAX_TAGS, PRODUCT_ID_PATTERN, Product

MERCHANT_NAMESPACE = "http://base.google.com/ns/1.0"
ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
# Merchant Center attributes kept as product attributes (strings), for hard rules and points.
MERCHANT_ATTRIBUTES = (
    "brand", "product_type", "google_product_category", "item_group_id", "condition", "color", "size",
    "material", "pattern", "gender", "age_group",
    *(f"custom_label_{index}" for index in range(5)),
)  # fmt: skip
BUYABLE = {"in_stock", "in stock", "preorder", "backorder"}  # a shopper can order these today
UNAVAILABLE = {"out_of_stock", "out of stock"}
# Merchant Center writes prices with a decimal point; a comma only groups thousands ("1,299.00 USD").
# "12,99 EUR" matches neither, and is refused rather than read as 1299.
PRICE = re.compile(r"^\s*((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?)\s*([A-Za-z]{3})?\s*$")
MAX_DESCRIPTION = 600  # characters of a shop's description on a results card; the rest is on the product page
MAX_TAG_CHARS = 64
PRODUCT_ID = re.compile(PRODUCT_ID_PATTERN)
MAX_ITEMS = 10_000  # the quiz format's product limit; a feed past it is refused before any work


class FeedError(ValueError):
    """One attribute of one row or item that cannot become a product field."""

    def __init__(self, attribute: str, message: str) -> None:
        super().__init__(message)
        self.attribute = attribute


# Google Merchant Center ---------------------------------------------------------------------------


def merchant_product(values: dict[str, str]) -> dict[str, Any]:
    """A Merchant Center item's attributes (``id``, ``title``, ``link``, ``price``...) as product fields."""
    value = {name: text.strip() for name, text in values.items() if text and text.strip()}
    fields: dict[str, Any] = {}
    for attribute, field in (("id", "id"), ("title", "title"), ("link", "url"), ("image_link", "image")):
        if attribute in value:
            fields[field] = value[attribute]
    if "description" in value:
        fields["description"] = _shortened(value["description"])
    price = value.get("sale_price") or value.get("price")
    if price:
        fields["price"], currency = _price("sale_price" if value.get("sale_price") else "price", price)
        if currency:
            fields["currency"] = currency
    if "availability" in value:
        fields["in_stock"] = _available(value["availability"])
    fields["tags"] = _merchant_tags(value)
    fields["attributes"] = {name: value[name] for name in MERCHANT_ATTRIBUTES if name in value}
    return fields


def _price(attribute: str, text: str) -> tuple[float, str]:
    found = PRICE.match(text)
    if found is None:
        raise FeedError(attribute, f"{text!r} is not a price like '15.00 USD'")
    return float(found[1].replace(",", "")), (found[2] or "").upper()


def _available(text: str) -> bool:
    lowered = text.lower()
    if lowered in BUYABLE:
        return True
    if lowered in UNAVAILABLE:
        return False
    raise FeedError("availability", f"{text!r} is not in_stock, out_of_stock, preorder or backorder")


def _merchant_tags(value: dict[str, str]) -> list[str]:
    """Each level of ``product_type`` ("Home > Candles" gives "Home" and "Candles") and each custom label."""
    levels = [level.strip() for level in value.get("product_type", "").split(">")]
    labels = [value.get(f"custom_label_{index}", "") for index in range(5)]
    return [tag for tag in dict.fromkeys([*levels, *labels]) if tag]


def read_merchant_tsv(text: str, *, file: str) -> tuple[list[Product], list[int], list[Problem]]:
    """A Merchant Center tab-separated feed: a header row of attribute names, one product per row."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = [name.strip().removeprefix("g:") for name in next(reader, [])]
    missing = [name for name in ("id", "title", "link") if name not in header]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        return [], [], [Problem((), f"the header row has no column {names}; it has {header}", file=file)]
    products, lines, problems = [], [], []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            message = f"row has {len(row)} cells; the header has {len(header)}"
            problems.append(Problem((), message, file=file, line=line))
            continue
        try:
            products.append(_product(merchant_product(dict(zip(header, row, strict=True)))))
            lines.append(line)
        except FeedError as error:
            column = header.index(error.attribute) + 1 if error.attribute in header else 1
            problems.append(Problem((error.attribute,), str(error), file=file, line=line, column=column))
        if len(products) + len(problems) > MAX_ITEMS:
            return [], [], [Problem((), f"more than {MAX_ITEMS:,} products; a quiz takes at most that", file=file)]
    return products, lines, problems


def read_merchant_xml(text: str, *, file: str) -> tuple[list[Product], list[int], list[Problem]]:
    """A Merchant Center XML feed: RSS 2.0 ``<item>`` or Atom ``<entry>`` elements with ``g:`` attributes."""
    try:
        root, lines_of = _parse_xml(text)
    except ParseError as error:
        line, column = error.position
        return [], [], [Problem((), f"not valid XML: {_xml_reason(error)}", file=file, line=line, column=column + 1)]
    except DefusedXmlException as error:
        message = f"refused: {type(error).__name__} (entities and external references are not read)"
        return [], [], [Problem((), message, file=file)]
    products, lines, problems = [], [], []
    for index, item in enumerate(_items(root)):
        line = lines_of.get(id(item), 1)
        try:
            products.append(_product(merchant_product(_item_values(item))))
            lines.append(line)
        except FeedError as error:
            where: tuple[str | int, ...] = ("item", index, error.attribute)
            problems.append(Problem(where, str(error), file=file, line=line))
        if index >= MAX_ITEMS:
            return [], [], [Problem((), f"more than {MAX_ITEMS:,} products; a quiz takes at most that", file=file)]
    if not products and not problems:
        problems.append(Problem((), "no <item> or <entry> elements: is this a Merchant Center feed?", file=file))
    return products, lines, problems


class _LineRecorder(TreeBuilder):
    """Builds the tree and notes the line each element starts on (ElementTree keeps none)."""

    def __init__(self) -> None:
        super().__init__()
        self.parser: DefusedXMLParser | None = None
        self.lines: dict[int, int] = {}

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        element = super().start(tag, attrs)
        if self.parser is not None:
            self.lines[id(element)] = self.parser.parser.CurrentLineNumber
        return element


def _parse_xml(text: str) -> tuple[Element, dict[int, int]]:
    builder = _LineRecorder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    builder.parser = parser
    parser.feed(text)
    root = parser.close()
    return root, builder.lines


def _xml_reason(error: ParseError) -> str:
    return str(error).split(":", 1)[0]


def _items(root: Element) -> Iterator[Element]:
    for element in root.iter():
        if _local(element.tag) in ("item", "entry"):
            yield element


def _item_values(item: Element) -> dict[str, str]:
    """Attribute name (``g:price`` and ``price`` alike) to text; an Atom ``<link href>`` counts as the link."""
    values: dict[str, str] = {}
    for child in item:
        name = _local(child.tag)
        text = child.text or child.get("href") or ""
        in_merchant = child.tag.startswith(f"{{{MERCHANT_NAMESPACE}}}")
        if name not in values or in_merchant:  # g:title wins over a plain RSS title
            values[name] = text
    return values


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


# Shopify ------------------------------------------------------------------------------------------


def is_shopify(data: Any) -> bool:
    """Shopify's products JSON: ``{"products": [{"handle": ..., "variants": [...]}, ...]}``."""
    products = data.get("products") if isinstance(data, dict) else None
    return isinstance(products, list) and bool(products) and isinstance(products[0], dict) and "variants" in products[0]


def shopify_product(item: dict[str, Any]) -> dict[str, Any]:
    """One Shopify product as product fields: the handle is the id, the first variant on sale goes in the cart."""
    handle = _string(item, "handle")
    product_id = handle if PRODUCT_ID.match(handle) else str(item.get("id", ""))  # a handle in Japanese: its number
    variants = [variant for variant in _listed(item.get("variants")) if isinstance(variant, dict)]
    buyable = [variant for variant in variants if variant.get("available", True) is not False]
    chosen = (buyable or variants or [{}])[0]
    fields: dict[str, Any] = {"id": product_id, "title": _string(item, "title"), "url": f"/products/{quote(handle)}"}
    if chosen.get("id") is not None:
        fields["variant_id"] = str(chosen["id"])
    if chosen.get("price") not in (None, ""):
        fields["price"] = _shopify_price(chosen["price"])
    fields["in_stock"] = bool(buyable)
    images = [image for image in _listed(item.get("images")) if isinstance(image, dict) and image.get("src")]
    if images:
        fields["image"] = str(images[0]["src"])  # the others are other pictures, not other sizes of this one
    description = _plain(str(item.get("body_html") or ""))
    if description:
        fields["description"] = _shortened(description)
    fields["tags"] = _shopify_tags([item.get("product_type"), *_listed(item.get("tags"))])
    attributes: dict[str, str | float] = {
        name: str(item[name]) for name in ("vendor", "product_type") if item.get(name)
    }
    attributes["variants"] = float(len(variants))
    fields["attributes"] = attributes
    return fields


def read_shopify(data: dict[str, Any], text: str, *, file: str) -> tuple[list[Product], list[int], list[Problem]]:
    """Shopify's products JSON, each bad product reported at its line in the file."""
    items = data["products"]
    if len(items) > MAX_ITEMS:
        return [], [], [Problem((), f"more than {MAX_ITEMS:,} products; a quiz takes at most that", file=file)]
    products, at, problems = [], [], []
    for index, item in enumerate(items):
        where: tuple[str | int, ...] = ("products", index)
        try:
            if not isinstance(item, dict):
                raise FeedError("", "a product is an object")
            fields = shopify_product(item)
            products.append(Product.model_validate(fields))
            at.append(where)
        except FeedError as error:
            problems.append(Problem((*where, error.attribute) if error.attribute else where, str(error)))
        except ValidationError as error:
            problems.extend(_shopify_problems(error, fields, where))
    starts = locate([Problem(where, "") for where in at], text, file)
    lines = [problem.line for problem in sorted(starts, key=lambda problem: problem.location)]
    return products, lines, locate(problems, text, file)


def _shopify_problems(error: ValidationError, fields: dict[str, Any], where: tuple[str | int, ...]) -> list[Problem]:
    """A product field's problem, placed at the Shopify key it came from."""
    source = {
        "id": "handle",
        "url": "handle",
        "variant_id": "variants",
        "price": "variants",
        "image": "images",
        "description": "body_html",
        "attributes": "product_type",
    }
    found = []
    for problem in from_validation_error(error, fields):
        field = str(problem.location[0]) if problem.location else ""
        key = source.get(field, field)
        message = f"{field}: {problem.message}" if field else problem.message
        found.append(Problem((*where, key) if key else where, message))
    return found


def _string(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FeedError(key, f"every product needs a {key!r} (a string)")
    return value.strip()


def _shopify_price(value: Any) -> float:
    try:
        price = float(str(value))
    except ValueError:
        price = math.nan
    if not math.isfinite(price):  # "nan" and "inf" read as floats, and are no price
        raise FeedError("variants", f"price {value!r} is not a number")
    return price


def _listed(value: Any) -> list[Any]:
    """A list from the feed, or nothing: a string is the Admin API's comma-separated tags, "a, b, c"."""
    if isinstance(value, str):
        return value.split(",")
    return value if isinstance(value, list) else []


def _shopify_tags(tags: list[Any]) -> list[str]:
    """The product type and the shop's tags, each once, as strings: as many as a product takes, of a length it takes.

    A shop may tag a product with anything; one over-long tag must not refuse the whole feed.
    """
    found = dict.fromkeys(str(tag).strip() for tag in tags if isinstance(tag, (str, int)))
    return [tag for tag in found if tag and len(tag) <= MAX_TAG_CHARS][:MAX_TAGS]


# Shared -------------------------------------------------------------------------------------------


def _product(fields: dict[str, Any]) -> Product:
    try:
        return Product.model_validate(fields)
    except ValidationError as error:
        first = from_validation_error(error, fields)[0]
        field = str(first.location[0]) if first.location else ""
        attribute = {"url": "link", "image": "image_link", "in_stock": "availability", "tags": "product_type"}
        raise FeedError(attribute.get(field, field), first.message) from None  # named by the feed's attribute


BLOCK_END = re.compile(r"(?i)<(br|/p|/div|/li|/h[1-6]|/tr|/td)\b")


def _plain(markup: str) -> str:
    """A shop's HTML description as one line of text, a space where a paragraph or list item ended."""
    text = html.unescape(nh3.clean(BLOCK_END.sub(r" <\1", markup), tags=set()))
    return " ".join(text.split())


def _shortened(text: str) -> str:
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1].rstrip() + "…"

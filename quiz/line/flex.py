"""LINE messages for a shopper's quiz results: a Flex carousel of product cards, or plain text.

Pure: the results ``quiz.web.results.results_for`` builds go in, JSON-ready message objects come out;
whoever holds the channel token sends them.

    card = ResultsCard(quiz_title="肌タイプ診断", heading="あなたへのおすすめ", button_label="商品を見る",
                       products=results)
    messages = [results_message(card)]

The limits are LINE's, quoted from the Messaging API reference
(https://developers.line.biz/en/reference/messaging-api/: "Flex Message", "URI action", "Text
message"). LINE answers a message that breaks one with 400 and delivers nothing of the request, so
a part that cannot be made valid (an http image, a ``javascript:`` link) is left out, never sent.
LINE counts characters in UTF-16 code units, an emoji such as 🍎 being two
(https://developers.line.biz/en/docs/messaging-api/text-character-count/), and so does this module.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

Json = dict[str, Any]

MAX_PRODUCTS = 5  # a carousel may hold 12 bubbles ("Max: 12 bubbles"); five keep the chat readable
MAX_ALT_TEXT = 1500  # Flex Message altText: "Max character limit: 1500"
MAX_TEXT_MESSAGE = 5000  # text message text: "Max character limit: 5000"
MAX_IMAGE_URL = 2000  # image component url: "Max character limit: 2000", "Protocol: HTTPS"
# URI action uri: "Max character limit: 1000", schemes http, https, line and tel. LINE's SDK releases
# of 2026-10-27 announce 10,000; 1000 stays valid under both, and product pages are far shorter.
MAX_URI = 1000
# The label of a Flex button's action is required, at most 40 grapheme clusters; we count UTF-16
# code units, never fewer than grapheme clusters, so a cut label always fits.
MAX_LABEL = 40
MAX_CAROUSEL_BYTES = 50_000  # "The maximum size of JSON data that defines a carousel is 50 KB"
MAX_BUBBLE_BYTES = 30_000  # "... that defines a bubble is 30 KB"

# Our own caps on merchant text, long enough for any real product name: they keep the largest
# carousel under 50 KB even when every character travels as a 6-byte \uXXXX escape.
MAX_CARD_LINE = 100  # quiz title, heading
MAX_TITLE = 120
MAX_PRICE = 40
MAX_REASON = 240

WEB_SCHEMES = frozenset({"http", "https"})  # products are web pages: no line: or tel: links
IMAGE_SCHEMES = frozenset({"https"})
BUBBLE_SIZE = "kilo"  # every bubble of a carousel must have the same width; kilo lets the next one peek in
PHOTO_RATIO = "1:1"  # shop photos are mostly square; "cover" fills the frame whatever they are
MUTED = "#666666"
ELLIPSIS = "…"

# Bidi embeddings, overrides and isolates can make "¥3,300" read as "003,3¥": merchant text has no use for them.
_BIDI_CONTROLS = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
# A joiner or variation selector left at the end of a cut means nothing without what followed it.
_DANGLING = "\u200d\ufe0e\ufe0f "
# Kept as written in a URL: RFC 3986 reserved characters, and "%" starting an escape.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class ResultsCard:
    """Everything the results message needs, already in the shopper's locale."""

    quiz_title: str
    heading: str  # "あなたへのおすすめ": labels each card and the link to all results
    button_label: str  # "商品を見る"
    products: list[dict[str, Any]]  # as quiz.web.results.results_for builds them, best first
    more_url: str = ""  # all results on the web; "" = no such link
    more_label: str = ""  # its button, "すべての結果を見る"; "" = the heading

    def __post_init__(self) -> None:
        # A missing word is the caller's bug: say so here rather than send a card LINE refuses.
        for name in ("heading", "button_label"):
            if not _plain(getattr(self, name)):
                raise ValueError(f"ResultsCard {name} {getattr(self, name)!r} has no visible text; LINE needs one.")


@dataclass(frozen=True)
class _Product:
    """One result as the message shows it: clean text, and only the links LINE accepts ("" = none)."""

    title: str
    price: str
    reason: str
    image: str
    page: str


def results_message(card: ResultsCard) -> Json:
    """One Flex message: a carousel of product bubbles, then one linking all results if there is a link.

    Out-of-stock products are left out: in a chat each card costs a swipe, one that cannot be bought
    is a dead end, and marking it would need a word the card does not carry. Scoring already ranks
    them last. With nothing left to show, the carousel holds only the heading (and the link).
    A single product is still a carousel of one, so every message has the same shape and card width.
    """
    products = [_product(raw) for raw in card.products if _in_stock(raw)][:MAX_PRODUCTS]
    bubbles = [_product_bubble(product, card) for product in products]
    more = _link(card.more_url, schemes=WEB_SCHEMES, limit=MAX_URI)
    if more or not bubbles:
        bubbles.append(_summary_bubble(card, more))
    return {"type": "flex", "altText": _alt_text(card, products), "contents": {"type": "carousel", "contents": bubbles}}


def text_message(text: str) -> Json:
    """A plain text message, its line breaks kept, cut to LINE's 5000 characters."""
    lines = "\n".join(_scrubbed(line).rstrip() for line in text.splitlines()).strip()
    if not lines:
        raise ValueError(f"A LINE text message needs visible text; {text[:40]!r} has none.")
    return {"type": "text", "text": _cut(lines, MAX_TEXT_MESSAGE)}


def _in_stock(raw: Mapping[str, Any]) -> bool:
    return bool(raw.get("in_stock", True))


def _product(raw: Mapping[str, Any]) -> _Product:
    return _Product(
        title=_cut(_plain(raw.get("title")), MAX_TITLE),
        price=_cut(_plain(raw.get("price")), MAX_PRICE),
        reason=_cut(_plain(raw.get("reason")), MAX_REASON),
        image=_link(raw.get("image"), schemes=IMAGE_SCHEMES, limit=MAX_IMAGE_URL),
        page=_link(raw.get("url"), schemes=WEB_SCHEMES, limit=MAX_URI),
    )


def _alt_text(card: ResultsCard, products: list[_Product]) -> str:
    """What notifications, the chat list and old clients show: the quiz, then each product and its price."""
    named = [" ".join(part for part in (product.title, product.price) if part) for product in products]
    lines = [*_titles(card), *(f"• {line}" for line in named if line)]
    # The caps keep this near 1000 units; the cut guards the 1500 should they grow.
    return _cut("\n".join(line for line in lines if line), MAX_ALT_TEXT)


def _product_bubble(product: _Product, card: ResultsCard) -> Json:
    label = _label(card.button_label)
    body = [
        *_text(_heading(card), size="xs", color=MUTED),
        *_text(product.title, size="md", weight="bold", wrap=True, maxLines=3),
        *_text(product.price, size="lg", weight="bold"),
        *_text(product.reason, size="sm", color=MUTED, wrap=True, maxLines=4),
    ]
    return _bubble(hero=_photo(product, label), body=_box(body), footer=_button(product.page, label))


def _summary_bubble(card: ResultsCard, more: str) -> Json:
    quiz_title, heading = _titles(card)
    body = [
        *_text(quiz_title, size="sm", color=MUTED, wrap=True, maxLines=3),
        *_text(heading, size="lg", weight="bold", wrap=True, maxLines=3),
    ]
    return _bubble(body=_box(body), footer=_button(more, _label(card.more_label) or _label(card.heading)))


def _bubble(**blocks: Json | None) -> Json:
    return {"type": "bubble", "size": BUBBLE_SIZE, **{name: block for name, block in blocks.items() if block}}


def _box(contents: list[Json]) -> Json:
    return {"type": "box", "layout": "vertical", "spacing": "sm", "contents": contents}


def _text(text: str, **style: Any) -> list[Json]:
    """A text component, or none at all: LINE rejects ``"text": ""``."""
    return [{"type": "text", "text": text, **style}] if text else []


def _photo(product: _Product, label: str) -> Json | None:
    if not product.image:
        return None
    photo: Json = {
        "type": "image",
        "url": product.image,
        "size": "full",
        "aspectRatio": PHOTO_RATIO,
        "aspectMode": "cover",
    }
    if product.page:
        photo["action"] = _open(product.page, label)  # shoppers tap the photo as often as the button
    return photo


def _button(page: str, label: str) -> Json | None:
    if not page:
        return None
    return _box([{"type": "button", "style": "primary", "height": "sm", "action": _open(page, label)}])


def _open(page: str, label: str) -> Json:
    return {"type": "uri", "label": label, "uri": page}


def _titles(card: ResultsCard) -> tuple[str, str]:
    """The quiz title and the heading; the title is "" when the heading already names the quiz."""
    quiz_title = _plain(card.quiz_title)
    if quiz_title in _plain(card.heading):  # "{quiz}の診断結果" needs no "肌タイプ診断" above it
        return "", _heading(card)
    return _cut(quiz_title, MAX_CARD_LINE), _heading(card)


def _heading(card: ResultsCard) -> str:
    return _cut(_plain(card.heading), MAX_CARD_LINE)


def _label(text: str) -> str:
    return _cut(_plain(text), MAX_LABEL)


def _plain(value: object) -> str:
    """Merchant text as one clean line: control characters out, each run of whitespace one space."""
    return " ".join(_scrubbed(value).split()) if isinstance(value, str) else ""


def _scrubbed(text: str) -> str:
    return "".join(_visible(char) for char in text)


def _visible(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cc":
        return " "  # a tab or newline between two words must still part them
    if category == "Cs" or ord(char) in _BIDI_CONTROLS:
        return ""  # a lone surrogate is not text and cannot even be encoded
    return char


def _cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` UTF-16 code units, ending in "…" when it had to be shortened."""
    if _units(text) <= limit:
        return text
    kept, used = [], _units(ELLIPSIS)
    for char in text:  # whole code points: an emoji is never split into half a surrogate pair
        used += _units(char)
        if used > limit:
            break
        kept.append(char)
    return "".join(kept).rstrip(_DANGLING) + ELLIPSIS


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _link(value: object, *, schemes: frozenset[str], limit: int) -> str:
    """``value`` as LINE wants a URL, percent-encoded UTF-8, or "" when LINE would refuse it.

    The length is checked after encoding, as LINE counts it: one kanji becomes nine characters.
    """
    if not isinstance(value, str) or any(unicodedata.category(char) in ("Cc", "Cs") for char in value.strip()):
        return ""
    url = quote(_STRAY_PERCENT.sub("%25", value.strip()), safe=_URL_SAFE)
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket, a port that is no number
        return ""
    if parts.scheme.lower() not in schemes or not _has_host(parts) or len(url) > limit:
        return ""
    return url


def _has_host(parts: SplitResult) -> bool:
    """Whether the URL names a host; one outside ASCII would need IDNA, rare enough to leave the link out."""
    try:
        host, _ = parts.hostname, parts.port  # the port raises ValueError when it is no number
    except ValueError:
        return False
    return bool(host) and "%" not in (host or "")

"""The products a results step shows: scored, priced, explained, with links that stay on allowed shops.

The widget, the results email and LINE's Flex message all show what ``results_for`` returns.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from babel.numbers import format_currency
from starlette.requests import Request

from quiz.engine.reasons import reason_for
from quiz.engine.scoring import Recommendation, recommend
from quiz.format.conditions import Answers
from quiz.format.products import Product
from quiz.format.schema import Quiz
from quiz.format.text import resolve
from quiz.web.once import once_per_request
from quiz.web.services import services
from quiz.web.tokens import Progress


def results_for(request: Request, quiz: Quiz, progress: Progress, locale: str) -> tuple[list[dict[str, Any]], bool]:
    recommendation = recommended(request, quiz, progress.answers)
    shop = shop_origin(progress.context, embedders_for(request, quiz))
    results = []
    for item in recommendation.items:
        product = item.product
        results.append(
            {
                "id": product.id,
                "title": resolve(product.title, locale, quiz.locale),
                "image": joined(shop, product.image) if product.image else "",
                "url": joined(shop, product.url),
                "price": _price(product.price, product.currency or quiz.currency, locale),
                "in_stock": product.in_stock,
                "reason": reason_for(quiz, item, locale, fallback=recommendation.fallback),
                "description": resolve(product.description, locale, quiz.locale) if product.description else "",
                "variant": product.variant_id or "",
                "srcset": srcset(product, shop),
                "fits": recommendation.answers_for(item),
                "of": recommendation.scoring_answers,
            }
        )
    return results, recommendation.fallback


@functools.lru_cache(maxsize=8192)  # the catalog's few addresses on one shop, joined on every results page
def joined(base: str, url: str) -> str:
    return urljoin(base, url)


def recommended(request: Request, quiz: Quiz, answers: Answers) -> Recommendation:
    """``recommend()``, once per request: completing a quiz both stores its results and shows them."""
    return once_per_request(request, recommend, quiz, answers)


def srcset(product: Product, shop: str) -> str:
    """The ``srcset`` of a product's sized pictures, narrowest first; "" when the catalog gives none."""
    sized = sorted(product.images, key=lambda image: image.width)
    return ", ".join(f"{joined(shop, image.url)} {image.width}w" for image in sized)


@functools.lru_cache(maxsize=4096)  # Babel's formatting cost more than scoring the results
def _price(price: float | None, currency: str, locale: str) -> str:
    if price is None:
        return ""
    return str(format_currency(price, currency, locale=locale.replace("-", "_")))


def cart_item(result: dict[str, Any]) -> dict[str, str]:
    """What the quiz:add-to-cart event tells the shop page about one result."""
    return {"product": str(result["id"]), "variant": str(result.get("variant", ""))}


def cart_permalink(shop: str, variants: list[str]) -> str:
    """Shopify's cart permalink, ``/cart/VARIANT:1,VARIANT:1``: a plain link that fills the cart, no script needed."""
    return urljoin(shop, "/cart/" + ",".join(f"{variant}:1" for variant in variants))


def tracked(url: str, quiz_id: str, *, medium: str = "quiz") -> str:
    """The product URL with UTM parameters naming the quiz, keeping the shop's own parameters."""
    parts = urlsplit(url)
    utm = urlencode({"utm_source": "quiz", "utm_medium": medium, "utm_campaign": quiz_id})
    query = f"{parts.query}&{utm}" if parts.query else utm
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def shop_origin(context: dict[str, str], embedders: list[str]) -> str:
    """Where relative product URLs live: the embedding page's site if it may embed the quiz, else the first.

    The page address comes from the shopper's browser, so it is only a choice among allowed sites:
    a link crafted with ``page=https://evil.example`` must not send shoppers there.
    """
    origin = page_site(context)
    if origin in embedders:
        return origin + "/"
    return embedders[0] + "/" if embedders else ""


def page_site(context: dict[str, str]) -> str:
    """The origin of the embedding page the browser named, or "" if it named none we can read."""
    try:
        page = urlsplit(context.get("page", ""))
    except ValueError:  # e.g. "http://[" from a hand-made link
        return ""
    return f"{page.scheme}://{page.netloc}" if page.scheme in ("http", "https") and page.netloc else ""


def embedders_for(request: Request, quiz: Quiz) -> list[str]:
    """The origins allowed to frame this quiz: the quiz's own, then the server-wide ones."""
    origins = list(quiz.embed.allowed_origins)
    origins += [origin for origin in services(request).settings.embed_origins if origin not in origins]
    return origins

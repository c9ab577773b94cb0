"""The quiz file format: one pydantic model per part, and the JSON Schema generated from them."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from quiz.format.conditions import Condition
from quiz.format.products import Currency, Model, Product, ProductId, Slug, TagName, Url
from quiz.format.questions import Question, Rule
from quiz.format.text import Locale, Text

FORMAT_VERSION = 1
MAX_QUESTIONS = 200
MAX_PRODUCTS = 10_000  # 20,000 catalog rows at their limits took 1.2 s to validate (bench/validate_limits.py)

COLOUR_PATTERN = r"^#[0-9A-Fa-f]{6}$"
# Only characters that cannot end a CSS declaration: the font is written into a stylesheet.
FONT_PATTERN = r"^[A-Za-z0-9 ,'\"-]{1,200}$"
ORIGIN_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$"
Colour = Annotated[str, StringConstraints(pattern=COLOUR_PATTERN)]
FontFamily = Annotated[str, StringConstraints(pattern=FONT_PATTERN)]
ShopName = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Origin = Annotated[str, StringConstraints(pattern=ORIGIN_PATTERN)]
TieBreak = Literal["priority", "in_stock", "price", "price_desc"]
DEFAULT_TIE_BREAK: tuple[TieBreak, ...] = ("priority", "in_stock", "price")


class Diversity(Model):
    max_per_tag: int = Field(ge=1, description="At most this many results share any one of the tags.")
    tags: list[TagName] | None = Field(None, description="The tags to spread over; all tags when omitted.")


class Scoring(Model):
    count: int = Field(3, ge=1, le=50, description="How many products the results show.")
    min_score: float | None = Field(
        None, description="A product qualifies at this score or above; when omitted, above zero."
    )
    tie_break: list[TieBreak] = Field(
        default_factory=lambda: list(DEFAULT_TIE_BREAK),
        description="Equal scores are ordered by these in turn, then by product id.",
    )
    fallback: list[ProductId] = Field(
        default_factory=list, description="Shown, in this order, when no product qualifies."
    )
    out_of_stock: Literal["hide", "show"] = "hide"
    diversity: Diversity | None = None
    rules: list[Rule] = Field(default_factory=list, max_length=500)


class ResultsScreen(Model):
    title: Text = {"en": "Your matches", "ja": "あなたへのおすすめ"}
    text: Text | None = None
    empty_title: Text = {"en": "No exact match", "ja": "ぴったりの商品が見つかりませんでした"}
    empty_text: Text | None = None
    reason: Text | None = Field(
        None, description="Reason template; {reasons} lists the answers that scored, {product} is the title."
    )
    fallback_reason: Text | None = None
    cta: Text = {"en": "View product", "ja": "商品を見る"}
    add_to_cart: Literal["auto", "event", "off"] = Field(
        "auto",
        description="'auto': an Add to cart link (a Shopify cart permalink) on products with a variant_id;"
        " 'event': an Add to cart button on every product that sends a quiz:add-to-cart event to the"
        " shop page, for its theme to call its own cart; 'off': none.",
    )


class Consent(Model):
    text: Text
    version: str | None = Field(
        None,
        max_length=64,
        description="A label such as '2026-11'. The version evidence records is the label with a hash of the text"
        " shown ('2026-11+3f2a9c1b7d0e'), so an edited text is a new version even under an old label.",
    )


class LeadCapture(Model):
    channels: list[Literal["email", "line"]] = Field(min_length=1, max_length=2)
    placement: Literal["before_results", "after_results"] = "after_results"
    required: bool = Field(False, description="With placement before_results, results wait for the opt-in.")
    consent: Consent | None = None
    line_consent: Consent | None = None
    double_opt_in: bool = True

    @property
    def gates_results(self) -> bool:
        """The results wait behind the opt-in, with no way to skip it."""
        return self.required and self.placement == "before_results"

    @field_validator("channels")
    @classmethod
    def _each_channel_once(cls, channels: list[str]) -> list[str]:
        if len(set(channels)) != len(channels):
            raise ValueError(f"each channel may be listed once; got {channels}")
        return channels


class Theme(Model):
    accent: Colour = "#2F6FEB"
    radius: int = Field(12, ge=0, le=32, description="Corner radius in pixels.")
    font: FontFamily = "system-ui, sans-serif"
    background: Colour | Literal["transparent"] = Field(
        "#ffffff", description='The quiz\'s background; "transparent" lets the shop page show through an embed.'
    )


class Embed(Model):
    allowed_origins: list[Origin] = Field(default_factory=list, description="Sites allowed to embed the quiz.")


class Quiz(Model):
    schema_: str | None = Field(None, alias="$schema")
    version: Literal[1] = Field(description="The version of this file format.")
    id: Slug
    title: Text
    intro: Text | None = None
    intro_image: Url | None = Field(None, description="A picture above the intro (absolute, or a path on the shop).")
    start_label: Text | None = None
    shop: ShopName | None = Field(
        None, description="The shop's name as shoppers know it, on the pages after the quiz (confirm, unsubscribe)."
    )
    locale: Locale = Field("en", description="The default locale, last in every fallback chain.")
    locales: list[Locale] = Field(default_factory=list, description="Every locale the quiz is written in.")
    currency: Currency = "USD"
    questions: list[Question] = Field(min_length=1, max_length=MAX_QUESTIONS)
    products: list[Product] = Field(default_factory=list, max_length=MAX_PRODUCTS)
    catalog: str | None = Field(None, description="A JSON or CSV product file, relative to the quiz file.")
    scoring: Scoring = Field(default_factory=Scoring)
    results: ResultsScreen = Field(default_factory=ResultsScreen)
    lead_capture: LeadCapture | None = None
    theme: Theme = Field(default_factory=Theme)
    embed: Embed = Field(default_factory=Embed)

    def all_locales(self) -> list[str]:
        return self.locales or [self.locale]

    @cached_property
    def question_index(self) -> dict[str, int]:
        return {question.id: index for index, question in enumerate(self.questions)}

    @cached_property
    def product_index(self) -> dict[str, Product]:
        return {product.id: product for product in self.products}

    @cached_property
    def tag_index(self) -> dict[str, list[str]]:
        """Product ids by tag, so tag points cost one lookup, not a scan of the catalog."""
        index: dict[str, list[str]] = {}
        for product in self.products:
            for tag in product.tags:
                index.setdefault(tag, []).append(product.id)
        return index

    @cached_property
    def derived(self) -> dict[object, Any]:
        """Data the engine derives from this quiz on first use (the quiz is frozen, so it stays true)."""
        return {}

    def conditions(self) -> list[Condition]:
        """Every condition written in the quiz: in branches, then in scoring rules."""
        branching = [branch.if_ for question in self.questions for branch in question.branches() if branch.if_]
        return branching + [rule.when for rule in self.scoring.rules]

    def question(self, question_id: str) -> Question:
        return self.questions[self.question_index[question_id]]


def json_schema() -> dict[str, Any]:
    """The JSON Schema that editors use to autocomplete and check quiz files."""
    schema = Quiz.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "quiz.schema.json"
    schema["title"] = "Product recommendation quiz"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"

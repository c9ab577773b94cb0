"""Products a quiz can recommend, and the filters that hard rules select them with."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from quiz.format.text import Text

SLUG_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
PRODUCT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
URL_PATTERN = r"^(https?://|/)[^\s<>\"']*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=64)]
ProductId = Annotated[str, StringConstraints(pattern=PRODUCT_ID_PATTERN, max_length=100)]
TagName = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
Currency = Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN)]
MAX_TAGS = 30
MAX_ATTRIBUTES = 30
Url = Annotated[str, StringConstraints(pattern=URL_PATTERN, max_length=2000)]
AttributeValue = str | float | bool


class Model(BaseModel):
    """Base for every part of the quiz format: a typo in a key fails loudly."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SizedImage(Model):
    url: Url
    width: int = Field(ge=16, le=8192, description="The picture's width in pixels.")


class Product(Model):
    id: ProductId = Field(description="Stable id, e.g. your SKU or handle.")
    title: Text
    url: Url = Field(description="The product page (absolute, or a path on the shop).")
    image: Url | None = None
    images: list[SizedImage] = Field(
        default_factory=list,
        max_length=8,
        description="The same picture at other widths: the browser picks the one the screen needs (srcset).",
    )
    description: Text | None = None
    variant_id: str | None = Field(
        None,
        pattern=r"^[0-9]{1,20}$",
        description="The Shopify variant to put in the cart: the results add it with a cart permalink.",
    )
    price: float | None = Field(None, ge=0, le=1e9)
    currency: Currency | None = Field(None, description="ISO 4217 code; defaults to the quiz's currency.")
    # 30 each: 20,000 products of 100 tags took 1.5 s to validate; a quiz scores on a handful of them.
    tags: list[TagName] = Field(default_factory=list, max_length=MAX_TAGS)
    attributes: dict[str, AttributeValue] = Field(default_factory=dict, max_length=MAX_ATTRIBUTES)
    in_stock: bool = True
    priority: int = Field(0, description="Higher wins ties; see scoring.tie_break.")
    reason: Text | None = Field(
        None, description="This product's own reason template; {reasons} and {product} are filled in."
    )

    @field_validator("tags")
    @classmethod
    def _each_tag_once(cls, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tags))  # a repeated tag must not earn its points twice


class ProductFilter(Model):
    """Selects products; every field that is set must match."""

    ids: list[ProductId] | None = Field(None, min_length=1)
    tags_any: list[TagName] | None = Field(None, min_length=1, description="Has at least one of these tags.")
    tags_all: list[TagName] | None = Field(None, min_length=1, description="Has every one of these tags.")
    tags_none: list[TagName] | None = Field(None, min_length=1, description="Has none of these tags.")
    attributes: dict[str, AttributeValue | list[AttributeValue]] | None = Field(
        None, min_length=1, description="Attribute equals the value, or is one of the listed values."
    )
    price_min: float | None = Field(None, ge=0)
    price_max: float | None = Field(None, ge=0)
    in_stock: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ProductFilter:
        if not self.model_fields_set:
            raise ValueError("an empty product filter matches every product; name at least one field")
        return self

    def matches(self, product: Product) -> bool:
        tags = product.tags
        if self.ids is not None and product.id not in self.ids:
            return False
        if self.tags_any is not None and not any(tag in tags for tag in self.tags_any):
            return False
        if self.tags_all is not None and not all(tag in tags for tag in self.tags_all):
            return False
        if self.tags_none is not None and any(tag in tags for tag in self.tags_none):
            return False
        if self.in_stock is not None and product.in_stock != self.in_stock:
            return False
        if not self._price_matches(product.price):
            return False
        return self._attributes_match(product)

    def _price_matches(self, price: float | None) -> bool:
        if self.price_min is None and self.price_max is None:
            return True
        if price is None:
            return False
        return (self.price_min is None or price >= self.price_min) and (
            self.price_max is None or price <= self.price_max
        )

    def _attributes_match(self, product: Product) -> bool:
        for name, wanted in (self.attributes or {}).items():
            actual = product.attributes.get(name)
            choices = wanted if isinstance(wanted, list) else [wanted]
            if actual is None or not any(_attribute_equal(actual, choice) for choice in choices):
                return False
        return True


def _attribute_equal(actual: AttributeValue, wanted: AttributeValue) -> bool:
    if isinstance(actual, str) and isinstance(wanted, str):
        return actual.casefold() == wanted.casefold()
    if isinstance(actual, str) and isinstance(wanted, float | int) and not isinstance(wanted, bool):
        return _as_number(actual) == wanted  # a CSV cell is text: "50" matches 50
    return actual == wanted


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None

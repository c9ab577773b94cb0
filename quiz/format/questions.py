"""Questions of every type, their options, and what an answer does to scoring and branching."""

from __future__ import annotations

import re
import unicodedata
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from quiz.format.conditions import Condition
from quiz.format.products import Model, ProductFilter, ProductId, Slug, TagName, Url
from quiz.format.text import Text

RESULTS = "results"
Weight = Annotated[float, Field(ge=-1000, le=1000)]


class Points(Model):
    """Points an answer adds to products, directly or through their tags (negative subtracts)."""

    products: dict[ProductId, Weight] = Field(default_factory=dict)
    tags: dict[TagName, Weight] = Field(default_factory=dict)


class Effect(Model):
    """What choosing an answer does to the recommendation."""

    points: Points | None = None
    require: ProductFilter | None = Field(None, description="Only products matching this stay in the running.")
    exclude: ProductFilter | None = Field(None, description="Products matching this are never recommended.")
    reason: Text | None = Field(None, description="How the shopper's reason names this answer.")

    def changes_scoring(self) -> bool:
        has_points = self.points is not None and bool(self.points.products or self.points.tags)
        return has_points or self.require is not None or self.exclude is not None


class Option(Effect):
    id: Slug
    label: Text
    image: Url | None = None
    description: Text | None = None


class Rule(Effect):
    """An effect that applies whenever its condition holds (e.g. a number answer over a threshold)."""

    when: Condition


class Branch(Model):
    if_: Condition | None = Field(None, alias="if", description="Omit for the default branch.")
    goto: str = Field(description=f"A question id, or '{RESULTS}'.")


def _slugify(label: str) -> str:
    """``"Crème fraîche"`` -> ``creme-fraiche``: accents dropped, anything else joined by '-'."""
    ascii_label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_label.lower())[:64].strip("-")


def _expand_shorthand(options: Any) -> Any:
    """``"options": ["Dry", "Oily"]`` means options with ids ``dry`` and ``oily``."""
    if not isinstance(options, list):
        return options
    expanded = []
    for option in options:
        if isinstance(option, str):
            slug = _slugify(option)
            if not slug:
                raise ValueError(
                    f"option {option!r} has no letters or digits to make an id from; "
                    'write it as {"id": "...", "label": ...}'
                )
            option = {"id": slug, "label": option}
        expanded.append(option)
    return expanded


MAX_BRANCHES = 100  # as many as options, and an answer per option is the most a question can branch on

Options = Annotated[
    list[Option],
    BeforeValidator(_expand_shorthand, json_schema_input_type=list[Option | str]),
    Field(min_length=2, max_length=100),
]


class _Question(Model):
    id: Slug = Field(description="A slug you choose; it is also the answer's key in exports.")
    title: Text
    help: Text | None = None
    optional: bool = False
    next: str | Annotated[list[Branch], Field(max_length=MAX_BRANCHES)] | None = Field(
        None, description="Where to go after this question; defaults to the next question in the file."
    )

    def branches(self) -> list[Branch]:
        if self.next is None:
            return []
        if isinstance(self.next, str):
            return [Branch(goto=self.next)]
        return self.next

    def choices(self) -> list[Option]:
        return []


class SingleChoice(_Question):
    type: Literal["single"]
    options: Options

    def choices(self) -> list[Option]:
        return self.options


class ImageChoice(_Question):
    type: Literal["image"]
    options: Options

    @model_validator(mode="after")
    def _every_option_has_image(self) -> ImageChoice:
        missing = [option.id for option in self.options if option.image is None]
        if missing:
            raise ValueError(f"an image question needs an image on every option; {missing[0]!r} has none")
        return self

    def choices(self) -> list[Option]:
        return self.options


class MultipleChoice(_Question):
    type: Literal["multiple"]
    options: Options
    min: int = Field(1, ge=0)
    max: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> MultipleChoice:
        top = self.max if self.max is not None else len(self.options)
        if self.min > top or top > len(self.options):
            raise ValueError(
                f"picks must satisfy min <= max <= number of options; got min={self.min}, "
                f"max={self.max}, {len(self.options)} options"
            )
        return self

    def most(self) -> int:
        return self.max if self.max is not None else len(self.options)

    def choices(self) -> list[Option]:
        return self.options


class YesNo(_Question):
    type: Literal["yes_no"]
    yes: Effect = Field(default_factory=Effect)
    no: Effect = Field(default_factory=Effect)
    yes_label: Text = {"en": "Yes", "ja": "はい"}
    no_label: Text = {"en": "No", "ja": "いいえ"}

    def choices(self) -> list[Option]:
        return self._choices

    @cached_property
    def _choices(self) -> list[Option]:
        return [
            Option(id="yes", label=self.yes_label, **self.yes.model_dump(exclude_unset=True)),
            Option(id="no", label=self.no_label, **self.no.model_dump(exclude_unset=True)),
        ]


class Scale(_Question):
    type: Literal["scale"]
    min: float = 1
    max: float = 5
    step: float = Field(1, gt=0)
    min_label: Text | None = None
    max_label: Text | None = None
    reason: Text | None = Field(None, description="How reasons name this answer; {value} is the number.")

    @model_validator(mode="after")
    def _range(self) -> Scale:
        if self.min >= self.max:
            raise ValueError(f"min must be below max; got min={self.min}, max={self.max}")
        if (self.max - self.min) / self.step > 100:
            raise ValueError(f"a scale has at most 101 positions; {self.min}..{self.max} by {self.step} has more")
        return self

    def values(self) -> list[float]:
        count = round((self.max - self.min) / self.step)
        return [round(self.min + index * self.step, 6) for index in range(count + 1)]


class Number(_Question):
    type: Literal["number"]
    min: float | None = None
    max: float | None = None
    integer: bool = False
    unit: Text | None = None
    reason: Text | None = Field(None, description="How reasons name this answer; {value} is the number.")

    @model_validator(mode="after")
    def _range(self) -> Number:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min must not exceed max; got min={self.min}, max={self.max}")
        return self


class ShortText(_Question):
    type: Literal["text"]
    max_length: int = Field(200, ge=1, le=2000)
    placeholder: Text | None = None


class Info(_Question):
    """A slide with no answer: a tip, a brand story, an interstitial."""

    type: Literal["info"]
    image: Url | None = None


Question = Annotated[
    SingleChoice | MultipleChoice | ImageChoice | YesNo | Scale | Number | ShortText | Info,
    Field(discriminator="type"),
]
CHOICE_TYPES = (SingleChoice, MultipleChoice, ImageChoice, YesNo)
NUMERIC_TYPES = (Scale, Number)

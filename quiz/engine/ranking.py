"""The catalog as arrays, and the ranking of one shopper's scores: whole-array work instead of a loop per product.

A call to ``recommend`` touches every product a few times (is it allowed, what did it score, does
it qualify), and 100,000 products visited one by one in Python cost tens of milliseconds. Here those
steps are numpy operations over columns derived once per quiz, and only the few products that can
reach the page are put in order by Python: the rest are cut off by a partition.

The order is exactly the one the README documents (score rounded to 9 decimals, highest first; then
the tie-break keys; then the product id), and scores are the same floats to the last bit: weights are
added in the same order as a plain loop adds them. ``tests/scoring_reference.py`` is that loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from quiz.format.products import Product, ProductFilter
from quiz.format.schema import Diversity, Quiz

Mask = npt.NDArray[np.bool_]
Positions = npt.NDArray[np.intp]
Scores = npt.NDArray[np.float64]
_T = TypeVar("_T")
_FIRST_LOOK = 256  # products put in order at first; eight times more each time diversity skips past them


def derived(quiz: Quiz, key: object, compute: Callable[[], _T]) -> _T:
    """``compute()`` once per quiz and key; the quiz is frozen, so the result stays true."""
    if key not in quiz.derived:
        quiz.derived[key] = compute()
    value: _T = quiz.derived[key]
    return value


@dataclass(frozen=True)
class Columns:
    """What ranking needs of each product, by its position in the catalog."""

    products: list[Product]
    ids: npt.NDArray[np.object_]
    position: dict[str, int]
    by_tag: dict[str, Positions]
    rank: Positions  # place in the order of the tie-break keys, then id: no two are equal
    group: Positions  # equal for products whose tie-break keys are equal (they differ only by id)


def columns(quiz: Quiz) -> Columns:
    return derived(quiz, "columns", lambda: _columns(quiz))


def _columns(quiz: Quiz) -> Columns:
    products = list(quiz.products)
    position = {product.id: at for at, product in enumerate(products)}
    keys = [tie_keys(quiz, product) for product in products]
    order = sorted(range(len(products)), key=lambda at: (keys[at], products[at].id))
    rank = np.empty(len(products), dtype=np.intp)
    group = np.empty(len(products), dtype=np.intp)
    previous: tuple[float, ...] | None = None
    for place, at in enumerate(order):
        rank[at] = place
        group[at] = place if keys[at] != previous else group[order[place - 1]]
        previous = keys[at]
    return Columns(
        products=products,
        ids=np.array([product.id for product in products], dtype=np.object_),
        position=position,
        by_tag={tag: np.array([position[pid] for pid in ids], dtype=np.intp) for tag, ids in quiz.tag_index.items()},
        rank=rank,
        group=group,
    )


def tie_keys(quiz: Quiz, product: Product) -> tuple[float, ...]:
    """How ``scoring.tie_break`` orders a product among equal scores (before its id)."""
    price = product.price if product.price is not None else math.inf
    keys = {
        "priority": -product.priority,
        "in_stock": 0 if product.in_stock else 1,
        "price": price,
        "price_desc": -price if product.price is not None else math.inf,
    }
    return tuple(keys[name] for name in quiz.scoring.tie_break)


def selected(quiz: Quiz, product_filter: ProductFilter) -> Mask:
    """Which products a filter selects, worked out once per filter object (the quiz's own, or a constant).

    Found by identity, not by its JSON, which cost more than the mask's use: the entry keeps the
    filter itself, so its id cannot pass to another object while the entry stands.
    """

    def made() -> tuple[ProductFilter, Mask]:
        return product_filter, np.array([product_filter.matches(product) for product in quiz.products], dtype=np.bool_)

    return derived(quiz, ("filter", id(product_filter)), made)[1]


def scores(catalog: Columns, per_tag: dict[str, float], per_product: dict[str, float]) -> Scores:
    """Each product's points: every tag's total added to its products, in ``per_tag`` order, then the products' own."""
    values = np.zeros(len(catalog.products))
    for tag, weight in per_tag.items():
        where = catalog.by_tag.get(tag)
        if where is not None:
            values[where] += weight  # a tag's products are distinct: no position is added twice
    for product_id, weight in per_product.items():
        at = catalog.position.get(product_id)
        if at is not None:
            values[at] += weight
    return values


def rounded(values: Scores) -> Scores:
    """``round(value, 9)`` of each value, as Python rounds it (to the nearest, ties to even, on the exact binary value).

    numpy rounds by scaling: ``rint(value * 1e9) / 1e9``. That is Python's result whenever the product
    is safely away from a halfway point and small enough to hold the integer exactly; the few that are
    not are rounded by Python itself.
    """
    scaled = values * 1e9
    result: Scores = np.rint(scaled) / 1e9
    error = np.abs(scaled) * 2.3e-16 + 1e-12  # how far the scaling may be from the exact product
    doubtful = (np.abs(scaled - np.floor(scaled) - 0.5) <= error) | (np.abs(scaled) >= 2.0**52)
    for at in np.flatnonzero(doubtful):
        result[at] = round(float(values[at]), 9)
    return result


class Ranking:
    """Qualifying products in rank order, put in order lazily: a page of results needs only the top few."""

    def __init__(self, catalog: Columns, values: Scores, qualified: Mask) -> None:
        self._catalog = catalog
        self._at = np.flatnonzero(qualified)
        self._score = rounded(values[self._at])
        self._rank = catalog.rank[self._at]
        self._order: Positions = np.empty(0, dtype=np.intp)  # into _at: a proven first part of the order
        self._taken = 0

    def __len__(self) -> int:
        return len(self._at)

    def diverse(self, count: int, diversity: Diversity | None) -> list[Product]:
        """The first ``count`` products, skipping any that shares a tag ``diversity`` has seen enough of.

        A tag's products are all marked at once when it is full, so finding the next product that may be
        shown is one array operation, however many are skipped on the way.
        """
        products = self._catalog.products
        full = np.zeros(len(products), dtype=np.bool_)
        shown: dict[str, int] = {}
        chosen: list[Product] = []
        place = 0  # in rank order: every product before it was looked at
        ordered = self._at[self._order]
        while len(chosen) < count:
            if place == len(ordered):
                if place == len(self._at):
                    break
                self._order = self._first(max(_FIRST_LOOK, 8 * place))
                ordered = self._at[self._order]
            if diversity is None:
                taken = ordered[place : place + count - len(chosen)]
                chosen.extend(products[int(at)] for at in taken)
                place += len(taken)
                continue
            free = ~full[ordered[place:]]
            first = int(free.argmax())
            if not free[first]:
                place = len(ordered)
                continue
            place += first + 1
            product = products[int(ordered[place - 1])]
            chosen.append(product)
            self._count_tags(product, diversity, shown, full)
        self._taken = place
        return chosen

    def _count_tags(self, product: Product, diversity: Diversity, shown: dict[str, int], full: Mask) -> None:
        for tag in product.tags:
            if diversity.tags is None or tag in diversity.tags:
                shown[tag] = shown.get(tag, 0) + 1
                if shown[tag] == diversity.max_per_tag:
                    full[self._catalog.by_tag[tag]] = True

    def _take(self) -> bool:
        """Take the next product in rank order; False when none is left."""
        if self._taken == len(self._at):
            return False
        if self._taken == len(self._order):
            self._order = self._first(max(_FIRST_LOOK, 8 * self._taken))
        self._taken += 1
        return True

    def _first(self, count: int) -> Positions:
        """The first ``count`` qualifying products in rank order (indexes into ``_at``)."""
        size = len(self._at)
        score, rank = self._score, self._rank
        if count >= size:
            chosen: Positions = np.arange(size)
        else:
            threshold = np.partition(score, size - count)[size - count]  # the count-th highest
            above = np.flatnonzero(score > threshold)
            level = np.flatnonzero(score == threshold)
            wanted = count - len(above)
            if wanted < len(level):  # of the products tied at the threshold, those first by tie-break
                level = level[np.argpartition(rank[level], wanted - 1)[:wanted]]
            chosen = np.concatenate([above, level])
        ordered: Positions = chosen[np.lexsort((rank[chosen], -score[chosen]))]
        return ordered

    def second_score(self) -> float:
        """The (rounded) score of the second product in rank order, or 0 when only one qualifies."""
        while self._taken < 2 and self._take():
            pass
        return float(self._score[self._order[1]]) if self._taken > 1 else 0.0

    def tied_ids(self) -> tuple[str, ...]:
        """The products of neighbours, down to the first product left out, that differ only by product id."""
        self._take()
        looked = self._at[self._order[: self._taken]]
        score = self._score[self._order[: self._taken]]
        group = self._catalog.group[looked]
        tied_with_next = (score[1:] == score[:-1]) & (group[1:] == group[:-1])
        tied = np.zeros(len(looked), dtype=np.bool_)
        tied[:-1] |= tied_with_next
        tied[1:] |= tied_with_next
        return tuple(self._catalog.ids[looked[tied]].tolist())  # in rank order: each tie's first, then second

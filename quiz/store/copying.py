"""Moving a shop's data between stores (the embedded folder into PostgreSQL, and back), checked by counts.

Records keep their ids and their order; a record already in the target is replaced by the source's,
so a copy interrupted half-way is finished by running it again. The servers should be stopped, or
at least not writing, while it runs: what they write meanwhile may be missed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from quiz.store.base import Store

BATCH = 1000


@dataclass(frozen=True)
class Copied:
    collection: str
    source: int
    target: int

    @property
    def whole(self) -> bool:
        return self.source == self.target


def copy_store(source: Store, target: Store, *, told: Callable[[Copied], None] = lambda copied: None) -> list[Copied]:
    """Copy every collection, oldest record first; what each holds afterwards, counted on both sides."""
    copied = []
    for collection in source.collections():
        records = source.records(collection)
        while batch := list(itertools.islice(records, BATCH)):
            target.put_many(collection, batch)
        done = Copied(collection, source.count(collection), target.count(collection))
        told(done)
        copied.append(done)
    return copied

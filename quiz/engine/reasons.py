"""The shopper-facing reason for each recommendation, written from its scoring trace."""

from __future__ import annotations

from quiz.engine.scoring import Recommended
from quiz.format.schema import Quiz
from quiz.format.text import best_locale, builtin, fill, join_labels, resolve

MAX_REASONS = 3


def reason_for(quiz: Quiz, item: Recommended, locale: str, *, fallback: bool = False) -> str:
    """``Because you said “Dry” and “Fragrance-free”.``, from the answers that really counted."""
    default = quiz.locale
    locale = best_locale(locale, quiz.all_locales(), default)
    title = resolve(item.product.title, locale, default)
    labels = reason_labels(quiz, item, locale)
    if fallback:
        custom = quiz.results.fallback_reason
        return resolve(custom, locale, default) if custom else builtin("fallback_reason", locale)
    if not labels:
        return builtin("unexplained_reason", locale)
    template = item.product.reason or quiz.results.reason
    text = resolve(template, locale, default) if template else builtin("reason", locale)
    return fill(text, {"reasons": join_labels(labels, locale), "product": title})


def reason_labels(quiz: Quiz, item: Recommended, locale: str) -> list[str]:
    """The answers behind a result, strongest first: points that helped, then filters it passed."""
    weights: dict[str, float] = {}
    for line in item.trace:
        if line.label is None:
            continue
        label = resolve(line.label, locale, quiz.locale)
        if line.kind == "points":
            weights[label] = weights.get(label, 0.0) + line.points
        else:
            weights.setdefault(label, 0.0)
    helped = sorted((label for label, weight in weights.items() if weight > 0), key=lambda label: -weights[label])
    passed = [label for label, weight in weights.items() if weight == 0]
    return (helped + passed)[:MAX_REASONS]

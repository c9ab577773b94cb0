"""Shopper-facing text: per-locale strings, the locale fallback chain and safe templates."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Annotated

from pydantic import Field, StringConstraints

LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
Locale = Annotated[str, StringConstraints(pattern=LOCALE_PATTERN, max_length=35)]
PlainText = Annotated[str, StringConstraints(max_length=2000)]

# A shopper-facing string: one string for every locale, or one per locale.
Text = PlainText | Annotated[dict[Locale, PlainText], Field(min_length=1)]

_PLACEHOLDER = re.compile(r"\{([a-z_]*)\}")


def without_controls(text: str) -> str:
    """``text`` with control characters as spaces and lone surrogates dropped: what a browser sent, safe to store.

    A NUL cannot be kept in PostgreSQL's text at all, and a lone surrogate cannot even be encoded.
    """
    if text.isprintable():
        return text
    return "".join(_kept(char) for char in text)


def _kept(char: str) -> str:
    category = unicodedata.category(char)
    return " " if category == "Cc" else "" if category == "Cs" else char


def locale_chain(locale: str, default: str) -> list[str]:
    """The locales to try, most specific first: ``ja-JP`` -> ``ja`` -> the quiz default."""
    chain: list[str] = []
    parts = locale.split("-")
    for end in range(len(parts), 0, -1):
        chain.append("-".join(parts[:end]))
    if default not in chain:
        chain.append(default)
    return chain


def best_locale(requested: str, available: Iterable[str], default: str) -> str:
    """The quiz locale to speak to a shopper asking for ``requested``: ``ja-JP`` gets ``ja``."""
    return _best_locale(requested, tuple(available), default)


@functools.lru_cache(maxsize=1024)  # asked several times a request, of a few locales
def _best_locale(requested: str, available: tuple[str, ...], default: str) -> str:
    lowered = {locale.lower(): locale for locale in available}
    for candidate in locale_chain(requested.lower(), default.lower()):
        if candidate in lowered:
            return lowered[candidate]
    return default


def resolve(text: Text, locale: str, default: str) -> str:
    """The string a shopper reading ``locale`` sees, following the fallback chain."""
    return resolved(text, locale, default)[1]


def resolved(text: Text, locale: str, default: str) -> tuple[str, str]:
    """The locale of the string a shopper reading ``locale`` sees, and the string.

    One string for every locale is written in the quiz's default locale.
    """
    if isinstance(text, str):
        return default, text
    if len(text) == 1:  # whatever the chain finds, it is this one
        return next(iter(text.items()))
    lowered = {key.lower(): (key, value) for key, value in text.items()}
    for candidate in _lowered_chain(locale, default):
        if candidate in lowered:
            return lowered[candidate]
    return next(iter(text.items()))


@functools.lru_cache(maxsize=1024)  # a few locales, asked for every text on every page
def _lowered_chain(locale: str, default: str) -> tuple[str, ...]:
    return tuple(locale_chain(locale.lower(), default.lower()))


def missing_locales(text: Text, locales: Iterable[str]) -> list[str]:
    """Declared locales that a per-locale text has no string for."""
    if isinstance(text, str):
        return []
    return [locale for locale in locales if locale not in text]


def placeholders(template: str) -> set[str]:
    """The ``{name}`` placeholders a template uses."""
    return set(_PLACEHOLDER.findall(template))


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace ``{name}`` placeholders; unknown ones stay as written.

    Deliberately not ``str.format``: merchant templates must not reach attributes
    (``{product.__class__}``) or need brace escaping.
    """
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def format_number(value: float) -> str:
    """``40.0`` -> ``40``, ``1000000.0`` -> ``1000000``, ``2.5`` -> ``2.5``."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def join_labels(labels: list[str], locale: str) -> str:
    """Quote and join answer labels the way each language lists things."""
    if locale.split("-")[0] == "ja":
        return "".join(f"「{label}」" for label in labels)
    quoted = [f"“{label}”" for label in labels]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


# Built-in wording used when a quiz does not set its own; English is the last resort.
BUILTIN: dict[str, dict[str, str]] = {
    "reason": {
        "en": "Because you said {reasons}.",
        "ja": "{reasons}とお答えいただいたため、おすすめです。",
    },
    "unexplained_reason": {
        "en": "It fits everything you told us.",
        "ja": "ご回答の条件にすべて合う商品です。",
    },
    "fallback_reason": {
        "en": "A favourite of our customers while we look for your perfect match.",
        "ja": "ぴったりの商品が見つからなかったため、人気の商品をご紹介します。",
    },
}


def builtin(key: str, locale: str) -> str:
    """A built-in string in the shopper's language, or English."""
    return resolve(BUILTIN[key], locale, "en")

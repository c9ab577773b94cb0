"""Japanese lines that break between phrases, never inside a word: 美容液 / 診断, not 美容液診 / 断.

Japanese has no spaces, so a browser may break a line after any character. BudouX (Google's
phrase segmenter, the ``budoux`` package) finds the phrase boundaries on the server; the text is
sent with ``<wbr>`` there and a class whose ``word-break: keep-all`` allows breaks at those points
only. Its own HTML output carries an inline style, which the quiz's Content-Security-Policy forbids.
"""

from __future__ import annotations

import functools

import budoux
from markupsafe import Markup, escape

SHORTEST_LAST_PHRASE = 2  # characters: a shorter last phrase joins the one before, so no line is one character


@functools.cache
def _parser() -> budoux.Parser:
    return budoux.load_default_japanese_parser()


@functools.lru_cache(maxsize=8192)  # the same titles, options and products on every page
def phrased(text: str, locale: str) -> Markup:
    """``text`` as HTML: for Japanese, its phrases joined by ``<wbr>`` in a span that breaks only there."""
    if not text or not locale.lower().startswith("ja"):
        return escape(text)
    phrases = _parser().parse(text)
    if len(phrases) > 1 and len(phrases[-1]) < SHORTEST_LAST_PHRASE:
        phrases = [*phrases[:-2], phrases[-2] + phrases[-1]]
    return Markup('<span class="quiz-phrases">{}</span>').format(Markup("<wbr>").join(map(escape, phrases)))

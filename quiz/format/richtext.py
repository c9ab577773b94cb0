"""The little HTML a merchant may write in the quiz's longer texts, cleaned by an allow-list.

Intro, question help and the results texts may carry emphasis, line breaks and links; everything
else is removed by nh3 (the Rust ammonia sanitizer), whatever the merchant or a compromised editor
wrote. Every other text is escaped as plain text.
"""

from __future__ import annotations

import re

import nh3

INLINE_TAGS = {"a", "b", "br", "em", "i", "small", "strong"}
LINK_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}
# A link leaves the embedded quiz for the whole window, as product links do.
LINK_TARGET = {"a": {"target": "_top"}}
_TAG = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")


def clean(html: str) -> str:
    """``html`` with only the allowed tags, attributes and link schemes left."""
    return nh3.clean(
        html,
        tags=INLINE_TAGS,
        attributes=LINK_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        set_tag_attribute_values=LINK_TARGET,
        clean_content_tags={"script", "style"},
    )


def takes_markup(location: tuple[str | int, ...]) -> bool:
    """Whether the text at this path of a quiz is rendered as (cleaned) HTML."""
    if location in (("intro",), ("results", "text"), ("results", "empty_text")):
        return True
    return location[0] == "questions" and location[-1] == "help"


def tags_in(html: str) -> set[str]:
    """The names of the tags written in ``html``, for the linter to report."""
    return {name.lower() for name in _TAG.findall(html)}

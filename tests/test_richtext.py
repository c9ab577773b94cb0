"""Merchant HTML in intro, help and results texts: only the allow-list survives, whatever is thrown at it."""

from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quiz.format.richtext import INLINE_TAGS, clean, takes_markup


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("Pick <b>one</b><br>or <em>two</em>", "Pick <b>one</b><br>or <em>two</em>"),
        ("<script>alert(1)</script>ok", "ok"),
        ("<img src=x onerror=alert(1)>text", "text"),
        ('<a href="javascript:alert(1)">x</a>', '<a target="_top" rel="noopener noreferrer">x</a>'),
        ('<a href="https://shop.example/p" onclick="x()">p</a>',
         '<a href="https://shop.example/p" target="_top" rel="noopener noreferrer">p</a>'),
        ('<b style="color:red" class="x">b</b>', "<b>b</b>"),
        ("<style>body{display:none}</style>shown", "shown"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("<iframe src=//evil></iframe>after", "after"),
    ],
)  # fmt: skip
def test_only_the_allow_list_survives(html, expected):
    assert clean(html) == expected


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, dict(attrs)))


PIECES = st.sampled_from([*"<>/=\"' ab:()", "script", "img", "onerror", "href", "javascript"])


@given(st.lists(PIECES, max_size=40).map("".join))
def test_only_allowed_tags_and_attributes_ever_come_out(html):
    parser = _Tags()
    parser.feed(clean(html))
    for tag, attributes in parser.seen:
        assert tag in INLINE_TAGS
        assert set(attributes) <= ({"href", "target", "rel"} if tag == "a" else set())
        assert not (attributes.get("href") or "").strip().lower().startswith("javascript")


def test_which_fields_take_markup():
    assert takes_markup(("intro",)) and takes_markup(("questions", 3, "help"))
    assert takes_markup(("results", "text")) and takes_markup(("results", "empty_text"))
    assert not takes_markup(("title",)) and not takes_markup(("questions", 0, "options", 1, "label"))

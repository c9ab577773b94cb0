"""Stored JSON reads back as the standard library reads it, whichever decoder took it (quiz.store.decoding)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quiz.store.decoding import loads

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=30)


def read(decode, text):
    try:
        return repr(decode(text))  # repr: NaN is not equal to itself, and -0.0 equals 0.0
    except (ValueError, UnicodeDecodeError) as error:
        return type(error).__name__


@given(values, st.booleans())
def test_whatever_python_stored_reads_back_the_same(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert read(loads, text) == read(json.loads, text)


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_read_or_fail_as_the_standard_library_has_them(text):
    assert read(loads, text) == read(json.loads, text)


@pytest.mark.parametrize(
    "text", [b"123456789012345678901234567890", b"1e400", b"NaN", b'"\\ud800"', b'"\xff"', b"[1] x", b"\xef\xbb\xbf[1]"]
)
def test_what_only_the_standard_library_reads_is_read_by_it(text):
    assert read(loads, text) == read(json.loads, text)

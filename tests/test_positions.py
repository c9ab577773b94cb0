"""Positions: the line and column of the paths problems name, in any JSON text."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from quiz.authoring.positions import Positions

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
documents = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
)


def paths_in(value, path=()):
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        yield from paths_in(item, (*path, key))


def offset_of(text, line, column):
    return sum(len(row) + 1 for row in text.split("\n")[: line - 1]) + column - 1


@settings(max_examples=300, deadline=None)
@given(documents, st.sampled_from([None, 0, 2]), st.booleans())
def test_every_path_points_at_its_key_or_its_value(document, indent, ascii_only):
    text = json.dumps(document, indent=indent, ensure_ascii=ascii_only)
    paths = list(paths_in(document))
    positions = Positions(text, paths)
    for path in paths:
        offset = offset_of(text, *positions.line_column(path))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        if path and isinstance(parent, dict):  # an object member: its key is written there
            key_end = json.decoder.scanstring(text, offset + 1)
            assert text[offset] == '"' and key_end[0] == path[-1]
        else:  # an array item or the document: its value starts there
            value = json.JSONDecoder().raw_decode(text, offset)[0]
            expected = parent[path[-1]] if path else document
            assert json.dumps(value) == json.dumps(expected)


def test_a_path_that_is_not_there_gets_its_nearest_existing_parent():
    text = '{\n  "questions": [\n    {"id": "a"}\n  ]\n}'
    positions = Positions(text, [("questions", 0, "options", 3, "label"), ("nothing",)])
    assert positions.line_column(("questions", 0, "options", 3, "label")) == (3, 5)
    assert positions.line_column(("nothing",)) == (1, 1)


def test_text_that_is_not_json_places_everything_at_the_start():
    assert Positions('{"a": [1, 2', [("a", 1)]).line_column(("a", 1)) == (1, 1)

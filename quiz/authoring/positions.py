"""Where in a JSON text a value sits: line and column for the paths problems name.

Written here rather than taken from ``json-source-map``: that library maps every value of the file
in pure Python, which took 28 seconds on a 2 MB quiz, so one mistake in a large file made
``quiz validate`` (and a reload in the server) take that long. Only the paths of the problems
found are needed: this walks down those paths alone and lets the standard library's C decoder
skip everything else, so a 2 MB file is located in tens of milliseconds.

The text must already have parsed as JSON (the loader parses it first): this only finds places.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterable

Part = str | int
Path = tuple[Part, ...]
_Trie = dict[str, "_Trie"]

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# The C string scanner the decoder itself uses (typeshed does not list it).
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


class Positions:
    """The offset of each path's key (an object member) or value (an array item, the document)."""

    def __init__(self, text: str, paths: Iterable[Path]) -> None:
        self._text = text
        self._offsets: dict[Path, int] = {}
        self._lines = [match.end() for match in re.finditer("\n", text)]
        trie: _Trie = {}
        for path in paths:
            node = trie
            for part in path:
                node = node.setdefault(str(part), {})
        try:
            self._walk(_skip_space(text, 0), trie, ())
        except (ValueError, IndexError):  # not JSON after all: every path gets the start of the file
            self._offsets = {}

    def line_column(self, path: Path) -> tuple[int, int]:
        """1-based line and column of ``path``, or of the nearest enclosing value that exists."""
        parts = tuple(str(part) for part in path)
        while parts not in self._offsets and parts:
            parts = parts[:-1]
        offset = self._offsets.get(parts)
        if offset is None:
            return 1, 1
        line = bisect.bisect_right(self._lines, offset)
        start = self._lines[line - 1] if line else 0
        return line + 1, offset - start + 1

    def _walk(self, index: int, trie: _Trie, path: tuple[str, ...], spot: int | None = None) -> int:
        """Record ``path`` at ``spot`` (its key) or ``index`` (its value); returns the index after the value."""
        self._offsets[path] = index if spot is None else spot
        text = self._text
        if not trie or text[index] not in "{[":
            return _DECODER.raw_decode(text, index)[1]  # nothing wanted inside: the C decoder skips it
        if text[index] == "{":
            return self._object(index, trie, path)
        return self._array(index, trie, path)

    def _object(self, index: int, trie: _Trie, path: tuple[str, ...]) -> int:
        text = self._text
        index = _skip_space(text, index + 1)
        if text[index] == "}":
            return index + 1
        while True:
            key_start = index
            key, index = _scanstring(text, index + 1)
            index = _skip_space(text, _skip_space(text, index) + 1)  # past the colon
            child = trie.get(key)
            if child is None:
                index = _DECODER.raw_decode(text, index)[1]
            else:
                index = self._walk(index, child, (*path, key), key_start)
            index = _skip_space(text, index)
            if text[index] == "}":
                return index + 1
            index = _skip_space(text, index + 1)  # past the comma

    def _array(self, index: int, trie: _Trie, path: tuple[str, ...]) -> int:
        text = self._text
        index = _skip_space(text, index + 1)
        if text[index] == "]":
            return index + 1
        position = 0
        while True:
            child = trie.get(str(position))
            if child is None:
                index = _DECODER.raw_decode(text, index)[1]
            else:
                index = self._walk(index, child, (*path, str(position)))
            index = _skip_space(text, index)
            if text[index] == "]":
                return index + 1
            index = _skip_space(text, index + 1)
            position += 1


def _skip_space(text: str, index: int) -> int:
    end = _SPACE.match(text, index)
    assert end is not None  # the pattern matches the empty string
    return end.end()

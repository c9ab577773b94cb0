"""Stored JSON read back into records: by msgspec where it can, by the standard library where it cannot.

Both stores read their records as JSON text (the embedded store's segment files, PostgreSQL's
jsonb), an export reads a million of them, and msgspec decodes them twice as fast as the standard
library, to the same values (integers past 64 bits included, where orjson would round them to a
float). It refuses a little that the standard library reads (a NaN, a number past a float's range,
an escaped lone surrogate), which a file edited by hand may hold: that text is read by the standard
library, so both read the same data, and fail alike on what neither can read.
"""

from __future__ import annotations

import gc
import json
from typing import Any

import msgspec

_DECODER = msgspec.json.Decoder()


def loads(text: bytes | bytearray | memoryview | str) -> Any:
    collecting = gc.isenabled()
    gc.disable()  # a segment is 20,000 new objects, none in a cycle: the collector would scan them again and again
    try:
        return _DECODER.decode(text)
    except msgspec.DecodeError:  # ValidationError (a number out of range) is one too
        return json.loads(bytes(text) if isinstance(text, memoryview) else text)
    finally:
        if collecting:
            gc.enable()

"""Racing calls for the tests: each in its own thread, all started before any is waited for."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any


def together(target: Callable[..., object], arguments: Iterable[tuple[Any, ...]]) -> None:
    """``target(*args)`` for each of ``arguments`` at once; returns when every one has finished."""
    threads = [threading.Thread(target=target, args=args) for args in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

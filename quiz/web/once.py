"""Work done once per request: a step and its response both need the shopper's trail and results.

A request checks a token and then shows its step, or stores a completed run and then shows its
results; each side asks for the same pure computation with the same arguments. The first answer
is kept on ``request.state`` for the rest of that request only, so nothing outlives it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request

_T = TypeVar("_T")


def once_per_request(request: Request, compute: Callable[..., _T], *args: Any) -> _T:
    """``compute(*args)``, computed once per request for the same arguments (the same object or equal).

    The result is shared: read it, do not change it.
    """
    done: list[tuple[Callable[..., Any], tuple[Any, ...], Any]] | None = getattr(request.state, "computed", None)
    if done is None:
        done = request.state.computed = []
    for seen_compute, seen_args, result in done:
        if seen_compute is compute and all(a is b or a == b for a, b in zip(seen_args, args, strict=True)):
            return result  # type: ignore[no-any-return]
    result = compute(*args)
    kept = tuple(dict(arg) if isinstance(arg, dict) else arg for arg in args)  # the caller may change its dict later
    done.append((compute, kept, result))
    return result

"""Bringing a live shop's product feed to disk as a quiz's catalog (``quiz catalog fetch``).

The download is bounded in bytes and seconds, read exactly as the quiz will read it, and written
only when it holds no problem: a feed that fails, times out or turns out broken leaves the last
good copy where it was. Shopify's ``/products.json`` is read page by page (250 products each).
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from quiz.authoring.catalog import MAX_CATALOG_BYTES, Catalog, read_catalog
from quiz.authoring.problems import Problem
from quiz.store.files import write_atomically

MAX_SECONDS = 60.0  # for the whole feed, every page included
SHOPIFY_PAGE = 250  # the most products.json gives per page
MAX_PAGES = 40  # 10,000 products, the format's limit
CHUNK = 64 * 1024


def _web_only() -> urllib.request.OpenerDirector:
    """An opener for http and https alone: a redirect to ftp:// or file:// fails instead of being followed."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.HTTPHandler,
        urllib.request.HTTPSHandler,
        urllib.request.HTTPRedirectHandler,
        urllib.request.HTTPDefaultErrorHandler,
        urllib.request.HTTPErrorProcessor,
    ):
        opener.add_handler(handler())
    return opener


_WEB_ONLY = _web_only()


class FeedFetchError(Exception):
    """The feed could not be brought: the address, the network, its size or its time."""


@dataclass(frozen=True)
class Fetched:
    catalog: Catalog
    written: bool  # False: the feed had problems, and the file on disk was left as it was
    pages: int


def fetch_catalog(
    url: str, out: Path, *, max_bytes: int = MAX_CATALOG_BYTES, max_seconds: float = MAX_SECONDS
) -> Fetched:
    """Download ``url`` into ``out`` (its name says the format, as a quiz's ``catalog`` does) if it reads cleanly."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FeedFetchError(f"{url[:200]!r} is not an http(s) address")
    deadline = time.monotonic() + max_seconds
    if parts.path.endswith("/products.json"):
        body, pages = _shopify_pages(url, max_bytes, deadline, max_seconds)
    else:
        body, pages = _download(url, max_bytes, deadline, max_seconds), 1
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problem = Problem((), f"the feed is not UTF-8 text (byte {error.start})", file=str(out))
        return Fetched(Catalog(str(out), problems=[problem]), written=False, pages=pages)
    catalog = read_catalog(text, file=str(out))
    if not catalog.problems and not catalog.products:
        catalog.problems.append(Problem((), "the feed holds no product", file=str(out)))
    if len(body) > max_bytes:  # Shopify's pages joined may outgrow what a catalog file may be
        size = f"{len(body):,} bytes; a catalog takes at most {max_bytes:,}"
        catalog.problems.append(Problem((), f"the feed is {size}", file=str(out)))
    if catalog.problems:
        return Fetched(catalog, written=False, pages=pages)
    _replace(out, body)
    return Fetched(catalog, written=True, pages=pages)


def _shopify_pages(url: str, max_bytes: int, deadline: float, max_seconds: float) -> tuple[bytes, int]:
    """Every page of a Shopify products.json, joined into one document."""
    products: list[object] = []
    size = 0
    for page in range(1, MAX_PAGES + 1):
        body = _download(
            _with_query(url, limit=str(SHOPIFY_PAGE), page=str(page)), max_bytes - size, deadline, max_seconds
        )
        size += len(body)
        try:
            found = json.loads(body).get("products")
        except (ValueError, AttributeError):
            return body, page  # not what Shopify serves: the reader says what is wrong with it
        if not isinstance(found, list):
            return body, page
        products += found
        if len(found) < SHOPIFY_PAGE:
            return json.dumps({"products": products}, ensure_ascii=False, separators=(",", ":")).encode(), page
    more = _download(
        _with_query(url, limit=str(SHOPIFY_PAGE), page=str(MAX_PAGES + 1)), max_bytes, deadline, max_seconds
    )
    try:
        beyond = json.loads(more).get("products")
    except (ValueError, AttributeError):
        beyond = None
    if beyond:
        raise FeedFetchError(f"more than {MAX_PAGES * SHOPIFY_PAGE:,} products; a quiz takes at most 10,000")
    return json.dumps({"products": products}, ensure_ascii=False, separators=(",", ":")).encode(), MAX_PAGES


def _with_query(url: str, **values: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | values
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _download(url: str, max_bytes: int, deadline: float, max_seconds: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "quiz-server catalog fetch", "Accept": "*/*"})
    chunks: list[bytes] = []
    try:
        with _WEB_ONLY.open(request, timeout=max(0.1, deadline - time.monotonic())) as response:
            # The socket's timeout bounds each read, not the whole: a shop sending a byte a minute
            # would never time out. At the deadline the response is closed under the reader.
            timer = threading.Timer(max(0.0, deadline - time.monotonic()), response.close)
            timer.start()
            try:
                chunks = _read_all(response, max_bytes, deadline, max_seconds)
            finally:
                timer.cancel()
    except FeedFetchError:
        raise
    except urllib.error.HTTPError as error:
        raise FeedFetchError(f"{_shown(url)} answered {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise FeedFetchError(f"{_shown(url)} could not be reached: {reason}") from None
    return b"".join(chunks)


def _read_all(response: Any, max_bytes: int, deadline: float, max_seconds: float) -> list[bytes]:
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = response.read1(CHUNK)  # whatever has arrived: the deadline is checked between pieces
        except (ValueError, OSError, AttributeError):  # closed by the timer
            chunk = b""
        if time.monotonic() > deadline:
            raise FeedFetchError(f"the feed took longer than {max_seconds:g} s to download")
        if not chunk:
            return chunks
        size += len(chunk)
        if size > max_bytes:
            raise FeedFetchError(f"the feed is larger than {MAX_CATALOG_BYTES // (1024 * 1024)} MiB, a catalog's limit")
        chunks.append(chunk)


def _shown(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))[:200]


def _mode_of(out: Path) -> int:
    """The old copy's permissions, else rw-r--r--: the server may run as another user than the fetch."""
    try:
        return out.stat().st_mode & 0o777
    except OSError:
        return 0o644


def _replace(out: Path, body: bytes) -> None:
    """Written whole or not at all (quiz.store.files), with the old copy's permissions."""
    out.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_of(out)
    write_atomically(out, body)
    os.chmod(out, mode)

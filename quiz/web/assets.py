"""Static files, compressed once at start-up and served under content-hashed names.

``quiz.css`` is served as ``/static/quiz.1a2b3c4d5e.css`` with a one-year immutable cache, and under
its plain name with a short cache (``widget.js`` must keep the URL merchants paste into their theme).
Starlette's ``StaticFiles`` neither compresses nor versions, and the files are few and small, so they
are read into memory with their gzip and brotli bodies already made.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import brotli
import rcssmin
import rjsmin
from starlette.requests import Request
from starlette.responses import Response

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
COMPRESSIBLE = (".js", ".css", ".svg", ".txt", ".json", "")
# Links to the checkout's top-level static/ and widgets/; a wheel holds copies of their files.
STATIC = Path(__file__).parent / "static"
WIDGETS = Path(__file__).parent / "widgets"


@dataclass(frozen=True)
class Asset:
    name: str  # as linked by templates, e.g. "vendor/htmx-2.0.11/htmx.min.js"
    versioned: str  # the same with the content hash before the extension
    media_type: str
    bodies: dict[str, bytes]  # by Content-Encoding: "identity", "br", "gzip"
    digest: str


class Assets:
    """Every file under the given folders, by plain and by versioned name."""

    def __init__(self, folders: list[Path]) -> None:
        self._by_name: dict[str, Asset] = {}
        self._by_versioned: dict[str, Asset] = {}
        for folder in folders:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    asset = _read(path, path.relative_to(folder).as_posix())
                    self._by_name[asset.name] = asset
                    self._by_versioned[asset.versioned] = asset

    def digests(self) -> list[str]:
        """Every file's name and content hash, in name order."""
        return [f"{name}:{asset.digest}" for name, asset in sorted(self._by_name.items())]

    def url(self, name: str) -> str:
        """The versioned path of a file, for templates: it changes whenever the file does."""
        return "/static/" + self._by_name[name].versioned

    def response(self, request: Request, name: str) -> Response:
        asset = self._by_versioned.get(name)
        cache = IMMUTABLE
        if asset is None:
            asset, cache = self._by_name.get(name), SHORT
        if asset is None:
            return Response("Not found.", status_code=404, media_type="text/plain")
        encoding = _encoding(request.headers.get("accept-encoding", ""), asset)
        # Each encoding is a different body, so each has its own tag (caches must not mix them up).
        etag = f'"{asset.digest}-{encoding}"'
        headers = {"Cache-Control": cache, "ETag": etag, "Vary": "Accept-Encoding"}
        if etag in (tag.strip() for tag in request.headers.get("if-none-match", "").split(",")):
            return Response(status_code=304, headers=headers)
        if encoding != "identity":
            headers["Content-Encoding"] = encoding
        return Response(asset.bodies[encoding], media_type=asset.media_type, headers=headers)


def widget_version(assets: Assets, template_folders: list[Path]) -> str:
    """The server's release and a hash of every script, style and template it shows, e.g. ``0.1.0+3f2a9c1b7d``.

    Consent evidence records it, so a dispute can be answered with the exact widget a shopper used,
    even from a checkout between releases.
    """
    try:
        release = importlib.metadata.version("quiz-server")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        release = "unreleased"
    digest = hashlib.sha256("\n".join(assets.digests()).encode())
    for folder in template_folders:
        for path in sorted(item for item in folder.rglob("*") if item.is_file()):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{release}+{digest.hexdigest()[:10]}"


def _read(path: Path, name: str) -> Asset:
    body = _minified(name, path.read_bytes())
    digest = hashlib.sha256(body).hexdigest()[:10]
    pure = PurePosixPath(name)
    versioned = str(pure.with_name(f"{pure.stem}.{digest}{pure.suffix}")) if pure.suffix else f"{name}.{digest}"
    media_type = mimetypes.guess_type(path.name)[0] or "text/plain"
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    bodies = {"identity": body}
    if pure.suffix in COMPRESSIBLE:
        bodies["br"] = brotli.compress(body, quality=11)
        bodies["gzip"] = gzip.compress(body, compresslevel=9, mtime=0)
    return Asset(name, versioned, media_type, bodies, digest)


def _minified(name: str, body: bytes) -> bytes:
    """Our scripts and styles without comments and spaces: the files keep their comments for people,
    shoppers' phones get a third fewer bytes. Vendored files are served as their project ships them."""
    if name.startswith("vendor/"):
        return body
    if name.endswith(".js"):
        return rjsmin.jsmin(body, keep_bang_comments=True)  # type: ignore[no-any-return]
    if name.endswith(".css"):
        return rcssmin.cssmin(body, keep_bang_comments=True)  # type: ignore[no-any-return]
    return body


def _encoding(accept_encoding: str, asset: Asset) -> str:
    """Brotli when the client takes it, else gzip, else the file as it is (q=0 means refused)."""
    accepted = set()
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            accepted.add(coding.strip())
    for encoding in ("br", "gzip"):
        if encoding in asset.bodies and encoding in accepted:
            return encoding
    return "identity"

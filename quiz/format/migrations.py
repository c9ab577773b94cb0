"""Upgrades quiz files written for an older version of the format, one version at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CURRENT_VERSION = 1

# MIGRATIONS[n] turns a version-n document into a version-(n + 1) one. The chain is empty
# while the format has one version; the first change to the format adds MIGRATIONS[1].
Migration = Callable[[dict[str, Any]], dict[str, Any]]
MIGRATIONS: dict[int, Migration] = {}


class MigrationError(ValueError):
    """The document's version is missing, malformed, or newer than this server."""


def migrate(document: dict[str, Any]) -> dict[str, Any]:
    """The document upgraded to ``CURRENT_VERSION``; the input is left untouched."""
    version = document.get("version")
    if "version" not in document:
        raise MigrationError(f"'version' is required; write \"version\": {CURRENT_VERSION}")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MigrationError(f"'version' must be a whole number from 1 to {CURRENT_VERSION}, got {version!r}")
    if version > CURRENT_VERSION:
        raise MigrationError(
            f"this file is written for format version {version}, but this quiz server reads "
            f"versions up to {CURRENT_VERSION}; upgrade the server"
        )
    while version < CURRENT_VERSION:
        document = MIGRATIONS[version](dict(document))
        version += 1
        document["version"] = version
    return document

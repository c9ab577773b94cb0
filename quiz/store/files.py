"""Files that are whole after any crash: the store's segments, queued mail, its delivery state.

A file is written to a temporary ``.<name>.<random>.tmp`` beside it, fsynced and renamed over the
old one (atomic on POSIX), then the folder is fsynced so the rename itself reaches the disk.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)  # gone after the rename; left behind only by a failure
    fsync_folders([path.parent])


def fsync_folders(folders: Iterable[Path]) -> None:
    """Renames and deletions reach the disk only when their folder is fsynced."""
    for folder in folders:
        if folder.is_dir():
            descriptor = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)

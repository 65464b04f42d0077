"""What the two listings of a sync yield: one ``Entry`` per object or file, in key order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


class SyncAborted(Exception):
    """A listing of the sync failed or went out of order: nothing more is planned
    (a partial listing must never drive a delete). ``kind`` is an ``ErrorKind`` value."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Entry:
    """One object under a prefix, or one file under a directory.

    ``key`` is relative to the prefix or directory, ``/``-separated; keys of
    one listing come in ascending order of their UTF-8 bytes (which is the
    order of Python's string comparison: UTF-8 keeps code-point order).
    """

    key: str
    size: int
    mtime: Optional[float]  # seconds since the epoch (S3: LastModified)
    etag: Optional[str] = None  # S3 objects: as listed, quotes stripped
    path: Optional[str] = None  # local files: the path to read or write


__all__ = ["Entry", "SyncAborted"]

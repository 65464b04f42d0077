"""What the two listings of a sync yield: one ``Entry`` per object or file, in key order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional

#: The order a listing gives keys in, as a sort key of the key.
KeyOrder = Callable[[str], str]


def byte_order(key: str) -> str:
    """S3's order: ascending UTF-8 bytes (Python compares strings by code point,
    which UTF-8 bytes keep)."""
    return key


def path_order(key: str) -> str:
    """The order of stores that list a directory tree depth first (SeaweedFS):
    ``/`` sorts below every other character, so ``a/x`` comes before ``a b``."""
    return key.replace("/", "\0")


#: ``S3OP_SYNC_ORDER`` values (``s3op.protocol.SYNC_ORDER_ENV``).
ORDERS: Dict[str, KeyOrder] = {"byte": byte_order, "path": path_order}


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


__all__ = ["ORDERS", "Entry", "KeyOrder", "SyncAborted", "byte_order", "path_order"]

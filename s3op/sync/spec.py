"""What one sync asks for (``SyncRequest``) and the checks made before anything runs.

A sync has a source and a destination; each is a local directory or an
``s3://bucket/prefix`` URL, and at least one is a URL. Which side is local
decides the direction: local -> prefix (puts), prefix -> local (gets),
prefix -> prefix (server-side copies).

An S3 side always names a folder: ``s3://b/data`` and ``s3://b/data/`` both
mean every key under ``data/`` (so ``data`` never touches ``data2/`` or
``data/../``'s siblings), and ``s3://b`` or ``s3://b/`` the whole bucket.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Tuple

#: How a source entry and a destination entry are judged equal (``s3op.sync.compare``).
COMPARE_MODES = ("checksum", "size", "size_and_time")


@dataclass(frozen=True)
class SyncRequest:
    """Make ``dst`` hold what ``src`` holds; ``delete``: and nothing else."""

    idx: int
    src: str  # a local directory or s3://bucket/prefix
    dst: str  # a local directory or s3://bucket/prefix
    delete: bool = False  # remove at the destination what the source does not have
    compare: str = "checksum"  # one of COMPARE_MODES

    @property
    def url(self) -> str:
        """The source: what messages about the whole request name."""
        return self.src


@dataclass(frozen=True)
class Side:
    """One side of a sync: a local directory, or a bucket and a folder prefix."""

    local: Optional[str] = None  # absolute path of a directory
    bucket: str = ""
    prefix: str = ""  # "" (the whole bucket) or ending in "/"

    @property
    def url(self) -> str:
        """``s3://bucket/prefix`` (or the local path)."""
        return self.local if self.local is not None else f"s3://{self.bucket}/{self.prefix}"


def is_url(text: str) -> bool:
    """True for an ``s3://`` URL (anything else is a local path)."""
    return text.startswith("s3://")


def side_of(text: str) -> Side:
    """The ``Side`` named by ``text``; ValueError for an unusable URL."""
    if not is_url(text):
        return Side(local=os.path.abspath(text))
    from s3op.protocol import parse_url  # imported here: protocol imports this module

    loc = parse_url(text)
    key = loc.key
    prefix = key if key == "" or key.endswith("/") else key + "/"
    return Side(bucket=loc.bucket, prefix=prefix)


def sync_problem(src: str, dst: str, compare: str) -> Optional[str]:
    """Why this sync cannot run (a sentence), or None. Looks at the local disk."""
    if compare not in COMPARE_MODES:
        return f"unknown compare mode {compare!r} (one of: {', '.join(COMPARE_MODES)})"
    if not isinstance(src, str) or not isinstance(dst, str) or not src or not dst:
        return "source and destination must be non-empty strings"
    if not is_url(src) and not is_url(dst):
        return "one of source and destination must be an s3:// URL"
    try:
        sides = side_of(src), side_of(dst)
    except ValueError as exc:
        return str(exc)
    return _local_problem(*sides) or _overlap_problem(*sides)


def _local_problem(src: Side, dst: Side) -> Optional[str]:
    if src.local is not None and not os.path.isdir(src.local):
        return f"source {src.local!r} is not a directory"
    if dst.local is not None and os.path.lexists(dst.local) and not os.path.isdir(dst.local):
        return f"destination {dst.local!r} is a file, not a directory"
    return None


def _overlap_problem(src: Side, dst: Side) -> Optional[str]:
    if src.local is not None or dst.local is not None:
        return None
    if (src.bucket, src.prefix) == (dst.bucket, dst.prefix):
        return f"source and destination are the same prefix ({src.url})"
    if src.bucket == dst.bucket and (
        src.prefix.startswith(dst.prefix) or dst.prefix.startswith(src.prefix)
    ):
        return f"{src.url} and {dst.url} overlap: one prefix holds the other"
    return None


def sides(req: SyncRequest) -> Tuple[Side, Side]:
    """(source, destination) of a request already checked by ``sync_problem``."""
    return side_of(req.src), side_of(req.dst)


__all__ = ["COMPARE_MODES", "Side", "SyncRequest", "is_url", "side_of", "sides", "sync_problem"]

"""The requests that write: put, delete and copy (re-exported by ``s3op.protocol``).

Apart from the reads' (get, info, list) so that a client which only reads,
in a fresh process, does not pay for making these classes
(tests/unit/test_lazy_imports.py); their one JSON form is
``protocol.request_to_json``'s, as for every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional


@dataclass(frozen=True)
class PutRequest:
    """Upload one local file."""

    idx: int
    url: str
    local: str
    content_type: Optional[str] = None
    metadata: Optional[Dict[str, Any]] = None  # any JSON-encodable dict
    encryption: Optional[str] = None  # e.g. "AES256", "aws:kms"


@dataclass(frozen=True)
class DeleteRequest:
    """Delete one object (with ``recursive``, every object under a prefix)."""

    idx: int
    url: str


@dataclass(frozen=True)
class CopyRequest:
    """Copy ``source`` to ``url`` server-side. Content type, metadata and
    encryption are the source's unless given here (any one given replaces
    only itself).

    ``source_*``: what the caller's own HEAD of the source said (s3client
    gives them). With ``source_etag`` and ``source_size`` the engine need not
    HEAD the source again for a one-request copy; the copy stays pinned to
    that ETag (a source changed since fails ``precondition_failed``). The
    others, given with them, are taken as complete: no ``source_crc32``
    means the source has no whole-object CRC32 (``s3op.ops.copy.known_source``).
    """

    idx: int
    url: str  # the destination
    source: str
    content_type: Optional[str] = None
    metadata: Optional[Dict[str, Any]] = None  # any JSON-encodable dict
    encryption: Optional[str] = None  # e.g. "AES256", "aws:kms"
    source_size: Optional[int] = None  # bytes
    source_etag: Optional[str] = None  # as S3 gives it (quoted)
    source_crc32: Optional[str] = None  # whole-object CRC32, base64 as S3 gives it
    source_encryption: Optional[str] = None  # the source's server-side encryption


__all__ = ["CopyRequest", "DeleteRequest", "PutRequest"]

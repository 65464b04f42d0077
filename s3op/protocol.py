"""The wire contract of s3op: requests, results, error kinds, exit codes, environment.

This is the only module that both ``s3op`` and ``s3client`` import (with
``s3op.run_batch``'s types). Every type here has exactly one JSON form
(``to_json`` / ``from_json``), used for manifest lines (requests) and
result lines (results). Results, error kinds and exit codes live in
``s3op.results``, the requests that write in ``s3op.writes``, sync's in
``s3op.sync.spec``; all are re-exported here; the names of the environment
variables the engine reads, and the limits its options accept, are
defined here and nowhere else.

Manifest (JSONL, one request a line)::

    {"url": "s3://b/k", "range": "bytes=0-99", "local": "/tmp/x"}     get
    {"url": "s3://b/k", "local": "/path", "content_type": "text/plain",
     "metadata": {"any": ["json", 1]}, "encryption": "AES256"}         put
    {"url": "s3://b/k"}                                                info
    {"url": "s3://b/prefix/"}                                          list
    {"src": "/data", "dst": "s3://b/data/", "delete": true,
     "compare": "checksum"}                                            sync
    {"url": "s3://b/k"}              delete (with --recursive: a prefix, every object under it)
    {"url": "s3://b2/k2", "source": "s3://b/k", "content_type": "...",
     "metadata": {...}, "encryption": "AES256"}                       copy (server-side)
    (copy may also carry what a HEAD of its source said: "source_size",
     "source_etag", "source_crc32", "source_encryption"; see CopyRequest)

``idx`` defaults to the 0-based line number (blank lines count).

Result (JSONL, one a request; listings and recursive gets one per object
found, each carrying the ``idx`` of the request that found it)::

    {"idx": 3, "url": "s3://b/k", "ok": true, "local": "...", "size": 10,
     "content_type": "...", "metadata": {...}, "encryption": null,
     "last_modified": 1700000000, "range": {"start": 0, "end": 9, "total": 10}}
    {"idx": 3, "url": "s3://b/k", "ok": false,
     "error": {"kind": "not_found", "message": "..."}}

Fields that are ``None`` are left out of result lines.

Delete answers ``{"idx": 0, "url": "s3://b/k", "ok": true}`` per key deleted
(a key that was not there is deleted too, as S3 says); a recursive delete
one such line per object found. Copy answers for its destination, ``url``,
with the size and ETag S3 gave the copy. With ``--dry-run`` every op answers
the lines it would give, each marked ``"dry": true``, and writes nothing
(``docs/operations.md``).

Also re-exported for s3client (which draws a batch's progress from the result
lines it reads, and checks ``max_bandwidth=`` before anything runs): the
progress counts and bar of ``s3op.progress`` and ``s3op.bandwidth.parse_rate``.
What a read does not need is imported on first use (``_LAZY``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

from s3op.lazy import load
from s3op.results import (
    Error,
    ErrorKind,
    ExitCode,
    RangeServed,
    Result,
    encode_json,
    exit_code_for,
    exit_code_of,
    worst_exit,
)

if TYPE_CHECKING:
    from s3op.bandwidth import BandwidthError, parse_rate
    from s3op.progress import (
        LISTING_OPS,
        ProgressBar,
        ProgressSnapshot,
        ProgressTracker,
        Throttled,
        is_terminal,
    )
    from s3op.sync.spec import COMPARE_MODES, SyncRequest, sync_problem
    from s3op.writes import CopyRequest, DeleteRequest, PutRequest

#: Re-exported names -> the module defining them, imported on first use: a client
#: that only gets, lists and describes objects (``import s3client``, then a batch)
#: never loads the requests that write, the progress bar, the bandwidth cap or
#: sync's checks (tests/unit/test_lazy_imports.py).
_LAZY = {
    "LISTING_OPS": "s3op.progress",
    "ProgressBar": "s3op.progress",
    "ProgressSnapshot": "s3op.progress",
    "ProgressTracker": "s3op.progress",
    "Throttled": "s3op.progress",
    "is_terminal": "s3op.progress",
    "BandwidthError": "s3op.bandwidth",
    "parse_rate": "s3op.bandwidth",
    "COMPARE_MODES": "s3op.sync.spec",
    "SyncRequest": "s3op.sync.spec",
    "sync_problem": "s3op.sync.spec",
    "CopyRequest": "s3op.writes",
    "DeleteRequest": "s3op.writes",
    "PutRequest": "s3op.writes",
}


def __getattr__(name: str) -> Any:
    """The re-exported names of ``_LAZY`` and ``REQUEST_TYPES``, made on first use."""
    if name != "REQUEST_TYPES":
        return load(globals(), _LAZY, name)
    value = globals()[name] = _request_types()
    return value


# ------------------------------------------------------- environment names
# The engine's settings that travel in its environment. s3client sets them for
# the engines it starts; nothing else defines these names.

#: JSON object of botocore session variables (keys, token, region, profile). It
#: may hold secrets, so it goes in the environment, never on argv or in a manifest.
SESSION_VARS_ENV = "S3OP_SESSION_VARS"
#: JSON object of S3 client parameters (``endpoint_url``, ``config``, ...): the
#: same rule, as it may hold secrets too.
CLIENT_PARAMS_ENV = "S3OP_CLIENT_PARAMS"
#: ``"0"`` turns the lean HTTP/1.1 path off: botocore sends every request.
FAST_ENV = "S3OP_FAST"
#: Percent of attempts to fail on purpose (testing) when ``--inject-failure-rate``
#: is not given.
INJECT_FAILURE_RATE_ENV = "S3OP_INJECT_FAILURE_RATE"
#: The key order of the store's listings for sync: ``byte`` (S3's; the default) or
#: ``path`` (``/`` sorts lowest: stores that list a tree depth first, as SeaweedFS).
SYNC_ORDER_ENV = "S3OP_SYNC_ORDER"

#: The most attempts per request the engine accepts (``--retries``).
MAX_RETRIES = 100

#: S3's limit on the length of a key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
#: S3's limit on user metadata (names plus values), in bytes.
MAX_METADATA_BYTES = 2048
#: The single user-metadata header our JSON metadata travels in. The same
#: name metaflow.S3 uses, so objects written by either read back in the other.
METADATA_HEADER = "metaflow-user-attributes"


class ProtocolError(ValueError):
    """A manifest line that cannot become a request. Names the line.

    ``line_no`` is 0-based (as ``idx`` defaults are); the message counts
    from 1, as editors do.
    """

    def __init__(self, line_no: int, message: str) -> None:
        super().__init__(f"manifest line {line_no + 1}: {message}")  # editors count from 1
        self.line_no = line_no


# --------------------------------------------------------------------- URLs


@dataclass(frozen=True)
class S3Url:
    """A parsed ``s3://bucket/key`` URL. The key is kept exactly as given."""

    bucket: str
    key: str

    @property
    def url(self) -> str:
        """The URL as a string."""
        return f"s3://{self.bucket}/{self.key}"


# 3-255 characters: today's rules are 3-63 lower-case, but legacy buckets exist.
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.\-_]{2,254}", re.IGNORECASE)


def parse_object_url(url: str) -> S3Url:
    """``parse_url`` for a single object: the key must not be empty.

    ``s3://bucket/`` names a bucket, not an object; a GET/PUT/HEAD on it
    would be a bucket operation (a listing, CreateBucket), never what the
    caller meant.
    """
    loc = parse_url(url)
    if not loc.key:
        raise ValueError(f"empty key in {url!r}: name an object, not a bucket")
    return loc


def parse_url(url: str) -> S3Url:
    """Split an ``s3://`` URL into bucket and key without touching the key.

    Everything after the first ``/`` following the bucket is the key,
    verbatim: ``#``, ``?``, ``%`` and spaces are ordinary key characters.
    Raises ``ValueError`` with the reason when the URL is not usable.
    """
    if not isinstance(url, str) or not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url!r}")
    bucket, _, key = url[5:].partition("/")
    if not _BUCKET_RE.fullmatch(bucket):
        raise ValueError(f"invalid bucket name in {url!r}")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"key is not valid Unicode (a lone surrogate?): {url!r}") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise ValueError(f"key longer than {MAX_KEY_BYTES} bytes: {url[:80]!r}...")
    return S3Url(bucket, key)


# ------------------------------------------------------------------- ranges


@dataclass(frozen=True)
class ByteRange:
    """A requested byte range. ``end`` is inclusive; ``suffix`` = last N bytes."""

    start: Optional[int] = None
    end: Optional[int] = None
    suffix: Optional[int] = None

    def header(self) -> str:
        """The HTTP ``Range`` header value."""
        if self.suffix is not None:
            return f"bytes=-{self.suffix}"
        return f"bytes={self.start}-" + ("" if self.end is None else str(self.end))


_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(text: str) -> ByteRange:
    """Parse ``bytes=A-B``, ``bytes=A-`` or ``bytes=-N``; ValueError otherwise."""
    match = _RANGE_RE.match(text.strip()) if isinstance(text, str) else None
    if not match or match.groups() == ("", ""):
        raise ValueError(f"malformed range {text!r}")
    first, last = match.groups()
    if first == "":
        if int(last) == 0:
            raise ValueError(f"empty suffix range {text!r}")
        return ByteRange(suffix=int(last))
    start, end = int(first), (int(last) if last else None)
    if end is not None and end < start:
        raise ValueError(f"inverted range {text!r}")
    return ByteRange(start=start, end=end)


# ----------------------------------------------------------------- requests


@dataclass(frozen=True)
class GetRequest:
    """Download one object (or, with ``recursive``, every object under a prefix)."""

    idx: int
    url: str
    range: Optional[str] = None  # "bytes=..." as in HTTP
    local: Optional[str] = None  # where to write; derived from the key if None


@dataclass(frozen=True)
class InfoRequest:
    """HEAD one object."""

    idx: int
    url: str


@dataclass(frozen=True)
class ListRequest:
    """List a prefix (a trailing ``/`` is added unless listing a bucket root)."""

    idx: int
    url: str


Request = Union[
    GetRequest,
    "PutRequest",
    InfoRequest,
    ListRequest,
    "DeleteRequest",
    "CopyRequest",
    "SyncRequest",
]

if TYPE_CHECKING:
    #: The request type of each op (the engine's manifest reader; built on first use).
    REQUEST_TYPES: Dict[str, type]


def _request_types() -> Dict[str, type]:
    from s3op.sync.spec import SyncRequest
    from s3op.writes import CopyRequest, DeleteRequest, PutRequest

    return {
        "get": GetRequest,
        "put": PutRequest,
        "info": InfoRequest,
        "list": ListRequest,
        "sync": SyncRequest,
        "delete": DeleteRequest,
        "copy": CopyRequest,
    }


def request_to_json(req: Request) -> str:
    """One manifest line for ``req`` (no trailing newline)."""
    return encode_json({k: v for k, v in req.__dict__.items() if v is not None})


# ------------------------------------------------------------------ results


# ----------------------------------------------------------------- metadata


def encode_metadata(metadata: Optional[Dict[str, Any]]) -> Dict[str, str]:
    """User metadata -> S3 ``Metadata`` dict. ValueError if not encodable or too big."""
    if not metadata:
        return {}
    try:
        text = json.dumps(metadata, ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata is not JSON-encodable: {exc}") from None
    if len(METADATA_HEADER) + len(text) > MAX_METADATA_BYTES:
        raise ValueError(
            f"metadata is {len(text)} bytes as JSON; S3 allows {MAX_METADATA_BYTES} in all"
        )
    return {METADATA_HEADER: text}


def decode_metadata(raw: Optional[Dict[str, str]]) -> Optional[Dict[str, Any]]:
    """S3 ``Metadata`` dict -> user metadata.

    Objects written by us (or metaflow) carry one JSON header, decoded here.
    Objects written by other tools get their raw string metadata back.
    """
    if not raw:
        return None
    if METADATA_HEADER in raw:
        try:
            decoded = json.loads(raw[METADATA_HEADER])
        except json.JSONDecodeError:
            return dict(raw)
        return decoded if isinstance(decoded, dict) else dict(raw)
    return dict(raw)


__all__ = [
    "LISTING_OPS",
    "BandwidthError",
    "ProgressBar",
    "ProgressSnapshot",
    "ProgressTracker",
    "Throttled",
    "is_terminal",
    "parse_rate",
    "CLIENT_PARAMS_ENV",
    "FAST_ENV",
    "INJECT_FAILURE_RATE_ENV",
    "COMPARE_MODES",
    "MAX_KEY_BYTES",
    "MAX_METADATA_BYTES",
    "MAX_RETRIES",
    "METADATA_HEADER",
    "REQUEST_TYPES",
    "SESSION_VARS_ENV",
    "SYNC_ORDER_ENV",
    "ByteRange",
    "CopyRequest",
    "DeleteRequest",
    "Error",
    "ErrorKind",
    "ExitCode",
    "GetRequest",
    "InfoRequest",
    "ListRequest",
    "PutRequest",
    "ProtocolError",
    "RangeServed",
    "Request",
    "Result",
    "S3Url",
    "SyncRequest",
    "decode_metadata",
    "encode_metadata",
    "exit_code_for",
    "exit_code_of",
    "worst_exit",
    "parse_range",
    "parse_object_url",
    "parse_url",
    "request_to_json",
    "sync_problem",
]

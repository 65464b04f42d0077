"""The wire contract of s3op: requests, results, error kinds, exit codes.

This is the only module that both ``s3op`` and ``s3client`` import. Every
type here has exactly one JSON form (``to_json`` / ``from_json``), used for
manifest lines (requests) and result lines (results).

Manifest (JSONL, one request a line)::

    {"url": "s3://b/k", "range": "bytes=0-99", "local": "/tmp/x"}     get
    {"url": "s3://b/k", "local": "/path", "content_type": "text/plain",
     "metadata": {"any": ["json", 1]}, "encryption": "AES256"}         put
    {"url": "s3://b/k"}                                                info
    {"url": "s3://b/prefix/"}                                          list

``idx`` defaults to the 0-based line number (blank lines count).

Result (JSONL, one a request; listings and recursive gets one per object
found, each carrying the ``idx`` of the request that found it)::

    {"idx": 3, "url": "s3://b/k", "ok": true, "local": "...", "size": 10,
     "content_type": "...", "metadata": {...}, "encryption": null,
     "last_modified": 1700000000, "range": {"start": 0, "end": 9, "total": 10}}
    {"idx": 3, "url": "s3://b/k", "ok": false,
     "error": {"kind": "not_found", "message": "..."}}

Fields that are ``None`` are left out of result lines.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, fields
from typing import Any, Dict, Iterable, List, Optional, Union

#: S3's limit on the length of a key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
#: S3's limit on user metadata (names plus values), in bytes.
MAX_METADATA_BYTES = 2048
#: The single user-metadata header our JSON metadata travels in. The same
#: name metaflow.S3 uses, so objects written by either read back in the other.
METADATA_HEADER = "metaflow-user-attributes"


class ErrorKind(str, enum.Enum):
    """What went wrong with one request. ``transient`` kinds are retried."""

    NOT_FOUND = "not_found"
    BUCKET_NOT_FOUND = "bucket_not_found"  # never hidden by --allow-missing
    ACCESS_DENIED = "access_denied"
    INVALID_URL = "invalid_url"
    INVALID_RANGE = "invalid_range"
    INVALID_REQUEST = "invalid_request"  # rejected by S3 (400) or by us
    INVALID_METADATA = "invalid_metadata"
    OUT_OF_DISK = "out_of_disk"
    LOCAL_FILE_MISSING = "local_file_missing"
    LOCAL_FILE_ERROR = "local_file_error"  # unreadable/unwritable local path
    PRECONDITION_FAILED = "precondition_failed"
    OBJECT_CHANGED = "object_changed"  # replaced while we read it in parts
    CORRUPT = "corrupt"  # checksum or size mismatch that retries did not cure
    TRANSIENT = "transient"  # 5xx, throttling, resets, deadline exceeded
    WORKER_DIED = "worker_died"
    INTERRUPTED = "interrupted"
    INTERNAL = "internal"  # an unexpected error inside s3op (a bug): not retried

    @property
    def retryable(self) -> bool:
        """True for kinds that a fresh attempt may cure."""
        return self in _RETRYABLE


_RETRYABLE = frozenset({ErrorKind.TRANSIENT, ErrorKind.CORRUPT})


class ExitCode(enum.IntEnum):
    """Process exit codes of ``s3op``; the result lines carry the detail."""

    OK = 0
    FAILED = 1  # some requests failed permanently (see the error lines)
    USAGE = 2  # bad options or a malformed manifest; nothing was done
    TRANSIENT = 3  # some requests still failed after all retries
    OUT_OF_DISK = 4  # the local disk filled up
    INTERRUPTED = 130  # SIGINT / SIGTERM


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


@dataclass(frozen=True)
class RangeServed:
    """The byte range actually served: inclusive ``start``..``end`` of ``total``."""

    start: int
    end: int
    total: int


# ----------------------------------------------------------------- requests


@dataclass(frozen=True)
class GetRequest:
    """Download one object (or, with ``recursive``, every object under a prefix)."""

    idx: int
    url: str
    range: Optional[str] = None  # "bytes=..." as in HTTP
    local: Optional[str] = None  # where to write; derived from the key if None


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
class InfoRequest:
    """HEAD one object."""

    idx: int
    url: str


@dataclass(frozen=True)
class ListRequest:
    """List a prefix (a trailing ``/`` is added unless listing a bucket root)."""

    idx: int
    url: str


Request = Union[GetRequest, PutRequest, InfoRequest, ListRequest]

REQUEST_TYPES: Dict[str, type] = {
    "get": GetRequest,
    "put": PutRequest,
    "info": InfoRequest,
    "list": ListRequest,
}


def request_to_json(req: Request) -> str:
    """One manifest line for ``req`` (no trailing newline)."""
    return _ENCODE({k: v for k, v in req.__dict__.items() if v is not None})


def read_manifest(op: str, lines: Iterable[str]) -> List[Request]:
    """Parse a JSONL manifest. Raises ProtocolError naming the first bad line and field.

    The checks live in ``s3op.manifest`` (imported here on use: it builds on
    this module's types).
    """
    from s3op.manifest import read_manifest as parse

    return parse(op, lines)


# ------------------------------------------------------------------ results


_ENCODE = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


@dataclass(frozen=True)
class Error:
    """Why one request failed."""

    kind: ErrorKind
    message: str


@dataclass(frozen=True)
class Result:
    """The outcome of one request, or one object found by a listing.

    ``ok`` is False exactly when ``error`` is set. ``is_prefix`` marks a
    common prefix ("directory") in a non-recursive listing. ``skipped`` is
    ``"exists"`` when a put with no-overwrite found the key already there.
    """

    idx: int
    url: str
    ok: bool = True
    local: Optional[str] = None
    size: Optional[int] = None
    content_type: Optional[str] = None
    metadata: Optional[Dict[str, Any]] = None
    encryption: Optional[str] = None
    last_modified: Optional[int] = None
    range: Optional[RangeServed] = None
    is_prefix: Optional[bool] = None
    skipped: Optional[str] = None
    etag: Optional[str] = None
    attempts: Optional[int] = None
    error: Optional[Error] = None

    @classmethod
    def failure(
        cls, idx: int, url: str, kind: ErrorKind, message: str, attempts: Optional[int] = None
    ) -> Result:
        """A failed result."""
        return cls(idx=idx, url=url, ok=False, error=Error(kind, message), attempts=attempts)

    def to_json(self) -> str:
        """One result line (no trailing newline): the fields that are not None."""
        body = {name: value for name, value in self.__dict__.items() if value is not None}
        if self.range is not None:
            body["range"] = {
                "start": self.range.start,
                "end": self.range.end,
                "total": self.range.total,
            }
        if self.error is not None:
            body["error"] = {"kind": self.error.kind.value, "message": self.error.message}
        return _ENCODE(body)

    @classmethod
    def from_json(cls, line: str) -> Result:
        """Parse one result line (ValueError, TypeError or KeyError if it is not one).

        Fills the instance's fields directly instead of calling the frozen
        dataclass's ``__init__``, which sets its 15 fields one
        ``object.__setattr__`` at a time: that was half the cost of a line,
        and a listing of 10,000 keys is 10,000 lines parsed by the caller.
        The checks are ``__init__``'s: known field names, ``idx`` and ``url``
        present.
        """
        body = _DECODE(line)
        if type(body) is not dict:
            raise TypeError(f"a result line is a JSON object, not {type(body).__name__}")
        if not body.keys() <= _RESULT_FIELDS or "idx" not in body or "url" not in body:
            unknown = sorted(set(body) - _RESULT_FIELDS)
            raise TypeError(f"not a result: unknown {unknown} or no idx/url")
        if body.get("range") is not None:
            body["range"] = RangeServed(**body["range"])
        if body.get("error") is not None:
            err = body["error"]
            body["error"] = Error(ErrorKind(err["kind"]), err["message"])
        result = object.__new__(cls)
        result.__dict__.update(_RESULT_DEFAULTS)
        result.__dict__.update(body)
        return result


_DECODE = json.JSONDecoder().decode
#: Every field in declaration order (idx and url, which have no default, as None: a
#: line must name both), so a parsed result's ``__dict__`` is a constructed one's.
_RESULT_DEFAULTS = {f.name: None if f.name in ("idx", "url") else f.default for f in fields(Result)}
_RESULT_FIELDS = frozenset(f.name for f in fields(Result))


def exit_code_for(results: Iterable[Result], allow_missing: bool = False) -> ExitCode:
    """Summarise results into one exit code (worst wins)."""
    worst = ExitCode.OK
    for res in results:
        worst = worst_exit(worst, exit_code_of(res, allow_missing))
    return worst


_SEVERITY = [
    ExitCode.OK,
    ExitCode.FAILED,
    ExitCode.TRANSIENT,
    ExitCode.OUT_OF_DISK,
    ExitCode.USAGE,
    ExitCode.INTERRUPTED,
]


def exit_code_of(res: Result, allow_missing: bool = False) -> ExitCode:
    """The exit code one result alone would give."""
    if res.error is None:
        return ExitCode.OK
    kind = res.error.kind
    if kind is ErrorKind.NOT_FOUND and allow_missing:
        return ExitCode.OK
    if kind is ErrorKind.OUT_OF_DISK:
        return ExitCode.OUT_OF_DISK
    if kind in (ErrorKind.TRANSIENT, ErrorKind.CORRUPT, ErrorKind.WORKER_DIED):
        return ExitCode.TRANSIENT
    return ExitCode.FAILED


def worst_exit(a: ExitCode, b: ExitCode) -> ExitCode:
    """The more severe of two exit codes."""
    return a if _SEVERITY.index(a) >= _SEVERITY.index(b) else b


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
    "ByteRange",
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
    "decode_metadata",
    "encode_metadata",
    "exit_code_for",
    "exit_code_of",
    "worst_exit",
    "parse_range",
    "parse_object_url",
    "parse_url",
    "read_manifest",
    "request_to_json",
]

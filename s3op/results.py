"""Result lines and exit codes: what s3op answers, one line per request.

Each request gets one ``Result`` (listings: one per object found); a
failed one carries an ``Error`` of one ``ErrorKind``. The results of a
batch are summarised into one ``ExitCode``, the worst wins. Everything
here is re-exported by ``s3op.protocol``, the module s3client imports.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, Iterable, Optional, Tuple


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


@dataclass(frozen=True)
class RangeServed:
    """The byte range actually served: inclusive ``start``..``end`` of ``total``."""

    start: int
    end: int
    total: int


#: The one JSON encoding of every line s3op reads or writes: compact, ASCII-escaped.
encode_json = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


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
    ``"exists"`` when a put with no-overwrite found the key already there,
    ``"equal"`` (or ``"folder"``) when a sync left a key alone.
    ``dry`` is True on the lines of a dry run (``BatchOptions.dry_run``).
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
    crc32: Optional[str] = None  # the object's whole-object CRC32 (base64, as S3 gives it)
    attempts: Optional[int] = None
    action: Optional[str] = None  # sync: put, get, copy, delete or skip (s3op.sync.run)
    dry: Optional[bool] = None  # --dry-run: what would happen; nothing was written
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
        return encode_json(body)

    @classmethod
    def from_json(cls, line: str) -> Result:
        """Parse one result line (ValueError, TypeError or KeyError if it is not one).

        Fills the instance's fields directly instead of calling the frozen
        dataclass's ``__init__``, which sets its 16 fields one
        ``object.__setattr__`` at a time: that was half the cost of a line,
        and a listing of 10,000 keys is 10,000 lines parsed by the caller.
        The checks are ``__init__``'s: known field names, ``idx`` and ``url``
        present.
        """
        body = _decode_line(line)
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


_DECODER = json.JSONDecoder()
_DECODE = _DECODER.decode
_SCAN: Callable[[str, int], Tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def _decode_line(line: str) -> Any:
    """``json.loads(line)``. A line in the form s3op writes (an object, then at most a
    newline) goes to the C scanner directly: ``JSONDecoder.decode`` around it costs
    as much again, in two whitespace matches and Python calls. Anything else, and
    every error, is ``decode``'s."""
    if line[:1] == "{":
        try:
            body, end = _SCAN(line, 0)
        except StopIteration:
            return _DECODE(line)
        if end == len(line) or line[end:] == "\n":
            return body
    return _DECODE(line)


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


__all__ = [
    "Error",
    "ErrorKind",
    "ExitCode",
    "RangeServed",
    "Result",
    "encode_json",
    "exit_code_for",
    "exit_code_of",
    "worst_exit",
]

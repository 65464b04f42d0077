"""Manifest lines -> typed requests, refusing a bad line by its number and field.

A manifest is JSONL, one request a line (the format is drawn in
``s3op.protocol``'s docstring). Everything that can be told from the
manifest alone is checked here, before anything is sent, so one bad line
stops the whole batch with exit 2 (``ExitCode.USAGE``):

- not JSON, or not a JSON object;
- a field the op does not take, a required field missing or null, a value
  of the wrong JSON type (each named: ``line 3: missing field 'url'``,
  ``line 3: url must be a string, not a number``);
- a URL that is not ``s3://`` (``http://``, a local path);
- a put whose URL ends in ``/`` (a folder marker, never what was meant);
- an ``idx`` not above the one before it (``duplicate idx 4 on lines 2 and 3``,
  ``line 5: idx 2 is not above idx 7 on line 4``): a manifest's idx must
  ascend, so duplicates are found while the manifest streams, holding one
  line, never a set of every idx seen (lines without ``idx`` take their line
  number, which ascends).

What needs more than the line (a bucket name S3 rejects, an empty key)
is answered per request, as an ``invalid_url`` result line. Line numbers
in messages count from 1, as editors do; ``ProtocolError.line_no`` counts
from 0, as ``idx`` defaults do.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from s3op.protocol import REQUEST_TYPES, ProtocolError, Request

#: The JSON type each manifest field must have: (Python types, name in messages).
FIELD_TYPES: Dict[str, Tuple[Tuple[type, ...], str]] = {
    "idx": ((int,), "an integer"),
    "url": ((str,), "a string"),
    "range": ((str,), "a string"),
    "local": ((str,), "a string"),
    "source": ((str,), "a string"),
    "content_type": ((str,), "a string"),
    "encryption": ((str,), "a string"),
    "metadata": ((dict,), "a JSON object"),
    "src": ((str,), "a string"),
    "dst": ((str,), "a string"),
    "delete": ((bool,), "true or false"),
    "compare": ((str,), "a string"),
    "source_size": ((int,), "an integer"),
    "source_etag": ((str,), "a string"),
    "source_crc32": ((str,), "a string"),
    "source_encryption": ((str,), "a string"),
}


def read_manifest(op: str, lines: Iterable[str]) -> List[Request]:
    """Parse a JSONL manifest for ``op``. Raises ProtocolError naming the first bad line."""
    return list(iter_manifest(op, lines))


def iter_manifest(op: str, lines: Iterable[str]) -> Iterator[Request]:
    """The requests of a JSONL manifest for ``op``, one at a time as ``lines`` are
    read; ProtocolError at the first bad line (the requests before it were yielded).
    Holds one line: idx must ascend, so a duplicate is the line just before."""
    last: Optional[Tuple[int, int]] = None  # (idx, 0-based line) of the previous request
    decode = json.JSONDecoder().decode
    for line_no, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            body = decode(line)
        except json.JSONDecodeError as exc:
            raise ProtocolError(line_no, f"not valid JSON ({exc.msg})") from None
        req = request_from_dict(op, line_no, body)
        if last is not None and req.idx <= last[0]:
            raise ProtocolError(line_no, _not_ascending(req.idx, line_no, *last))
        last = (req.idx, line_no)
        yield req


def _not_ascending(idx: int, line_no: int, last_idx: int, last_line: int) -> str:
    if idx == last_idx:
        return f"duplicate idx {idx} on lines {last_line + 1} and {line_no + 1}"
    return f"idx {idx} is not above idx {last_idx} on line {last_line + 1} (idx must ascend)"


@functools.cache
def _fields_of(op: str) -> Dict[str, bool]:
    """Field name -> required? for ``op``'s request (idx is optional in a
    manifest: it defaults to the line number)."""
    return {
        f.name: f.default is dataclasses.MISSING and f.name != "idx"
        for f in dataclasses.fields(REQUEST_TYPES[op])
    }


def request_from_dict(op: str, line_no: int, body: Any) -> Request:
    """Build a request of kind ``op`` from one decoded manifest line (ProtocolError if bad)."""
    cls = REQUEST_TYPES[op]
    if not isinstance(body, dict):
        raise ProtocolError(line_no, f"expected a JSON object, not {json_type(body)}")
    fields = _fields_of(op)
    _check_names(op, line_no, body, fields)
    for name, value in body.items():
        _check_value(line_no, name, value, fields[name])
    req: Request = cls(**{"idx": line_no, **body})
    problem = url_problem(op, req.url)
    if problem is not None:
        raise ProtocolError(line_no, f"field 'url' {problem} ({req.url[:200]!r})")
    source = body.get("source")
    if isinstance(source, str) and not source.startswith("s3://"):
        raise ProtocolError(line_no, f"field 'source' is not an s3:// URL ({source[:200]!r})")
    return req


def url_problem(op: str, url: str) -> Optional[str]:
    """Why ``url`` cannot be the URL of an ``op`` request (a phrase to follow the
    URL or the field's name), or None if it may be.

    Only what is wrong whatever the server: the scheme, and a put naming a
    folder. The rest (bucket name, key length, an empty key) is checked per
    request and answered as an ``invalid_url`` result.
    """
    if op == "sync":
        return None  # a local side or an S3 one: checked as a whole (s3op.sync.spec)
    if not url.startswith("s3://"):
        return "is not an s3:// URL"
    if op in ("put", "copy") and url.endswith("/"):
        return f"ends in '/': a {op} must name an object, not a folder"
    return None


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type (for messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _check_names(op: str, line_no: int, body: Dict[str, Any], fields: Dict[str, bool]) -> None:
    unknown = [name for name in body if name not in fields]
    if unknown:
        which = ", ".join(repr(name) for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        takes = ", ".join(fields)
        raise ProtocolError(line_no, f"unknown field{plural} {which} ({op} takes: {takes})")
    for name, required in fields.items():
        if required and name not in body:
            raise ProtocolError(line_no, f"missing field {name!r}")


def _check_value(line_no: int, name: str, value: Any, required: bool) -> None:
    if value is None:
        if required or name == "idx":
            raise ProtocolError(line_no, f"{name} must not be null")
        return  # an optional field given as null: left out
    types, wanted = FIELD_TYPES[name]
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        raise ProtocolError(line_no, f"{name} must be {wanted}, not {json_type(value)}")


__all__ = [
    "FIELD_TYPES",
    "iter_manifest",
    "json_type",
    "read_manifest",
    "request_from_dict",
    "url_problem",
]

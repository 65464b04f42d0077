"""``--journal FILE``: a batch that resumes where a killed run stopped.

A journal is a JSONL file. Its first line, the header, names the batch it
belongs to: the op, a SHA-256 of the requests (their manifest lines, in
order), their number, and the options that change what a result says
(get: destination, layout, info, verify; put: overwrite). Each further
line records one request that finished ``ok``::

    {"s3op_journal": 1, "op": "get", "manifest": "9f2c...", "requests": 20000,
     "options": {"destination": "/data", "layout": "keys", "info": true, "verify": true}}
    {"idx": 7, "crc32": 1234567, "result": {...the result line...}}          get
    {"idx": 8, "source": [10240, 1700000000123456789], "result": {...}}     put

Failed requests are not recorded: a resumed run tries them again.

Durability: records are written, flushed and fsync'd in groups (every
``GROUP_RECORDS`` records or ``GROUP_SECONDS``, whichever comes first, and
when the batch ends or is interrupted), so a crash or a SIGKILL loses at
most the last group; those requests are done once more. A crash can leave
a torn last line (no newline): it is dropped and the file cut back to the
last whole line before new records are appended.

Resuming (same manifest, same journal): before anything runs, each
recorded request is checked (``s3op.resume`` does it), and only those that pass are skipped, their
recorded result lines emitted again, so the output is one line per request
as if it were one run:

- get: the local file is still there with the recorded size and CRC32;
- put: the local file still has the recorded size and modification time,
  and a HEAD finds the object with the recorded ETag.

A journal whose header names another batch is ``JournalMismatch``; one
with a bad line (other than a torn last one) is ``JournalCorrupt``: both
are usage errors (exit 2), raised before any request is sent, and nothing
is skipped; so is a journal another run holds (an exclusive ``flock``
while a run writes it). ``FILE`` may also be a directory: the journal is then the file
``<op>-<first 16 hex digits of the header's digest>.journal`` in it, so one
directory can serve every batch of a program (``S3(journal=DIR)``).

Only ``get`` (without ``--recursive``) and ``put`` keep a journal: one
result per request, and something on disk or in the bucket to check.
The recorded requests are kept in memory while the batch runs (about 300
bytes each).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from s3op.checksum import file_crc32
from s3op.options import BatchOptions, BatchUsageError
from s3op.protocol import PutRequest, Request, Result, request_to_json

#: The header's version field; a journal of another version is ``JournalMismatch``.
JOURNAL_VERSION = 1
#: Records written and fsync'd together: at most this many are lost on a crash ...
GROUP_RECORDS = 256
#: ... or those of this many seconds, whichever is fewer.
GROUP_SECONDS = 0.25
#: The ops that keep a journal.
JOURNALED_OPS = ("get", "put")


class JournalError(BatchUsageError):
    """The journal cannot be used: nothing is run, nothing skipped (exit 2)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path!r}: {message}", param_hint="'--journal'")
        self.path = path


class JournalMismatch(JournalError):
    """The journal belongs to another batch (op, manifest or options)."""


class JournalCorrupt(JournalError):
    """A line of the journal other than a torn last one is not a record."""


# ------------------------------------------------------------------ header


def journal_header(op: str, requests: Sequence[Request], options: BatchOptions) -> Dict[str, Any]:
    """The header naming this batch: op, digest of the requests, result-changing options."""
    digest = hashlib.sha256()
    for req in requests:
        digest.update(request_to_json(req).encode("utf-8") + b"\n")
    return {
        "s3op_journal": JOURNAL_VERSION,
        "op": op,
        "manifest": digest.hexdigest(),
        "requests": len(requests),
        "options": _result_options(op, options),
    }


def _result_options(op: str, options: BatchOptions) -> Dict[str, Any]:
    if op == "put":
        return {"overwrite": options.overwrite}
    download = options.download
    return {
        "destination": os.path.abspath(download.destination),
        "layout": download.layout,
        "info": download.info,
        "verify": download.verify,
    }


def journal_path(path: str, header: Dict[str, Any]) -> str:
    """The journal file: ``path``, or a file named by the batch in the directory ``path``."""
    if not os.path.isdir(path):
        return path
    return os.path.join(path, f"{header['op']}-{header['manifest'][:16]}.journal")


def refuse_unjournaled(op: str, options: BatchOptions) -> None:
    """``BatchUsageError`` for a journal on a batch that cannot keep one."""
    if op not in JOURNALED_OPS or options.recursive:
        raise BatchUsageError(
            "a journal is kept by get (without --recursive) and put batches only",
            param_hint="'--journal'",
        )
    if options.dry_run:
        message = "a dry run changes nothing: it keeps no journal"
        raise BatchUsageError(message, param_hint="'--journal'")


# ----------------------------------------------------------------- reading


@dataclass
class Loaded:
    """What an existing journal holds."""

    records: Dict[int, Dict[str, Any]]  # by idx, the last one recorded
    good_size: int  # bytes up to the end of the last whole line


def load_journal(path: str, header: Dict[str, Any]) -> Optional[Loaded]:
    """The records of the journal at ``path`` (None if there is none, or it is empty).

    ``JournalMismatch`` if its header is not ``header``; ``JournalCorrupt`` for
    a bad line, unless it is a last line with no newline (torn by a crash).
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise JournalError(path, f"cannot read the journal: {exc.strerror}") from None
    lines = data.split(b"\n")
    torn = len(lines[-1])
    whole = lines[:-1]
    if not whole:
        return None  # empty, or a header torn before it was ever synced
    _check_header(path, whole[0], header)
    records: Dict[int, Dict[str, Any]] = {}
    for number, line in enumerate(whole[1:], start=2):
        record = _record(path, number, line)
        records[record["idx"]] = record
    return Loaded(records, len(data) - torn)


def _check_header(path: str, line: bytes, header: Dict[str, Any]) -> None:
    try:
        found = json.loads(line)
    except ValueError:
        raise JournalCorrupt(path, "line 1 is not a journal header") from None
    if not isinstance(found, dict) or "s3op_journal" not in found:
        raise JournalCorrupt(path, "line 1 is not a journal header")
    for name in ("s3op_journal", "op", "manifest", "requests", "options"):
        if found.get(name) != header[name]:
            raise JournalMismatch(
                path,
                f"this journal belongs to another batch ({name} differs: "
                f"{_short(found.get(name))} in the journal, {_short(header[name])} now); "
                "give a new journal file, or the batch it was made for",
            )


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _record(path: str, number: int, line: bytes) -> Dict[str, Any]:
    """One record line, checked; ``JournalCorrupt`` naming the line if bad."""
    try:
        record = json.loads(line)
        result = Result.from_json(json.dumps(record["result"]))
        good = (
            type(record["idx"]) is int
            and result.idx == record["idx"]
            and result.ok
            and result.error is None
        )
    except (ValueError, TypeError, KeyError):
        good = False
    if not good:
        raise JournalCorrupt(path, f"line {number} is not a journal record")
    record["result"] = result
    return record


# ---------------------------------------------------------------- checking


def source_stamp(path: str) -> Optional[List[int]]:
    """[size, mtime_ns] of an upload's local file (None if it cannot be read)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


# ----------------------------------------------------------------- writing


class JournalWriter:
    """Appends records, writing, flushing and fsync-ing them a group at a time.

    Made before the journal is read: it opens the file (made 0600 if
    missing) and holds an exclusive ``flock`` on it until ``close``, so two
    runs never write one journal. ``start`` then cuts a torn last line
    off (or writes the header of a new journal).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._pending: List[str] = []
        self._synced_at = time.monotonic()
        try:
            self._file = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b")
        except OSError as exc:
            raise JournalError(path, f"cannot write the journal: {exc.strerror}") from None
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            raise JournalError(path, "the journal is in use by another run") from None

    def start(self, header: Dict[str, Any], loaded: Optional[Loaded]) -> None:
        """Append after ``loaded``'s last whole line, or begin a new journal."""
        self._file.truncate(loaded.good_size if loaded is not None else 0)
        self._file.seek(0, os.SEEK_END)
        if loaded is None:
            self._pending.append(json.dumps(header, separators=(",", ":")))
            self.sync()

    def record(self, result: Result, check: Tuple[str, Any]) -> None:
        """Record a finished request; a group's worth is written and synced."""
        name, value = check
        self._pending.append(
            f'{{"idx":{result.idx},"{name}":{json.dumps(value)},"result":{result.to_json()}}}'
        )
        self.tick()

    def tick(self) -> None:
        """Write and sync what is pending once a group is full or old enough."""
        if len(self._pending) >= GROUP_RECORDS or (
            self._pending and time.monotonic() - self._synced_at >= GROUP_SECONDS
        ):
            self.sync()

    def sync(self) -> None:
        """Write what is pending, flush it and fsync the file."""
        if self._pending:
            self._file.write(("\n".join(self._pending) + "\n").encode("utf-8"))
            self._pending.clear()
            self._file.flush()
            os.fsync(self._file.fileno())
        self._synced_at = time.monotonic()

    def close(self) -> None:
        """Sync what is pending and close the file."""
        if not self._file.closed:
            self.sync()
            self._file.close()


def record_check(
    op: str, result: Result, requests: Mapping[int, Request]
) -> Optional[Tuple[str, Any]]:
    """What a resume checks for ``result`` (None: nothing to record)."""
    if not result.ok or result.error is not None or getattr(result, "dry", None):
        return None  # failures run again; a dry run did nothing to check
    if op == "get":
        if result.local is None:
            return None
        try:
            return "crc32", file_crc32(result.local)
        except OSError:
            return None
    req = requests.get(result.idx)
    if not isinstance(req, PutRequest) or result.etag is None:
        return None
    stamp = source_stamp(req.local)
    return None if stamp is None else ("source", stamp)


__all__ = [
    "GROUP_RECORDS",
    "GROUP_SECONDS",
    "JOURNALED_OPS",
    "JOURNAL_VERSION",
    "JournalCorrupt",
    "JournalError",
    "JournalMismatch",
    "JournalWriter",
    "Loaded",
    "journal_header",
    "journal_path",
    "load_journal",
    "record_check",
    "refuse_unjournaled",
    "source_stamp",
]

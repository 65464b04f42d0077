"""The journal's hook on ``run_batch``: a filter on the requests, a wrapper on the sink.

``journaled(op, requests, options, sink, heads)`` opens the journal named
by ``options.journal`` (``s3op.journal`` holds the format and the rules),
checks what it records (``checked_done``: files by size and CRC32, objects
by a batch of HEADs run by ``heads``), and gives back:

- the requests still to run: a generator over ``requests`` that, in their
  order, emits the recorded result of each request done and checked
  instead of yielding it (so the output is one line per request);
- a sink that records each ``ok`` result as it is emitted, and syncs the
  journal a group at a time (on every scheduler wake-up when due).

A resumed get first removes the temp files the killed run left beside the
targets still to fetch (``sweep_leftovers``). On leaving, what is pending
is synced and the file closed, also when the batch was interrupted.
"""

from __future__ import annotations

import contextlib
import os
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)

from s3op.journal import (
    JournalWriter,
    Loaded,
    file_crc32,
    journal_header,
    journal_path,
    load_journal,
    record_check,
    refuse_unjournaled,
    source_stamp,
)
from s3op.options import BatchOptions
from s3op.paths import local_path
from s3op.protocol import GetRequest, InfoRequest, PutRequest, Request, Result

if TYPE_CHECKING:
    from s3op.batch import Emitted, ResultSink


#: Runs an info batch of these requests, handing back each result (the HEADs of a resume).
HeadBatch = Callable[[Sequence[Request]], List[Result]]


class JournalSink:
    """A sink that hands everything on, recording finished requests in the journal."""

    def __init__(
        self, inner: ResultSink, writer: JournalWriter, op: str, requests: Mapping[int, Request]
    ) -> None:
        self.inner = inner
        self.writer = writer
        self.op = op
        self.requests = requests

    def emit(self, item: Emitted) -> None:
        """Hand ``item`` on, then record it if it is a request done."""
        self.inner.emit(item)
        if isinstance(item, Result):
            check = record_check(self.op, item, self.requests)
            if check is not None:
                self.writer.record(item, check)

    def flush(self) -> None:
        """Flush the inner sink; sync the journal if a group is due."""
        self.inner.flush()
        self.writer.tick()


@contextlib.contextmanager
def journaled(
    op: str,
    requests: Sequence[Request],
    options: BatchOptions,
    sink: ResultSink,
    heads: HeadBatch,
) -> Iterator[Tuple[Iterator[Request], JournalSink]]:
    """(the requests still to run, the recording sink) of a journaled batch.

    Raises ``JournalMismatch`` / ``JournalCorrupt`` (usage errors) before
    anything is run; ``heads`` runs the HEADs that check a put's objects.
    """
    assert options.journal is not None
    refuse_unjournaled(op, options)
    header = journal_header(op, requests, options)
    writer = JournalWriter(journal_path(options.journal, header))  # locked from here on
    try:
        loaded = load_journal(writer.path, header)
        done = checked_done(op, requests, loaded, heads) if loaded is not None else {}
        if loaded is not None and op == "get":
            sweep_leftovers([req for req in requests if req.idx not in done], options)
        writer.start(header, loaded)
        by_idx = {req.idx: req for req in requests} if op == "put" else {}
        yield _skipping(requests, done, sink), JournalSink(sink, writer, op, by_idx)
    finally:
        writer.close()


# ---------------------------------------------------------------- checking


def _download_intact(record: Dict[str, Any]) -> bool:
    """The recorded download is still on disk, same size, same CRC32."""
    result: Result = record["result"]
    if result.local is None or result.size is None:
        return False
    try:
        if os.stat(result.local).st_size != result.size:
            return False
        return file_crc32(result.local) == record.get("crc32")
    except OSError:
        return False


def _stamp_of(req: Request) -> Optional[List[int]]:
    return source_stamp(req.local) if isinstance(req, PutRequest) else None


def checked_done(
    op: str, requests: Sequence[Request], loaded: Loaded, heads: HeadBatch
) -> Dict[int, Result]:
    """The recorded results that still hold, by idx (``heads`` runs a put's HEADs)."""
    by_idx = {req.idx: req for req in requests}
    candidates = {i: r for i, r in loaded.records.items() if i in by_idx}
    if op == "get":
        return {i: r["result"] for i, r in candidates.items() if _download_intact(r)}
    unchanged = {i: r for i, r in candidates.items() if r.get("source") == _stamp_of(by_idx[i])}
    if not unchanged:
        return {}
    found = heads([InfoRequest(i, by_idx[i].url) for i in sorted(unchanged)])
    same = {res.idx for res in found if res.ok and res.etag == unchanged[res.idx]["result"].etag}
    return {i: unchanged[i]["result"] for i in same}


def sweep_leftovers(requests: Sequence[Request], options: BatchOptions) -> int:
    """Remove the temp files a killed run of this batch left beside the targets of
    ``requests`` (get; ``s3op.paths.temp_path`` names them); how many went.

    Only names of this batch's own targets are touched: ``.NAME.s3op-*.part``
    where ``NAME`` is one of them, in that target's directory.
    """
    names: Dict[str, set] = {}
    for req in requests:
        local = _target(req, options)
        if local is not None:
            directory, tail = os.path.split(local)
            names.setdefault(directory, set()).add(tail[:100])
    removed = 0
    for directory, wanted in names.items():
        removed += _sweep_dir(directory, wanted)
    return removed


def _target(req: Request, options: BatchOptions) -> Optional[str]:
    if not isinstance(req, GetRequest):
        return None
    if req.local is not None:
        return req.local
    download = options.download
    try:
        return local_path(download.destination, download.layout, req.url, req.range)
    except ValueError:
        return None


def _sweep_dir(directory: str, wanted: set) -> int:
    removed = 0
    try:
        entries = os.listdir(directory or ".")
    except OSError:
        return 0
    for name in entries:
        cut = name.rfind(".s3op-")
        if name[:1] == "." and cut > 0 and name.endswith(".part") and name[1:cut] in wanted:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(directory, name))
                removed += 1
    return removed


def _skipping(
    requests: Sequence[Request], done: Dict[int, Result], sink: ResultSink
) -> Iterator[Request]:
    """The requests not done; each done one's recorded result goes to ``sink`` instead."""
    for req in requests:
        result = done.get(req.idx)
        if result is None:
            yield req
        else:
            sink.emit(result)
    sink.flush()


__all__ = ["HeadBatch", "JournalSink", "checked_done", "journaled", "sweep_leftovers"]

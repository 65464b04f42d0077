"""The journal's hook on ``run_batch``: a filter on the requests, a wrapper on the sink.

``journaled(op, requests, options, sink, heads)`` opens the journal named
by ``options.journal`` (``s3op.journal`` holds the format and the rules),
checks what it records (``checked_done``: files by size and CRC32,
objects by their ETags, from a listing or HEADs: ``object_etags``), and
gives back:

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
    Set,
    Tuple,
)

from s3op.checksum import file_crc32
from s3op.journal import (
    JournalWriter,
    Loaded,
    journal_header,
    journal_path,
    load_journal,
    record_check,
    refuse_unjournaled,
    source_stamp,
)
from s3op.options import BatchOptions
from s3op.paths import local_path
from s3op.protocol import GetRequest, InfoRequest, ListRequest, PutRequest, Request, Result

if TYPE_CHECKING:
    from s3op.batch import Emitted, ResultSink


#: Runs a batch (op, requests) with the journaled batch's options, each result to a
#: function (the listings and HEADs that check a put's objects).
SubBatch = Callable[[str, Sequence[Request], Callable[[Result], None]], None]
#: A checking listing gives up after this many objects per object it looks for
#: (plus LIST_SLACK): a prefix full of other objects is checked with HEADs instead.
LIST_BUDGET = 2
LIST_SLACK = 1000


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
    heads: SubBatch,
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
    op: str, requests: Sequence[Request], loaded: Loaded, heads: SubBatch
) -> Dict[int, Result]:
    """The recorded results that still hold, by idx (``heads`` runs a put's HEADs)."""
    by_idx = {req.idx: req for req in requests}
    candidates = {i: r for i, r in loaded.records.items() if i in by_idx}
    if op == "get":
        return {i: r["result"] for i, r in candidates.items() if _download_intact(r)}
    unchanged = {i: r for i, r in candidates.items() if r.get("source") == _stamp_of(by_idx[i])}
    etags = object_etags([by_idx[i].url for i in unchanged], heads)
    return {
        i: r["result"]
        for i, r in unchanged.items()
        if _unquoted(etags.get(by_idx[i].url)) == _unquoted(r["result"].etag)
    }


def _unquoted(etag: Optional[str]) -> Optional[str]:
    return None if etag is None else etag.strip('"')


class _Enough(Exception):
    """A checking listing failed, or found more than its budget: HEADs do the rest."""


class _Listed:
    """Receives a checking listing's objects: the ETags of the ones looked for."""

    def __init__(self, wanted: Set[str], budget: int) -> None:
        self.wanted = wanted
        self.budget = budget
        self.etags: Dict[str, Optional[str]] = {}

    def __call__(self, result: Result) -> None:
        if not result.ok:
            raise _Enough  # no ListBucket right, say: HEADs may still be allowed
        if result.url in self.wanted:
            self.etags[result.url] = result.etag
        self.budget -= 1
        if self.budget < 0 and len(self.etags) < len(self.wanted):
            raise _Enough


def object_etags(urls: Sequence[str], run: SubBatch) -> Dict[str, Optional[str]]:
    """The ETag of each object (None: not there), from a listing of each
    bucket's common prefix, or HEADs where a listing would be long.

    A listing page gives 1,000 ETags for the price of one HEAD; but the
    common prefix may hold many other objects, so a listing stops once it
    has seen ``LIST_BUDGET`` objects per object looked for (+ ``LIST_SLACK``)
    and HEADs check what it had not found. A listing that fails (no
    ListBucket permission) leaves all to HEADs.
    """
    etags: Dict[str, Optional[str]] = {}
    for bucket_url, keys in _by_bucket(urls).items():
        prefix = os.path.commonprefix(keys)
        listing = ListRequest(0, bucket_url + prefix[: prefix.rfind("/") + 1])
        listed = _Listed({bucket_url + k for k in keys}, LIST_BUDGET * len(keys) + LIST_SLACK)
        try:
            run("list", [listing], listed)
        except _Enough:
            etags.update(listed.etags)  # found so far; HEADs check the rest
        else:
            etags.update({url: listed.etags.get(url) for url in listed.wanted})
    left = [InfoRequest(i, url) for i, url in enumerate(u for u in urls if u not in etags)]
    if left:
        run("info", left, lambda res: etags.__setitem__(res.url, res.etag if res.ok else None))
    return etags


def _by_bucket(urls: Sequence[str]) -> Dict[str, List[str]]:
    """Keys by ``s3://bucket/``."""
    keys: Dict[str, List[str]] = {}
    for url in urls:
        bucket, _, key = url[5:].partition("/")
        keys.setdefault(f"s3://{bucket}/", []).append(key)
    return keys


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


__all__ = [
    "SubBatch",
    "JournalSink",
    "checked_done",
    "journaled",
    "object_etags",
    "sweep_leftovers",
]

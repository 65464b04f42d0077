"""The journal's hook on ``run_batch``: a filter on the requests, a wrapper on the sink.

``journaled(op, requests, options, sink, heads)`` opens the journal named
by ``options.journal`` (``s3op.journal`` holds the format and the rules),
checks what it records, and gives back:

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
from typing import TYPE_CHECKING, Dict, Iterator, Mapping, Sequence, Tuple

from s3op.journal import (
    HeadBatch,
    JournalWriter,
    checked_done,
    journal_header,
    journal_path,
    load_journal,
    record_check,
    refuse_unjournaled,
    sweep_leftovers,
)
from s3op.options import BatchOptions
from s3op.protocol import Request, Result

if TYPE_CHECKING:
    from s3op.batch import Emitted, ResultSink


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
    path = journal_path(options.journal, header)
    loaded = load_journal(path, header)
    done = checked_done(op, requests, loaded, heads) if loaded is not None else {}
    if loaded is not None and op == "get":
        sweep_leftovers([req for req in requests if req.idx not in done], options)
    writer = JournalWriter(path, header, loaded)
    by_idx = {req.idx: req for req in requests} if op == "put" else {}
    try:
        yield _skipping(requests, done, sink), JournalSink(sink, writer, op, by_idx)
    finally:
        writer.close()


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


__all__ = ["JournalSink", "journaled"]

"""The command line's progress: a ``ResultSink`` wrapper that counts and draws.

``ProgressSink(inner, tracker, show)`` passes every result on to ``inner``
untouched (stdout's JSON lines never change) and counts it in a
``s3op.progress.ProgressTracker``; at each scheduler wake-up (``flush``)
it hands a snapshot to ``show``, at most every ``REFRESH_SECONDS``.
``counted(op, requests, tracker, recursive)`` passes the requests through,
counting each one as it is read (a put's file size from a ``stat``); where
the requests have a length (a manifest counted by its check pass), that is
the total from the start, else a source still being read shows as "found
so far". A recursive get's
listings report what they found through ``observe`` (the scheduler calls it
for every settled job), so its total grows page by page until the last
listing ends.

``wants_progress(flag, stdout, stderr)`` decides whether to draw: as asked
(``--progress`` / ``--no-progress``), else when stderr is a terminal and
stdout is not (the bar would tangle with result lines on one screen).
"""

from __future__ import annotations

from typing import IO, Any, Callable, Iterable, Iterator, Optional, Sized

from s3op import jobs
from s3op.progress import LISTING_OPS, ProgressSnapshot, ProgressTracker, Throttled, is_terminal
from s3op.protocol import PutRequest, Request


class ProgressSink:
    """A ``ResultSink`` that counts what it passes on to ``inner`` (see the module)."""

    def __init__(
        self, inner: Any, tracker: ProgressTracker, show: Callable[[ProgressSnapshot], None]
    ) -> None:
        self.inner = inner  # a ResultSink (s3op.batch.LineSink, say)
        self.tracker = tracker
        self.throttled = Throttled(tracker, show)

    def emit(self, item: Any) -> None:
        """Pass ``item`` (a ``Result`` or a listing page's ``jobs.Found``) on; count it."""
        self.inner.emit(item)
        if isinstance(item, jobs.Found):
            self.tracker.listed(len(item.objects) + len(item.prefixes), _found_bytes(item))
        else:
            self.tracker.result(item)

    def flush(self) -> None:
        """Flush ``inner``; redraw if it is time."""
        self.inner.flush()
        self.throttled.tick()

    def observe(self, job: jobs.Job, outcome: jobs.Outcome) -> None:
        """A job settled: a recursive get's or delete's listing page adds what it found."""
        if not (isinstance(job, jobs.ListJob) and (job.for_get or job.for_delete)):
            return
        if not isinstance(outcome, jobs.Page):
            self.tracker.listing_ended(failed=True)  # its failure is a result of its own
            return
        if isinstance(outcome.found, jobs.Listed):
            found = outcome.found.found
            self.tracker.found(len(found), sum(size for _, size in found))
        if outcome.more is None:
            self.tracker.listing_ended()

    def finish(self) -> ProgressSnapshot:
        """Show the final snapshot; return it."""
        return self.throttled.finish()


def _found_bytes(found: jobs.Found) -> int:
    return sum(size for _, size, _, _ in found.objects)


class Counted:
    """``requests``, each counted by ``tracker`` as it is read; its length is theirs
    where they have one (``run_batch`` sizes the pool and groups deletes by it)."""

    def __init__(
        self, op: str, requests: Iterable[Request], tracker: ProgressTracker, recursive: bool
    ) -> None:
        self.args = (op, requests, tracker, recursive)

    def __iter__(self) -> Iterator[Request]:
        return _counting(*self.args)

    def __len__(self) -> int:
        requests = self.args[1]
        return len(requests) if isinstance(requests, Sized) else 0


def counted(
    op: str, requests: Iterable[Request], tracker: ProgressTracker, recursive: bool
) -> Iterable[Request]:
    """``requests``, each counted by ``tracker`` as it is read (see the module);
    their number, where they have one and each is one object, from the start."""
    if isinstance(requests, Sized):
        if op not in LISTING_OPS and not (recursive and op in ("get", "delete")):
            tracker.announce(len(requests))
        return Counted(op, requests, tracker, recursive)
    return _counting(op, requests, tracker, recursive)


def _counting(
    op: str, requests: Iterable[Request], tracker: ProgressTracker, recursive: bool
) -> Iterator[Request]:
    for req in requests:
        if op in LISTING_OPS:
            pass  # its objects are its results: counted as they come
        elif op in ("get", "delete") and recursive:
            tracker.listing_started()
        elif isinstance(req, PutRequest):
            tracker.expect_file(req.local)
        else:
            tracker.expect()
        yield req
    tracker.inputs_done()


def wants_progress(flag: Optional[bool], stdout: IO[str], stderr: IO[str]) -> bool:
    """Draw a bar? As ``flag`` says, else when stderr is a terminal and stdout is not."""
    if flag is not None:
        return flag
    return is_terminal(stderr) and not is_terminal(stdout)


def wants_summary(flag: Optional[bool], stderr: IO[str]) -> bool:
    """Print the end-of-batch line? As ``flag`` says, else when stderr is a terminal."""
    return flag if flag is not None else is_terminal(stderr)


__all__ = ["ProgressSink", "counted", "wants_progress", "wants_summary"]

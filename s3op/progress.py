"""Progress of one batch: counted from its results, drawn with tqdm, summed up at the end.

Three pieces, used by the command line (``s3op.progress_sink``, in the
engine) and by the library (``s3client.progress``, from the result lines
it reads), so both show the same thing:

- ``ProgressTracker`` counts: objects known (requests read, objects a
  listing found) and whether that total is final yet, objects done, their
  bytes, failures, and retries as the result lines report them
  (``attempts - 1``). ``snapshot()`` gives a ``ProgressSnapshot``, a frozen
  dataclass (what a ``progress=`` callable receives).
- ``ProgressBar`` draws snapshots on a terminal with tqdm: objects
  done/total with a bar, ETA and object rate, then bytes done/total, byte
  rate and failures. While the total is still growing (a manifest being
  read, a listing) it shows ``N+`` found so far and no bar.
- ``summary_line`` is the one line printed at the end: counts by outcome,
  bytes, time, retries.

Why tqdm (not rich): it is small and has no dependencies, it finds the
terminal's width and redraws in place with ``\\r`` itself, and it rate-limits
redraws; rich would bring its own console and markup stack for one line.
tqdm is imported only when a bar is drawn.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, Optional

from s3op.results import Result

#: Seconds between two redraws, or two snapshots handed to a ``progress=`` callable.
REFRESH_SECONDS = 0.25


@dataclass(frozen=True)
class ProgressSnapshot:
    """Where a batch stands (what a ``progress=`` callable receives)."""

    done: int  # objects (requests, or objects a listing found) finished, failed ones too
    total: int  # objects known so far
    total_known: bool  # False while requests or listings may still add to ``total``
    bytes: int  # bytes of the objects done (downloaded, uploaded, described or listed)
    total_bytes: Optional[int]  # bytes of all objects known; None if only results tell
    failures: int  # objects that failed
    retries: int  # retries the results report (attempts beyond each one's first)
    elapsed: float  # seconds since the batch started
    final: bool = False  # the batch's last snapshot

    @property
    def rate(self) -> float:
        """Bytes a second so far."""
        return self.bytes / self.elapsed if self.elapsed > 0 else 0.0


#: Ops whose work is found by listing: their total grows until every listing ended.
LISTING_OPS = frozenset({"list", "sync"})


class ProgressTracker:
    """The counts behind a ``ProgressSnapshot`` (see the module docstring)."""

    def __init__(self, op: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.op = op
        self._clock = clock
        self.started = clock()
        self.total = 0
        self.total_bytes: Optional[int] = 0 if op == "put" else None
        self.done = 0
        self.bytes = 0
        self.failures = 0
        self.retries = 0
        self.skipped = 0  # puts that found the key there already (no overwrite)
        self.kinds: Dict[str, int] = {}  # failures by error kind
        self.open_listings = 0
        self.inputs_open = True  # requests may still come
        self.announced = 0  # requests the source said it holds, before they are read
        self.growing = op in LISTING_OPS  # its results, not its requests, are the total

    # ------------------------------------------------------------- intake

    def expect(self, nbytes: Optional[int] = None) -> None:
        """One more request read; ``nbytes``: its size, when known before it runs."""
        self.total += 1
        if nbytes is not None and self.total_bytes is not None:
            self.total_bytes += nbytes

    def announce(self, count: int) -> None:
        """The batch holds ``count`` requests (a manifest counted by its check pass,
        a list): the total is known from the start, not once the last is read (the
        scheduler reads them only as the pool has room, so that is near the end)."""
        self.announced = count

    def expect_file(self, path: str) -> None:
        """One more request, of the local file at ``path`` (a put): its size, if it is there."""
        try:
            size: Optional[int] = os.stat(path).st_size
        except OSError:
            size = None  # the put reports it
        self.expect(size)

    def inputs_done(self) -> None:
        """Every request has been read."""
        self.inputs_open = False

    def listing_started(self) -> None:
        """A listing whose objects are the batch's work began (a recursive get)."""
        self.open_listings += 1
        if self.total_bytes is None:
            self.total_bytes = 0  # a listing says the sizes of what it finds

    def found(self, count: int, nbytes: int) -> None:
        """A listing page found ``count`` objects of ``nbytes`` bytes in all."""
        self.total += count
        if self.total_bytes is not None:
            self.total_bytes += nbytes

    def listing_ended(self, failed: bool = False) -> None:
        """A listing is over (a failed one gives one failure result of its own)."""
        self.open_listings -= 1
        self.total += 1 if failed else 0

    def listed(self, count: int, nbytes: int) -> None:
        """A listing page's ``count`` results (objects of ``nbytes`` in all, prefixes)."""
        self.done += count
        self.total = max(self.total, self.done)
        self.bytes += nbytes

    def result(self, res: Result) -> None:
        """One result arrived."""
        self.done += 1
        if self.growing:
            self.total = max(self.total, self.done)
        if res.attempts is not None and res.attempts > 1:
            self.retries += res.attempts - 1
        if res.error is not None:
            self.failures += 1
            kind = res.error.kind.value
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
        elif res.skipped is not None:
            self.skipped += 1
        elif res.size is not None and res.is_prefix is None and not res.dry:
            self.bytes += res.size

    # ------------------------------------------------------------ reading

    @property
    def total_known(self) -> bool:
        """No request, listing page or listed object can add to the total any more."""
        read = not self.inputs_open or self.announced > 0
        return read and self.open_listings <= 0 and not self.growing

    def snapshot(self, final: bool = False) -> ProgressSnapshot:
        """Where the batch stands now (``final``: it has ended)."""
        return ProgressSnapshot(
            done=self.done,
            total=max(self.total, self.announced, self.done),
            total_known=final or self.total_known,
            bytes=self.bytes,
            # a put's sizes are summed as its requests are read: no total until then
            total_bytes=None if self.inputs_open and self.announced else self.total_bytes,
            failures=self.failures,
            retries=self.retries,
            elapsed=self._clock() - self.started,
            final=final,
        )


class Throttled:
    """Calls ``show(snapshot)`` at most every ``REFRESH_SECONDS`` (and always at the end)."""

    def __init__(
        self,
        tracker: ProgressTracker,
        show: Callable[[ProgressSnapshot], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tracker = tracker
        self._show = show
        self._clock = clock
        self._last = float("-inf")

    def tick(self) -> None:
        """Show a snapshot if the last one is old enough."""
        now = self._clock()
        if now - self._last >= REFRESH_SECONDS:
            self._last = now
            self._show(self.tracker.snapshot())

    def finish(self) -> ProgressSnapshot:
        """Show the final snapshot; return it."""
        last = self.tracker.snapshot(final=True)
        self._show(last)
        return last


class ProgressBar:
    """A tqdm bar on ``stream`` (a terminal), redrawn from snapshots."""

    def __init__(self, op: str, stream: IO[str]) -> None:
        from tqdm import tqdm  # only when a bar is drawn

        self._bar = tqdm(
            total=0, desc=op, file=stream, unit=" obj", dynamic_ncols=True,
            mininterval=0, miniters=1, leave=True, smoothing=0.1,
            bar_format=_FORMAT_FOUND,
        )  # fmt: skip

    def show(self, snap: ProgressSnapshot) -> None:
        """Redraw with ``snap``'s figures."""
        bar: Any = self._bar
        bar.total = snap.total
        bar.bar_format = _FORMAT_TOTAL if snap.total_known else _FORMAT_FOUND
        bar.n = snap.done
        bar.set_postfix_str(_bytes_part(snap), refresh=False)
        bar.refresh()

    def close(self) -> None:
        """Leave the last frame on the screen and end its line."""
        self._bar.close()


# tqdm puts ", " before the postfix: it goes last, after the object rate.
_FORMAT_TOTAL = "{desc}: {n_fmt}/{total_fmt} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}, {rate_fmt}{postfix}"  # noqa: E501
_FORMAT_FOUND = "{desc}: {n_fmt} done, {total_fmt}+ found so far, {elapsed}, {rate_fmt}{postfix}"


def _bytes_part(snap: ProgressSnapshot) -> str:
    """``1.2 GB/2.0 GB, 45.1 MB/s, 0 failed`` (no total where sizes are unknown)."""
    done = human_bytes(snap.bytes)
    if snap.total_bytes is not None:
        done += f"/{human_bytes(snap.total_bytes)}"
    return f"{done}, {human_bytes(snap.rate)}/s, {snap.failures} failed"


def human_bytes(n: float) -> str:
    """``n`` bytes in decimal units: ``512 B``, ``1.5 MB``, ``2.00 GB``."""
    for unit, size in (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if n >= size:
            return f"{n / size:.2f} {unit}" if unit in ("TB", "GB") else f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (False for anything without ``isatty``, or closed)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def summary_line(op: str, tracker: ProgressTracker, retries: Optional[int] = None) -> str:
    """The end-of-batch line: counts by outcome, bytes, time and retries (``retries``:
    the engine's own count, when it has one, else what the results reported)."""
    snap = tracker.snapshot(final=True)
    ok = snap.done - snap.failures - tracker.skipped
    parts = [f"{ok} ok"]
    if tracker.skipped:
        parts.append(f"{tracker.skipped} skipped")
    parts += [f"{count} {kind}" for kind, count in sorted(tracker.kinds.items())]
    counts = ", ".join(parts)
    tries = snap.retries if retries is None else retries
    return (
        f"s3op {op}: {snap.done} done ({counts}); {human_bytes(snap.bytes)} in "
        f"{snap.elapsed:.1f}s ({human_bytes(snap.rate)}/s); {tries} retries"
    )


__all__ = [
    "LISTING_OPS", "REFRESH_SECONDS", "ProgressBar", "ProgressSnapshot", "ProgressTracker",
    "Throttled", "human_bytes", "is_terminal", "summary_line",
]  # fmt: skip

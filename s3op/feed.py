"""A lazy source of work for the scheduler: items pulled only as the pool has room.

``Scheduler.feed(items, plan)`` is the hook: ``items`` is any iterable (a
``ManifestSource`` reading a manifest line by line, a generator of planned
sync steps, a list), ``plan(item)`` turns one item into jobs (``Scheduler.add``,
``add_get``; it may also emit a result at once and add no job). The scheduler
calls ``Feed.top_up`` before it hands out jobs and whenever its queue runs
dry, so at most ``window`` planned jobs wait at a time, whatever the
source's length: memory is bounded by the work in flight plus the window.

A source that raises (a manifest line that turned bad, a request of the
wrong op from a generator) stops the feed; the jobs already planned still
run to the end and their results are written, then ``Scheduler.run`` raises
the source's exception. KeyboardInterrupt is not caught: it stops the run.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterable, Iterator, Optional, TypeVar

#: Planned jobs that may wait in the scheduler's queue while the source is read.
FEED_WINDOW = 256

T = TypeVar("T")


class Feed(Generic[T]):
    """Items of one source, planned into jobs a window at a time."""

    def __init__(
        self, items: Iterable[T], plan: Callable[[T], None], window: int = FEED_WINDOW
    ) -> None:
        self._items: Iterator[T] = iter(items)
        self._plan = plan
        self.window = max(1, window)
        self.done = False  # the source is exhausted, or failed
        self.error: Optional[Exception] = None  # what the source raised, if it failed
        self.taken = 0  # items planned so far

    def top_up(self, waiting: Callable[[], int]) -> None:
        """Plan items until ``waiting()`` jobs wait, or the source ends."""
        while not self.done and waiting() < self.window:
            try:
                item = next(self._items)
            except StopIteration:
                self.done = True
                return
            except Exception as exc:  # noqa: BLE001 - not swallowed: Scheduler.run raises it
                self.error, self.done = exc, True
                return
            self.taken += 1
            self._plan(item)


__all__ = ["FEED_WINDOW", "Feed", "T"]

"""Progress of a cluster run, on the one machine's tracker and bar (``s3op.progress``).

``ClusterProgress(op, plan, show, recursive)`` counts a cluster run in a
``ProgressTracker``: the total is the plan's requests (a listing's, or a
recursive get's, grows with what comes back), and each shard's counts are
added as its lines are delivered (``update``), with the shards done out of
the plan's. ``show`` gets a snapshot at most every ``REFRESH_SECONDS``
and once more at the end (``finish``): a ``ProgressBar``'s ``show``, a
library caller's ``progress=`` callable, or nothing (the counts are still
kept, for the summary line).

It counts what has been delivered, never work a lost shard may redo, so
it moves once a shard: shards are the unit a cluster reports. A put's
total bytes are not known here (its files are paths on the workers).
"""

from __future__ import annotations

from typing import Callable, Optional

from s3op.progress import ProgressSnapshot, ProgressTracker, Throttled
from s3op.shards import ShardOutput, ShardPlan


class ClusterProgress:
    """The counts (and display) of one cluster run."""

    def __init__(
        self,
        op: str,
        plan: ShardPlan,
        show: Optional[Callable[[ProgressSnapshot], None]] = None,
        recursive: bool = False,
    ) -> None:
        tracker = ProgressTracker(op)
        tracker.growing = tracker.growing or recursive
        tracker.total_bytes = None  # put: its files are on the workers
        if not tracker.growing:
            tracker.total = plan.requests
        tracker.shards = len(plan.shards)
        tracker.inputs_done()
        self.tracker = tracker
        self._throttled = Throttled(tracker, show or _ignore)

    def update(self, output: ShardOutput) -> None:
        """Count one delivered shard; show a snapshot if it is time."""
        output.count_in(self.tracker)
        self.tracker.shards_done += 1
        self._throttled.tick()

    def finish(self) -> ProgressSnapshot:
        """Show the final snapshot; return it."""
        return self._throttled.finish()


def _ignore(snapshot: ProgressSnapshot) -> None:
    """No display: only counted."""


__all__ = ["ClusterProgress"]

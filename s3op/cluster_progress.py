"""Progress of a cluster run on stderr: shards done, objects, bytes, failures.

A tqdm bar, shown only when the stream is a terminal (a pipe or a log file
gets nothing). It moves once per shard as its results come back, so it
counts what has been delivered, never work that a lost shard may redo.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Optional, TextIO, Type

from tqdm import tqdm

from s3op.shards import ShardOutput, ShardPlan


class ClusterProgress:
    """The bar of one cluster run (a context manager; closed on exit)."""

    def __init__(
        self, plan: ShardPlan, stream: Optional[TextIO] = None, enabled: Optional[bool] = None
    ) -> None:
        out = sys.stderr if stream is None else stream
        shown = out.isatty() if enabled is None else enabled
        self.objects = 0
        self.bytes = 0
        self.failures = 0
        self._bar = tqdm(
            total=len(plan.shards),
            unit="shard",
            desc="s3op",
            file=out,
            disable=not shown,
            dynamic_ncols=True,
        )

    def update(self, output: ShardOutput) -> None:
        """Count one delivered shard."""
        self.objects += output.results
        self.bytes += output.bytes
        self.failures += output.failures
        text = f"{self.objects} objects, {_size(self.bytes)}, {self.failures} failed"
        self._bar.set_postfix_str(text, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        """Leave the bar as it ended."""
        self._bar.close()

    def __enter__(self) -> ClusterProgress:
        return self

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


def _size(count: int) -> str:
    """Bytes in the bar's units (tqdm's binary prefixes)."""
    return tqdm.format_sizeof(count, "B", 1024)


__all__ = ["ClusterProgress"]

"""``S3.sync`` as a method of ``S3`` (``SyncForm``); the work is ``s3client.sync``'s.

Kept apart so that ``import s3client`` does not load sync's checks and
summary (nor ``s3op.sync.spec``): they are imported by the first ``sync``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Union

from .client_parts import ClientParts
from .progress import ProgressOption, takes_progress

if TYPE_CHECKING:
    from .sync import SyncSummary

#: What ``S3.sync`` takes for either side.
SyncSide = Union[str, "os.PathLike[str]", None]


class SyncForm(ClientParts):
    """``sync``, as a method of ``S3``."""

    @takes_progress
    def sync(
        self,
        src: SyncSide,
        dst: SyncSide,
        delete: bool = False,
        compare: str = "checksum",
        dry_run: bool = False,
        *, progress: ProgressOption = None,
    ) -> SyncSummary:  # fmt: skip
        """Make ``dst`` hold what ``src`` holds: a local directory and a prefix (either
        way), or two prefixes (server-side copies). Only what is missing or different
        moves; ``delete=True`` also removes at ``dst`` what ``src`` lacks. ``compare``:
        ``checksum``, ``size`` or ``size_and_time`` (docs/sync.md). Which side is local
        is told as ``s3client.sync``'s docstring says. Returns a ``SyncSummary``; per-key
        failures are in it, not raised. ``S3InvalidSync`` before anything is done for
        a destination that is a file, equal or nested prefixes and an unknown mode."""
        from .sync import flags, side_text, summarize, sync_request

        rooted = self._s3root is not None
        req = sync_request(
            side_text(src, self._url, rooted), side_text(dst, self._url, rooted), delete, compare
        )
        self._new_batch()
        return summarize(req, self._run("sync", [req], flags(dry_run)), dry_run)


__all__ = ["SyncForm", "SyncSide"]

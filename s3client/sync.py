"""``S3.sync``: what the two sides are, the checks made first, and the summary
(the method itself is ``sync_form.SyncForm``'s, which imports this module on first use).

Which side is local decides the direction (local -> prefix: uploads;
prefix -> local: downloads; prefix -> prefix: server-side copies). A side
is a local directory when it is an ``os.PathLike`` (``pathlib.Path``), or
a string that starts with ``/``, ``./``, ``../`` or ``~``, or, on a client
without a root, any string that is not an ``s3://`` URL. Anything else is
a key, resolved as every other method resolves keys (a suffix under the
root; ``None`` is the root itself).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, List, Sequence

from s3op.protocol import Result, SyncRequest, sync_problem

from .errors import S3Error, error_for_kind
from .sync_form import SyncForm, SyncSide

_LOCAL_STARTS = ("/", "./", "../", "~")


class S3InvalidSync(S3Error, ValueError):
    """A sync that cannot run: a destination that is a file, a source equal to (or
    holding) its destination, no S3 side, or an unknown compare mode. Raised
    before anything is done."""

    headline = "invalid sync"


@dataclass
class SyncSummary:
    """What a sync did (or, with ``dry_run``, would do), each as destination URLs
    (local paths for a local destination)."""

    copied: List[str] = field(default_factory=list)  # moved: put, got or copied
    skipped: List[str] = field(default_factory=list)  # equal on both sides
    deleted: List[str] = field(default_factory=list)  # at the destination, not at the source
    failed: List[str] = field(default_factory=list)  # each has its error in ``errors``
    errors: List[S3Error] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed

    def raise_for_failures(self) -> None:
        """Raise the first failure's error, if any."""
        if self.errors:
            raise self.errors[0]


def side_text(side: SyncSide, resolve: Callable[[Any], str], rooted: bool) -> str:
    """A local path (absolute, ``~`` expanded) or the resolved ``s3://`` URL of ``side``."""
    if isinstance(side, os.PathLike):
        return os.path.abspath(os.path.expanduser(os.fspath(side)))
    if isinstance(side, str) and not side.startswith("s3://"):
        if side.startswith(_LOCAL_STARTS) or not rooted:
            return os.path.abspath(os.path.expanduser(side))
    return resolve(side)


def sync_request(src: str, dst: str, delete: bool, compare: str) -> SyncRequest:
    """The checked request; ``S3InvalidSync`` naming the problem."""
    problem = sync_problem(src, dst, compare)
    if problem is not None:
        raise S3InvalidSync.about(dst, problem)
    return SyncRequest(0, src, dst, delete=bool(delete), compare=compare)


def summarize(req: SyncRequest, results: Sequence[Result], dry_run: bool) -> SyncSummary:
    """The summary of a sync's result lines."""
    summary = SyncSummary(dry_run=dry_run)
    local_dst = not req.dst.startswith("s3://")
    for res in results:
        where = res.local if local_dst and res.local else res.url
        if res.error is not None:
            summary.failed.append(where)
            summary.errors.append(error_for_kind(res.error.kind, where, res.error.message))
        elif res.action == "skip":
            summary.skipped.append(where)
        elif res.action == "delete":
            summary.deleted.append(where)
        else:
            summary.copied.append(where)
    return summary


def flags(dry_run: bool) -> List[str]:
    """The engine flags of a sync."""
    return ["--dry-run"] if dry_run else []


__all__ = [
    "S3InvalidSync",
    "SyncForm",
    "SyncSide",
    "SyncSummary",
    "side_text",
    "summarize",
    "sync_request",
]

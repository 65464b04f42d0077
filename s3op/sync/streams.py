"""The two sides of one sync as entry streams, and the comparer that judges them.

``Planner`` puts together what ``plan.plan`` needs for one ``SyncRequest``:
each side's stream (a local walk, or an S3 listing made in the parent on
the parent's transport), the direction, and a ``Comparer`` whose HEADs for
a whole-object CRC32 go through the same transport and retry policy.
Files whose names are not UTF-8 in a local source are handed to
``on_unnamed`` (they cannot be synced); in a local destination they are
left alone.
"""

from __future__ import annotations

import os
from typing import Callable, Iterator, Optional

from s3op.checksum import crc32_from_b64
from s3op.retry import Deadline, Failure, RetryPolicy, run_with_retries
from s3op.sync.compare import Comparer, RemoteCrc
from s3op.sync.entries import Entry, KeyOrder, byte_order, path_order
from s3op.sync.localtree import Unnamed, walk
from s3op.sync.merge import merge
from s3op.sync.plan import COPY, GET, PUT, Action, plan
from s3op.sync.remote import list_entries
from s3op.sync.spec import Side, SyncRequest, sides
from s3op.transport import S3Answer, Transport


class Planner:
    """The actions of one sync, planned lazily from its two sides."""

    def __init__(
        self,
        req: SyncRequest,
        transport: Transport,
        policy: RetryPolicy,
        on_unnamed: Callable[[str], None] = lambda path: None,
        order: KeyOrder = byte_order,
    ) -> None:
        self.req = req
        self.order = order
        self.src, self.dst = sides(req)
        self.transport = transport
        self.policy = policy
        self.on_unnamed = on_unnamed

    @property
    def move(self) -> str:
        """PUT, GET or COPY: what moving a key means in this direction."""
        if self.src.local is not None:
            return PUT
        return GET if self.dst.local is not None else COPY

    def actions(self) -> Iterator[Action]:
        """Every action, in key order (``plan.plan`` over the merged sides)."""
        comparer = Comparer(self.req.compare, self._crc(self.src), self._crc(self.dst))
        pairs = merge(self.entries(self.src, True), self.entries(self.dst, False), self.order)
        return plan(pairs, comparer, self.move, self.req.delete)

    def entries(self, side: Side, source: bool) -> Iterator[Entry]:
        """One side's entries in key order."""
        if side.local is None:
            return list_entries(self.transport, self.policy, side.bucket, side.prefix, self.order)
        return self._local(side.local, source)

    def _local(self, root: str, source: bool) -> Iterator[Entry]:
        for item in walk(root, path_order=self.order is path_order):
            if isinstance(item, Unnamed):
                if source:
                    self.on_unnamed(item.path)
                continue
            yield item

    def _crc(self, side: Side) -> Optional[RemoteCrc]:
        if side.local is not None:
            return None
        return lambda entry: head_crc32(
            self.transport, self.policy, side.bucket, side.prefix + entry.key
        )

    def url(self, side: Side, key: str) -> str:
        """The URL (or local path) of ``key`` on ``side``."""
        if side.local is None:
            return f"s3://{side.bucket}/{side.prefix}{key}"
        return os.path.join(side.local, *key.split("/"))


def head_crc32(transport: Transport, policy: RetryPolicy, bucket: str, key: str) -> Optional[int]:
    """The whole-object CRC32 S3 keeps for ``key`` (one HEAD), or None: none kept,
    a composite one, or the HEAD failed (then the comparison falls back to time)."""

    def attempt(deadline: Deadline) -> S3Answer:
        return transport.head_object(Bucket=bucket, Key=key)

    resp = run_with_retries(attempt, policy)
    if isinstance(resp, Failure) or resp.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        return None
    return crc32_from_b64(resp.get("ChecksumCRC32"))


__all__ = ["Planner", "head_crc32"]

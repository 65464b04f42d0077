"""An S3 prefix listed page by page, as a stream of ``Entry``s in key order.

The listing runs in the parent (the planner needs its keys in order, one
page at a time), through the one retry loop. Only one page (1,000 keys) is
held at a time. S3 promises ascending UTF-8 byte order; the order is
checked anyway, key by key, because a merge on an unordered listing would
copy or delete the wrong things: a key out of order, or a listing that
fails after its retries, raises ``SyncAborted`` and nothing more is planned.
"""

from __future__ import annotations

from typing import Callable, Iterator, Optional

from s3op.protocol import SYNC_ORDER_ENV
from s3op.retry import Deadline, Failure, RetryPolicy, run_with_retries
from s3op.sync.entries import Entry, KeyOrder, SyncAborted, byte_order
from s3op.transport import S3Answer, Transport


def list_entries(
    transport: Transport,
    policy: RetryPolicy,
    bucket: str,
    prefix: str,
    order: KeyOrder = byte_order,
    on_throttle: Optional[Callable[[], None]] = None,
) -> Iterator[Entry]:
    """Every object under ``prefix`` (a folder prefix, or "" for the bucket), keys
    relative to it, ascending in ``order``."""
    token: Optional[str] = None
    last: Optional[str] = None
    while True:
        page = _page(transport, policy, bucket, prefix, token, on_throttle)
        for item in page.get("Contents", []):
            key = item["Key"]
            if last is not None and order(key) <= order(last):
                raise SyncAborted("internal", _unsorted(bucket, last, key, order))
            last = key
            yield _entry(item, key[len(prefix) :])
        token = page.get("NextContinuationToken")
        if not (page.get("IsTruncated") and token):
            return


def _unsorted(bucket: str, last: str, key: str, order: KeyOrder) -> str:
    other = "path" if order is byte_order else "byte"
    return (
        f"s3://{bucket}/{key} was listed after s3://{bucket}/{last}: the store lists keys "
        f"out of the expected order, so nothing more is planned (no delete was made for "
        f"a key not yet seen). If it lists trees depth first (SeaweedFS does), set "
        f"{SYNC_ORDER_ENV}={other}"
    )


def _entry(item: S3Answer, key: str) -> Entry:
    modified = item.get("LastModified")
    etag = item.get("ETag")
    return Entry(
        key,
        int(item["Size"]),
        modified.timestamp() if modified is not None else None,
        etag.strip('"') if etag else None,
    )


def _page(
    transport: Transport,
    policy: RetryPolicy,
    bucket: str,
    prefix: str,
    token: Optional[str],
    on_throttle: Optional[Callable[[], None]],
) -> S3Answer:
    def attempt(deadline: Deadline) -> S3Answer:
        return transport.list_objects_v2(Bucket=bucket, Prefix=prefix, ContinuationToken=token)

    out = run_with_retries(attempt, policy, on_throttle)
    if isinstance(out, Failure):
        raise SyncAborted(out.kind.value, f"listing s3://{bucket}/{prefix}: {out.message}")
    return out


__all__ = ["list_entries"]

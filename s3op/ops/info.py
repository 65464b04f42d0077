"""HEAD one object.

A HEAD answer has no body, so a missing key and a missing bucket both come
back as a bare 404. ``head`` tells them apart only when a 404 arrives: it
then asks HeadBucket (whose 404 the error table maps to
``bucket_not_found``). A bucket found to exist is remembered per transport
for ``BUCKET_SEEN_TTL`` seconds, so many missing keys in one bucket cost
one HeadBucket between them, and an object that exists costs nothing
extra. Sniffing headers was rejected: moto and SeaweedFS answer both 404s
with the same headers. If HeadBucket cannot say (403, retries ran out),
the key's ``not_found`` stands.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Callable, Dict, Optional, Union

from s3op.jobs import InfoJob
from s3op.ops import OpContext, failed, invalid
from s3op.protocol import ErrorKind, RangeServed, Result, decode_metadata, parse_object_url
from s3op.retry import Deadline, Failure, run_with_retries
from s3op.transport import S3Answer, Transport


def run_info(ctx: OpContext, job: InfoJob) -> Result:
    """HEAD ``job.req.url`` and describe the object."""
    return continue_info(ctx, job, None, None)


def continue_info(
    ctx: OpContext,
    job: InfoJob,
    first: Optional[Callable[[], S3Answer]],
    deadline: Optional[Deadline],
) -> Result:
    """``run_info`` for a HEAD whose first attempt was made elsewhere, by a batch
    (``s3op.ops.multiget``): ``first`` is that attempt (None: it was never
    made), ``deadline`` the operation's, started when its request went out."""
    req = job.req
    try:
        loc = parse_object_url(req.url)
    except ValueError as exc:
        return invalid(req.idx, req.url, ErrorKind.INVALID_URL, str(exc))

    out = head(ctx, loc.bucket, loc.key, first, deadline)
    if isinstance(out, Failure):
        return failed(req.idx, req.url, out)
    return describe(req.idx, req.url, out)


def head(
    ctx: OpContext,
    bucket: str,
    key: str,
    first: Optional[Callable[[], S3Answer]] = None,
    deadline: Optional[Deadline] = None,
) -> Union[S3Answer, Failure]:
    """HEAD an object under the retry policy: its response, or why it failed
    (``bucket_not_found`` rather than ``not_found`` when the bucket is missing).
    ``first`` and ``deadline``: as ``continue_info``'s."""
    given = [first] if first is not None else []

    def attempt(deadline: Deadline) -> S3Answer:
        if given:
            return given.pop()()
        return ctx.transport.head_object(Bucket=bucket, Key=key)

    sent = first is not None
    out = run_with_retries(attempt, ctx.policy, ctx.on_throttle, deadline=deadline, first_sent=sent)
    if isinstance(out, Failure) and out.kind is ErrorKind.NOT_FOUND:
        missing = _missing_bucket(ctx, bucket)
        if missing is not None:
            return Failure(missing.kind, missing.message, out.attempts)
    return out


#: Seconds a bucket seen to exist is trusted (a long-lived engine may outlive it).
BUCKET_SEEN_TTL = 60.0


class _BucketsSeen:
    """Buckets each transport recently saw exist (held weakly), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: weakref.WeakKeyDictionary[Transport, Dict[str, float]]
        self._seen = weakref.WeakKeyDictionary()

    def fresh(self, transport: Transport, bucket: str) -> bool:
        """True if ``transport`` saw ``bucket`` exist within the TTL."""
        with self._lock:
            when = self._seen.get(transport, {}).get(bucket)
        return when is not None and time.monotonic() - when < BUCKET_SEEN_TTL

    def add(self, transport: Transport, bucket: str) -> None:
        """Remember that ``transport`` just saw ``bucket`` exist."""
        with self._lock:
            self._seen.setdefault(transport, {})[bucket] = time.monotonic()


_BUCKETS_SEEN = _BucketsSeen()


def _missing_bucket(ctx: OpContext, bucket: str) -> Optional[Failure]:
    """HeadBucket's failure if it says ``bucket`` is missing; None if it exists or
    cannot tell."""
    if _BUCKETS_SEEN.fresh(ctx.transport, bucket):
        return None

    def attempt(deadline: Deadline) -> S3Answer:
        return ctx.transport.head_bucket(Bucket=bucket)

    out = run_with_retries(attempt, ctx.policy, ctx.on_throttle)
    if not isinstance(out, Failure):
        _BUCKETS_SEEN.add(ctx.transport, bucket)
        return None
    return out if out.kind is ErrorKind.BUCKET_NOT_FOUND else None


def whole_crc32(resp: S3Answer) -> Optional[str]:
    """The answer's CRC32 when it is the whole object's (not a composite of parts)."""
    if resp.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        return None
    return resp.get("ChecksumCRC32") or None


def describe(
    idx: int,
    url: str,
    resp: S3Answer,
    local: Optional[str] = None,
    range: Optional[RangeServed] = None,
    attempts: Optional[int] = None,
) -> Result:
    """A result carrying the info fields of a HEAD or GET response."""
    modified = resp.get("LastModified")
    return Result(
        idx=idx,
        url=url,
        size=int(resp.get("ContentLength", 0)),
        content_type=resp.get("ContentType"),
        metadata=decode_metadata(resp.get("Metadata")),
        encryption=resp.get("ServerSideEncryption"),
        last_modified=int(modified.timestamp()) if modified is not None else None,
        etag=resp.get("ETag"),
        crc32=whole_crc32(resp),
        local=local,
        range=range,
        attempts=attempts,
    )

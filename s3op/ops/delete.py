"""Delete keys: one DeleteObjects request per ``DeleteJob`` (up to 1,000 keys).

Each key gets its own answer. The request is sent with the keys still
pending; the answer names each key either ``Deleted`` (a key that was not
there is deleted too: S3 says so, and so do we) or in ``Errors`` with its
own code. A permanent error (``AccessDenied``) is that key's result at once;
a transient one (``InternalError``, ``SlowDown``), or a key the answer does
not name at all, stays pending, and the attempt fails as transient so the
one retry loop (``s3op.retry``) sends the pending keys again. When the loop
gives up, every key still pending fails with its last error. A dry run
sends nothing and answers every key ``dry``.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Iterator, List, Tuple

from s3op.errors import OpError, classify_code
from s3op.jobs import DeleteJob
from s3op.ops import OpContext
from s3op.protocol import DeleteRequest, Error, ErrorKind, Result, parse_object_url
from s3op.retry import Deadline, Failure, run_with_retries
from s3op.transport import S3Answer

#: S3's limit on the keys of one DeleteObjects request.
MAX_DELETE_KEYS = 1000

#: Keys not settled yet: key -> positions in the job's items (a recursive delete's
#: keys share their request's idx, so positions, not idx, name them).
Pending = Dict[str, List[int]]


def run_delete(ctx: OpContext, job: DeleteJob) -> List[Result]:
    """Delete every key of ``job``; one result per key, in the job's order."""
    done: Dict[int, Result] = {}
    pending: Pending = {}
    for pos, (idx, url) in enumerate(job.items):
        try:
            key = parse_object_url(url).key
        except ValueError as exc:
            done[pos] = Result.failure(idx, url, ErrorKind.INVALID_URL, str(exc), 0)
            continue
        pending.setdefault(key, []).append(pos)
    if ctx.settings.dry_run:
        _settle_all(job, pending, done, lambda idx, url, key: Result(idx=idx, url=url, dry=True))
        return [done[pos] for pos in range(len(job.items))]
    last: Dict[str, Error] = {}

    def attempt(deadline: Deadline) -> None:
        answer = ctx.transport.delete_objects(Bucket=job.bucket, Keys=list(pending))
        _settle(job, answer, pending, done, last)
        if pending:
            raise OpError(ErrorKind.TRANSIENT, f"{len(pending)} keys not deleted yet")

    out = run_with_retries(attempt, ctx.policy, ctx.on_throttle)
    if isinstance(out, Failure):
        gave_up = out

        def failure(idx: int, url: str, key: str) -> Result:
            error = last.get(key, Error(gave_up.kind, gave_up.message))
            return Result.failure(idx, url, error.kind, error.message, gave_up.attempts)

        _settle_all(job, pending, done, failure)
    return [done[pos] for pos in range(len(job.items))]


def _settle(
    job: DeleteJob,
    answer: S3Answer,
    pending: Pending,
    done: Dict[int, Result],
    last: Dict[str, Error],
) -> None:
    """Move each key the answer settles from ``pending`` to ``done``."""
    for item in answer.get("Deleted") or []:
        for pos in pending.pop(str(item.get("Key")), []):
            idx, url = job.items[pos]
            done[pos] = Result(idx=idx, url=url)
    for item in answer.get("Errors") or []:
        key = str(item.get("Key"))
        if key not in pending:
            continue
        kind, message = classify_code(str(item.get("Code", "")), str(item.get("Message", "")))
        if kind.retryable:
            last[key] = Error(kind, message)
            continue
        for pos in pending.pop(key):
            idx, url = job.items[pos]
            done[pos] = Result.failure(idx, url, kind, message)


def _settle_all(
    job: DeleteJob,
    pending: Pending,
    done: Dict[int, Result],
    make: Callable[[int, str, str], Result],
) -> None:
    """Settle every pending key with ``make(idx, url, key)``."""
    for key, positions in pending.items():
        for pos in positions:
            idx, url = job.items[pos]
            done[pos] = make(idx, url, key)
    pending.clear()


def delete_jobs(requests: Iterable[DeleteRequest], per_job: int) -> Iterator[DeleteJob]:
    """The ``DeleteJob``s of a batch of single-key deletes: the requests of each bucket
    in jobs of ``per_job`` keys (at most ``MAX_DELETE_KEYS``), in request order; a job
    goes out as soon as it is full. A URL that names no bucket gets a job of its own
    (its op answers ``invalid_url``)."""
    per_job = max(1, min(per_job, MAX_DELETE_KEYS))
    open_jobs: Dict[str, List[Tuple[int, str]]] = {}
    for req in requests:
        bucket = req.url[5:].partition("/")[0] if req.url.startswith("s3://") else ""
        items = open_jobs.setdefault(bucket, [])
        items.append((req.idx, req.url))
        if len(items) >= per_job or not bucket:
            yield DeleteJob(bucket, tuple(open_jobs.pop(bucket)))
    for bucket, items in open_jobs.items():
        yield DeleteJob(bucket, tuple(items))

"""How a batch's requests become the scheduler's jobs, one op at a time.

``plan_batch`` hands the scheduler the requests as its job source
(``Scheduler.feed``): each is planned as the pool has room, so the batch is
never held whole. A get or list is one job (recursive: a listing that
finds the objects), a put, info or copy one job, a recursive delete a
listing whose pages become DeleteObjects; single deletes are grouped
across requests into DeleteObjects of ``delete_keys_per_job`` keys.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable

import s3op.jobs as jobs
from s3op.ops.delete import delete_jobs
from s3op.options import DEFAULT_THREADS, BatchOptions
from s3op.protocol import (
    CopyRequest,
    DeleteRequest,
    GetRequest,
    InfoRequest,
    ListRequest,
    PutRequest,
    Request,
)
from s3op.scheduler import Scheduler


def _get(scheduler: Scheduler, req: Request, options: BatchOptions) -> None:
    assert isinstance(req, GetRequest)
    if options.recursive:
        listing = ListRequest(req.idx, req.url)
        scheduler.add(jobs.ListJob(listing, recursive=True, for_get=True))
    else:
        scheduler.add_get(req)


def _put(scheduler: Scheduler, req: Request, options: BatchOptions) -> None:
    assert isinstance(req, PutRequest)
    scheduler.add(jobs.PutJob(req))


def _info(scheduler: Scheduler, req: Request, options: BatchOptions) -> None:
    assert isinstance(req, InfoRequest)
    scheduler.add(jobs.InfoJob(req))


def _list(scheduler: Scheduler, req: Request, options: BatchOptions) -> None:
    assert isinstance(req, ListRequest)
    scheduler.add(jobs.ListJob(req, options.recursive))


def _delete(scheduler: Scheduler, req: Request, options: BatchOptions) -> None:
    """A recursive delete: list the prefix; each page becomes one DeleteJob.
    (Single keys are grouped by ``_plan``, across requests.)"""
    assert isinstance(req, DeleteRequest)
    scheduler.add(jobs.ListJob(ListRequest(req.idx, req.url), True, for_delete=True))


def _copy(scheduler: Scheduler, req: Request, options: BatchOptions) -> None:
    assert isinstance(req, CopyRequest)
    scheduler.add(jobs.CopyJob(req))


#: How each op's request becomes the scheduler's first job.
_PLANS: Dict[str, Callable[[Scheduler, Request, BatchOptions], None]] = {
    "get": _get,
    "put": _put,
    "info": _info,
    "list": _list,
    "delete": _delete,
    "copy": _copy,
}

#: Keys per DeleteObjects request (S3 takes up to 1,000).
DELETE_KEYS_PER_JOB = 1000
#: The fewest keys per DeleteObjects when a batch is shared out among the threads.
DELETE_KEYS_MIN = 50


def delete_keys_per_job(count: int, options: BatchOptions) -> int:
    """Keys per DeleteObjects: the batch shared out among the threads (a server deletes
    one request's keys one after another: 1,000 x 10 KiB took 8.3 s in one request on
    a loaded 2-CPU box, while ``s5cmd rm`` took 4.4 s), at least ``DELETE_KEYS_MIN``,
    at most S3's 1,000."""
    threads = options.pool.threads or DEFAULT_THREADS
    return max(DELETE_KEYS_MIN, min(DELETE_KEYS_PER_JOB, -(-count // threads)))


def plan_batch(
    scheduler: Scheduler, op: str, batch: Iterable[Request], options: BatchOptions, count: int
) -> None:
    """Hand the scheduler the requests as its job source, read as it has room
    (single deletes: grouped into DeleteObjects jobs as they are read; ``count``,
    the batch's known or guessed length, sizes them)."""
    if op == "delete" and not options.recursive:
        deletes = (req for req in batch if isinstance(req, DeleteRequest))
        scheduler.feed(delete_jobs(deletes, delete_keys_per_job(count, options)))
        return
    plan = _PLANS[op]
    scheduler.feed(batch, lambda req: plan(scheduler, req, options))


__all__ = ["DELETE_KEYS_MIN", "DELETE_KEYS_PER_JOB", "delete_keys_per_job", "plan_batch"]

"""One module per operation; each op is ``(ctx, job) -> outcome``.

Ops talk to S3 through ``ctx.client`` only and never write stdout.
``run_job`` is the single dispatch table the workers use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from s3op import jobs
from s3op.protocol import ErrorKind, Result
from s3op.retry import Failure, RetryPolicy


@dataclass
class OpContext:
    """What an op needs: a client of this worker's, the policy and settings."""

    client: Any
    policy: RetryPolicy
    settings: jobs.Settings
    on_throttle: Optional[Callable[[], None]] = None


def failed(idx: int, url: str, failure: Failure) -> Result:
    """A Failure from the retry loop as a result line."""
    return Result.failure(idx, url, failure.kind, failure.message, failure.attempts)


def invalid(idx: int, url: str, kind: ErrorKind, message: str) -> Result:
    """A request rejected before any attempt."""
    return Result.failure(idx, url, kind, message, attempts=0)


def internal_failure(job: jobs.Job, exc: Exception) -> Result:
    """The answer for a job whose op raised (a bug): never leave a job hanging."""
    idx, url = jobs.job_ident(job)
    return Result.failure(idx, url, ErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}")


def run_job(ctx: OpContext, job: jobs.Job) -> jobs.Outcome:
    """Run one job with the op registered for its type."""
    from s3op.ops import get, info, listing, put

    table: Dict[type, Callable[[OpContext, Any], jobs.Outcome]] = {
        jobs.GetJob: get.run_get,
        jobs.GetPartJob: get.run_get_part,
        jobs.VerifyJob: get.run_verify,
        jobs.PutJob: put.run_put,
        jobs.UploadPartJob: put.run_upload_part,
        jobs.CompleteUploadJob: put.run_complete,
        jobs.AbortUploadJob: put.run_abort,
        jobs.InfoJob: info.run_info,
        jobs.ListJob: listing.run_list,
    }
    return table[type(job)](ctx, job)

"""One module per operation; each op is ``(ctx, job) -> outcome``.

Ops talk to S3 through ``ctx.transport``, a ``Transport`` (``s3op.transport``),
and never touch a socket or write stdout. ``s3op.ops.runner`` is what a
worker runs them with: the single dispatch table (``run_job``) and the
batched GETs (``s3op.ops.multiget``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from s3op import jobs
from s3op.protocol import ErrorKind, Result
from s3op.retry import Failure, RetryPolicy
from s3op.transport import Transport


@dataclass
class OpContext:
    """What an op needs: this worker's transport, the policy and settings."""

    transport: Transport
    policy: RetryPolicy
    settings: jobs.Settings
    on_throttle: Optional[Callable[[], None]] = None  # S3 said slow down (``Throttle``)


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

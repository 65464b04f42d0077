"""Running one batch of a batching op (``run_gets``, ``run_puts``) as a pool would."""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from s3op.client import ClientConfig, Credentials
from s3op.ops import OpContext
from s3op.ops.multiget import Resume, finish_resumed
from s3op.retry import RetryPolicy
from tests.backends import REGION

#: Three quick attempts: the batch tests' retry policy.
QUICK_RETRIES = RetryPolicy(max_attempts=3, base=0.01, cap=0.05, deadline=30.0)


def fast_config(endpoint: str) -> ClientConfig:
    """The lean HTTP path to a test server (moto's or SeaweedFS's) at ``endpoint``."""
    return ClientConfig(
        credentials=Credentials("testing", "testing"),
        fast=(endpoint, REGION, True),
        connect_timeout=5.0,
        read_timeout=30.0,
    )


#: ``run_gets`` / ``run_puts``: (ctx, jobs, answer, hand_off) -> True unless nobody listens.
BatchRunner = Callable[..., bool]


def run_one_batch(
    runner: BatchRunner,
    ctx: OpContext,
    jobs: Sequence[Tuple[int, Any]],
    handed: Optional[List[int]] = None,
) -> Dict[int, Any]:
    """Run ``jobs`` as one batch; what it hands off is finished on other threads
    (as the pool does) and its job ids recorded in ``handed``; without
    ``handed``, no hand-off (the batch finishes those jobs itself). Each job's outcome,
    by job id; a job answered twice fails the test."""
    answers: Dict[int, Any] = {}
    lock = threading.Lock()
    others: List[threading.Thread] = []

    def answer(job_id: int, outcome: Any) -> bool:
        with lock:
            assert job_id not in answers, f"job {job_id} answered twice"
            answers[job_id] = outcome
        return True

    def hand_off(job_id: int, resume: Resume) -> None:
        assert handed is not None
        handed.append(job_id)
        other = threading.Thread(target=lambda: answer(job_id, finish_resumed(ctx, resume)))
        other.start()
        others.append(other)

    assert runner(ctx, jobs, answer, hand_off if handed is not None else None)
    for other in others:
        other.join()
    return answers

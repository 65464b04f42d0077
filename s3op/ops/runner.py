"""What a worker runs its jobs with: the ops, on a transport of the worker's own.

``OpWorker`` is the ``s3op.worker.RunnerFactory`` a batch hands the pool
(``WorkerSpec(OpWorker(config, policy, settings), threads)``): picklable,
it builds inside each worker, after it starts, the worker's transport
(``s3op.client.worker_transport``: clients never cross a fork) and an
``OpRunner`` over it. ``OpRunner`` runs one job with the op registered for
its type (``run_job``), or several whole-object GETs (or HEADs) together
(``s3op.ops.multiget``), or several small PUTs (``s3op.ops.multiput``) or
copies (``s3op.ops.multicopy``), and
finishes those a batch handed back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence, Tuple, cast

from s3op import jobs
from s3op.client import ClientConfig, worker_transport
from s3op.ops import (
    OpContext,
    copy,
    delete,
    dry,
    get,
    info,
    internal_failure,
    listing,
    multicopy,
    multiput,
    put,
    upload_parts,
)
from s3op.ops.multiget import (
    GET_BATCH,
    Answer,
    Batched,
    HandOff,
    Resume,
    batchable,
    finish_resumed,
    run_gets,
)
from s3op.protocol import ErrorKind
from s3op.retry import RetryPolicy

#: The op for each job type (each takes the job type it is registered for).
_OPS: Dict[type, Callable[[OpContext, Any], jobs.Outcome]] = {
    jobs.GetJob: get.run_get,
    jobs.GetPartJob: get.run_get_part,
    jobs.VerifyJob: get.run_verify,
    jobs.PutJob: put.run_put,
    jobs.UploadPartJob: upload_parts.run_upload_part,
    jobs.CompleteUploadJob: upload_parts.run_complete,
    jobs.AbortUploadJob: upload_parts.run_abort,
    jobs.InfoJob: info.run_info,
    jobs.ListJob: listing.run_list,
    jobs.DryGetJob: dry.run_dry_get,
    jobs.DeleteJob: delete.run_delete,
    jobs.CopyJob: copy.run_copy,
    jobs.CopyPartJob: copy.run_copy_part,
    jobs.CompleteCopyJob: copy.run_complete_copy,
}


def run_job(ctx: OpContext, job: jobs.Job) -> jobs.Outcome:
    """Run one job with the op registered for its type."""
    return _OPS[type(job)](ctx, job)


@dataclass(frozen=True)
class OpWorker:
    """Builds a worker's ``OpRunner`` inside the worker (a ``RunnerFactory``)."""

    config: ClientConfig
    policy: RetryPolicy
    settings: jobs.Settings

    def __call__(self, slow_down: Callable[[], None], shared: bool) -> OpRunner:
        """The runner of one worker; ``shared``: reuse this process's transport."""
        transport = worker_transport(self.config, shared)
        return OpRunner(OpContext(transport, self.policy, self.settings, slow_down))


class OpRunner:
    """Runs a worker's jobs with the ops (an ``s3op.worker.Runner``)."""

    batch_size = GET_BATCH

    def __init__(self, ctx: OpContext) -> None:
        self.ctx = ctx

    def run(self, task: object) -> jobs.Outcome:
        """Run a job, or finish a GET a batch handed back; a bug is an internal error."""
        job = task.job if isinstance(task, Resume) else cast(jobs.Job, task)
        try:
            if isinstance(task, Resume):
                return finish_resumed(self.ctx, task)
            return run_job(self.ctx, job)
        except Exception as exc:  # noqa: BLE001 - a bug in an op: answered, not lost
            if isinstance(job, jobs.DeleteJob):  # one answer per key it held
                return jobs.job_failed(job, ErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}")
            return internal_failure(job, exc)

    def batchable(self, task: object) -> bool:
        """A whole-object GET, a HEAD, a small PUT or a one-request copy, on a
        transport that keeps many in flight."""
        return (
            batchable(self.ctx, task)
            or multiput.batchable(self.ctx, task)
            or multicopy.batchable(self.ctx, task)
        )

    def run_batch(self, batch: List[Tuple[int, object]], answer: Answer, hand_off: HandOff) -> bool:
        """Run whole-object GETs, HEADs, small PUTs or copies together
        (``multiget.run_gets``, ``multiput.run_puts``, ``multicopy.run_copies``)."""
        if isinstance(batch[0][1], jobs.PutJob):  # all batchable, of one type
            puts = cast(Sequence[Tuple[int, jobs.PutJob]], batch)
            return multiput.run_puts(self.ctx, puts, answer, hand_off)
        if isinstance(batch[0][1], jobs.CopyJob):
            copies = cast(Sequence[Tuple[int, jobs.CopyJob]], batch)
            return multicopy.run_copies(self.ctx, copies, answer, hand_off)
        same = cast(Sequence[Tuple[int, Batched]], batch)
        return run_gets(self.ctx, same, answer, hand_off)

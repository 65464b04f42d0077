"""Workers: N processes (or one in-process worker) x M threads, over pipes.

Each worker owns one end of a ``multiprocessing`` Pipe (an in-process
worker: a ``Channel``). The parent sends ``(job_id, job)``; the worker's M
threads run jobs (``s3op.worker``) and send back ``(job_id, outcome)``.
The pool runs whatever ``WorkerSpec.runner`` builds and knows nothing of
what jobs do. The parent waits on every pipe and every process sentinel
at once, so a worker that dies, even by SIGKILL, is noticed at once and
its unanswered jobs are handed back to the caller (``Died``), which may
queue them again (``s3op.retry`` lists that among the layers that repeat
work).

Results travel one request at a time. A forked worker sends each outcome
as its job ends, a batched GET's or HEAD's too (``s3op.ops.multiget``
answers each request as its reply is in, not when the batch ends; the
pool drops it from ``inflight`` then, so a worker killed mid-batch hands
back only the requests not answered yet). An in-process worker's
``Channel`` may hold plain results back while its threads are busy;
``poll`` takes them at least every ``HELD_MAX`` (0.1 s).

Workers are forked (cheap: boto3 is already imported) and close the pipe
ends of their siblings, ignore SIGINT (the parent decides), and die with
the parent (``PR_SET_PDEATHSIG``) so nothing is left orphaned.
"""

from __future__ import annotations

import select
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple, Union, cast

from s3op.channel import SHUTDOWN_SIGNAL, Channel
from s3op.jobs import Job, Outcome
from s3op.worker import WorkerSpec, process_entry, worker_main

if TYPE_CHECKING:  # multiprocessing is imported only when workers are forked (~8 ms)
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

__all__ = ["Channel", "Died", "Done", "HELD_MAX", "Pool", "SHUTDOWN_SIGNAL", "Worker", "WorkerSpec"]

#: The longest ``poll`` waits while an in-process worker may hold outcomes back
#: (``Channel``): so no result reaches the scheduler (the result lines, the progress
#: bar) later than this after its request ended.
HELD_MAX = 0.1


@dataclass
class Worker:
    """The parent's handle on one worker."""

    conn: Union[Connection, Channel]  # a pipe, or an in-process worker's channel
    process: Optional[BaseProcess]  # None for the in-process worker
    inflight: Dict[int, Job]


@dataclass(frozen=True)
class Done:
    """A job finished with ``outcome``."""

    job_id: int
    outcome: Outcome


@dataclass(frozen=True)
class Died:
    """A worker died; ``jobs`` were in flight on it and got no answer."""

    jobs: Tuple[Tuple[int, Job], ...]
    exitcode: Optional[int]


class Pool:
    """A set of workers plus the bookkeeping of which job runs where."""

    def __init__(self, spec: WorkerSpec, processes: int) -> None:
        self.spec = spec
        self.processes = processes  # 0 = one in-process worker (threads only)
        self.workers: List[Worker] = []
        # jobs handed to a worker at once: its threads' and its window's (``Throttle``)
        self.capacity = max(max(1, spec.threads) * 2, spec.window_max + spec.threads)

    def start(self) -> None:
        """Start the workers."""
        for _ in range(max(1, self.processes)):
            self.workers.append(self._spawn())

    def _spawn(self) -> Worker:
        if self.processes == 0:
            channel = Channel(batch=self.spec.threads // 2)
            thread = threading.Thread(
                target=worker_main, args=(channel.worker_end, self.spec), daemon=True
            )
            thread.start()
            return Worker(channel, None, {})
        import multiprocessing  # here: a batch on in-process threads never needs it

        parent_end, child_end = multiprocessing.Pipe(duplex=True)
        siblings = [w.conn for w in self.workers]
        ctx = multiprocessing.get_context("fork")
        proc = ctx.Process(
            target=process_entry, args=(child_end, self.spec, siblings + [parent_end])
        )
        proc.daemon = True
        proc.start()
        child_end.close()
        return Worker(parent_end, proc, {})

    def free_slots(self) -> int:
        """How many more jobs can be handed out now."""
        return sum(self.capacity - len(w.inflight) for w in self.workers)

    def submit(self, job_id: int, job: Job) -> None:
        """Hand a job to the least busy worker (call only when free_slots() > 0)."""
        worker = min(self.workers, key=lambda w: len(w.inflight))
        worker.inflight[job_id] = job
        try:
            worker.conn.send((job_id, job))
        except (BrokenPipeError, ConnectionResetError):
            pass  # it died since the last poll: its sentinel reports the job as orphaned

    def busy(self) -> bool:
        """True while any job is in flight."""
        return any(w.inflight for w in self.workers)

    def poll(self, timeout: Optional[float]) -> List[Union[Done, Died]]:
        """Wait for answers or deaths; return ``Done`` and ``Died`` events."""
        handles: Dict[object, Worker] = {w.conn: w for w in self.workers}
        handles.update({w.process.sentinel: w for w in self.workers if w.process is not None})
        events: List[Union[Done, Died]] = []
        if self.processes == 0:  # a Channel may hold outcomes: take them at least this often
            timeout = HELD_MAX if timeout is None else min(timeout, HELD_MAX)
        ready = _ready(list(handles), timeout)
        for handle in ready:
            worker = handles[handle]
            if handle is worker.conn:
                events.extend(self._drain(worker))
            elif worker in self.workers:
                events.extend(self._drain(worker))
                events.append(self._replace(worker))
        if not ready:  # timed out: take outcomes an in-process channel is holding back
            for worker in self.workers:
                if worker.process is None:
                    events.extend(self._drain(worker))
        return events

    def _drain(self, worker: Worker) -> List[Done]:
        done: List[Done] = []
        try:
            while worker.conn.poll():
                job_id, outcome = worker.conn.recv()
                worker.inflight.pop(job_id, None)
                done.append(Done(job_id, cast(Outcome, outcome)))  # what workers send
        except (EOFError, OSError):
            pass
        return done

    def _replace(self, dead: Worker) -> Died:
        assert dead.process is not None
        dead.process.join(timeout=1)
        self.workers.remove(dead)
        dead.conn.close()
        self.workers.append(self._spawn())
        return Died(tuple(dead.inflight.items()), dead.process.exitcode)

    def shutdown(self, kill: bool = False, grace: float = 5.0) -> None:
        """Stop every worker: politely, or with SIGTERM then SIGKILL."""
        for w in self.workers:
            try:
                if kill and w.process is not None:
                    w.process.terminate()
                else:
                    w.conn.send(SHUTDOWN_SIGNAL)
            except (BrokenPipeError, OSError):
                pass
        for w in self.workers:
            if w.process is not None:
                w.process.join(timeout=grace)
                if w.process.is_alive():
                    w.process.kill()
                    w.process.join(timeout=grace)
            w.conn.close()
        self.workers = []

    def pids(self) -> List[int]:
        """PIDs of worker processes (for tests and diagnostics)."""
        return [w.process.pid for w in self.workers if w.process and w.process.pid]


def _ready(handles: Sequence[object], timeout: Optional[float]) -> List[object]:
    """The ``handles`` ready to read (a sentinel: its process ended) within ``timeout`` s.

    Only ``fileno()`` is needed: pipes, sentinels and a Channel's wake-up pipe.
    An in-process worker's channel alone is polled here; with worker processes,
    ``multiprocessing.connection.wait`` (imported with them) does it.
    """
    if any(not isinstance(h, Channel) for h in handles):
        from multiprocessing.connection import wait

        return list(wait(cast("List[Connection]", handles), timeout))
    poller = select.poll()
    for channel in cast("List[Channel]", handles):
        poller.register(channel.fileno(), select.POLLIN)
    ms = None if timeout is None else max(0.0, timeout) * 1000.0
    fds = {fd for fd, _ in poller.poll(ms)}
    return [h for h in cast("List[Channel]", handles) if h.fileno() in fds]

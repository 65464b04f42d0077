"""One worker: up to M threads taking jobs off one inbox and answering each.

A worker knows nothing of what its jobs do. ``WorkerSpec.runner`` (a
``RunnerFactory``, picklable) builds, inside the worker after it starts,
the ``Runner`` that runs them: ``s3op.ops.runner.OpWorker`` does, with a
transport of the worker's own (clients never cross a fork). The worker
gives it one thing: ``slow_down``, its ``Throttle``'s, to call when S3
says slow down.

Threads are started as work waits for them (``s3op.job_threads``), up to M.
Each thread runs one job at a time under a ``Throttle`` slot. A thread
that takes a job the runner calls batchable also takes the batchable jobs
of its kind waiting behind it (``_gather``, never waiting for more), as
many as the throttle's window of requests in flight has room for, and has
the runner run them together (``Runner.run_batch``: many GETs or HEADs in
flight on one thread). A thread whose batchable job finds the window full
puts it back and waits until a request in flight ends (never when none
is): sent alone, it would hold the thread for a whole round trip and pay
the single path's cost. The window grows while throughput grows and halves
when S3 says slow down (``s3op.throttle``). A runner may hand a job back
to the inbox to be finished by any free thread (``hand_off``), so a slow
one never holds up the rest of its batch.

Forked workers close their siblings' pipe ends, ignore SIGINT (the parent
decides), and die with the parent (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ContextManager, List, Optional, Protocol, Tuple, Union

from s3op.channel import SHUTDOWN_SIGNAL, WorkerEnd
from s3op.job_threads import JobThreads
from s3op.jobs import Outcome
from s3op.throttle import Throttle

if TYPE_CHECKING:  # a forked worker's pipe; in-process workers never import multiprocessing
    from multiprocessing.connection import Connection

#: (job id, task): a job from the parent, or one a runner handed back to finish.
Message = Tuple[int, object]
#: ``answer(job_id, outcome)``: False once the parent is gone.
Answer = Callable[[int, Outcome], bool]
#: ``hand_off(job_id, task)``: the task goes back to the inbox for any free thread.
HandOff = Callable[[int, object], None]


class Runner(Protocol):
    """Runs a worker's jobs (built inside the worker by a ``RunnerFactory``)."""

    #: The most tasks one ``run_batch`` takes.
    batch_size: int

    def run(self, task: object) -> Outcome:
        """Run one job, or finish one handed off; never raises (a bug is an outcome)."""

    def batchable(self, task: object) -> bool:
        """Whether ``task`` may run in a batch with others like it."""

    def run_batch(self, batch: List[Message], answer: Answer, hand_off: HandOff) -> bool:
        """Run batchable tasks together, answering each; False once ``answer`` is."""


class RunnerFactory(Protocol):
    """Builds a worker's ``Runner`` after the worker starts (picklable)."""

    def __call__(self, slow_down: Callable[[], None], shared: bool) -> Runner:
        """``slow_down``: call when S3 throttles; ``shared``: an in-process worker
        (it may reuse this process's long-lived clients)."""


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs, fixed for a run (picklable)."""

    runner: RunnerFactory  # builds what runs the jobs, inside the worker
    threads: int  # threads per worker: jobs run at once (fewer while S3 throttles)
    window_max: int = 0  # requests in flight it may grow to (``Throttle``); 0: 2 x threads
    eager: Optional[int] = None  # threads started with it (None: all); more as work waits


#: The worker's end of its link to the parent: a pipe, or an in-process channel.
Link = Union["Connection", WorkerEnd]


def worker_main(conn: Link, spec: WorkerSpec) -> None:
    """Body of a worker: build its runner, run jobs on up to M threads until shutdown."""
    throttle = Throttle(spec.threads, window_max=spec.window_max)
    in_process = isinstance(conn, WorkerEnd)  # threads take jobs straight off the channel
    runner = spec.runner(throttle.slow_down, in_process)
    inbox: queue.SimpleQueue[Optional[Message]]
    inbox = conn.channel.inbox if isinstance(conn, WorkerEnd) else queue.SimpleQueue()
    # A pipe's send is not thread-safe; a Channel serialises deliveries itself.
    lock: ContextManager[object] = contextlib.nullcontext() if in_process else threading.Lock()

    def answer(job_id: int, outcome: Outcome) -> bool:
        with lock:
            try:
                conn.send((job_id, outcome))
            except (BrokenPipeError, OSError):
                return False
        return True

    threads = JobThreads(spec.threads)
    threads.target = lambda: _serve(runner, inbox, answer, throttle, threads)
    if isinstance(conn, WorkerEnd):
        conn.channel.watch(threads.arrived)
    threads.start(spec.threads if spec.eager is None else max(1, spec.eager))
    if not isinstance(conn, WorkerEnd):
        _pump(conn, inbox, threads)
        inbox.put(SHUTDOWN_SIGNAL)
    threads.join()


def _pump(
    conn: Connection, inbox: queue.SimpleQueue[Optional[Message]], threads: JobThreads
) -> None:
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is SHUTDOWN_SIGNAL:
            return
        inbox.put(msg)
        threads.arrived()


def _serve(
    runner: Runner,
    inbox: queue.SimpleQueue[Optional[Message]],
    answer: Answer,
    throttle: Throttle,
    threads: JobThreads,
) -> None:
    def hand_off(job_id: int, task: object) -> None:
        inbox.put((job_id, task))  # any free thread finishes it (SimpleQueue: never full)
        threads.arrived()

    carried: Optional[Message] = None  # taken while gathering a batch, run right after it
    while True:
        msg = carried if carried is not None else threads.take(inbox)
        if msg is SHUTDOWN_SIGNAL:
            inbox.put(SHUTDOWN_SIGNAL)  # for the next thread
            return
        batch, carried = _gather(runner, inbox, msg, throttle)
        if not batch:  # the window is full: ``msg`` went back to the inbox
            throttle.wait_for_room()
            continue
        threads.took(more_waiting=not inbox.empty())
        try:
            with throttle.slot():
                if len(batch) > 1:
                    listening = runner.run_batch(batch, answer, hand_off)
                else:
                    listening = answer(msg[0], runner.run(msg[1]))
        finally:  # even if a runner's bug ends this thread: others may wait for room
            throttle.finished(len(batch), len(batch))
        if not listening:
            return


def _gather(
    runner: Runner,
    inbox: queue.SimpleQueue[Optional[Message]],
    msg: Message,
    throttle: Throttle,
) -> Tuple[List[Message], Optional[Message]]:
    """``msg`` and the batchable tasks of its kind waiting behind it, as many as
    the throttle's window has room for (``Throttle.reserve_some``: the caller
    gives them back with ``finished``), at most the runner's ``batch_size``
    (never waits), plus the first other task met on the way (None if none):
    the caller runs it next, so nothing taken is put back behind later work.
    A batchable ``msg`` that finds the window full goes back into the inbox
    and no batch is returned: the caller waits for room (``wait_for_room``)
    rather than send it alone, and whoever has room next takes it with the
    others. A task that is not batchable always runs (``reserve``: at least
    one). A shutdown met on the way goes back into the inbox: it is None, so
    it cannot be carried, and the threads pass it on to each other. The
    pool's capacity (``s3op.pool``) bounds what can be waiting."""
    batch = [msg]
    if not runner.batchable(msg[1]):
        throttle.reserve(1)
        return batch, None
    room = throttle.reserve_some(min(runner.batch_size, 1 + inbox.qsize()))
    if room == 0:
        inbox.put(msg)
        return [], None
    carried: Optional[Message] = None
    while len(batch) < room:
        try:
            nxt = inbox.get_nowait()
        except queue.Empty:
            break
        if nxt is SHUTDOWN_SIGNAL:  # None: it cannot be carried; leave it for the loop
            inbox.put(SHUTDOWN_SIGNAL)
            break
        if not runner.batchable(nxt[1]) or type(nxt[1]) is not type(msg[1]):
            carried = nxt
            break
        batch.append(nxt)
    throttle.finished(room - len(batch), 0)  # room not used
    return batch, carried


def process_entry(conn: Connection, spec: WorkerSpec, close: List[Connection]) -> None:
    """A forked worker's start: close the siblings' pipe ends, leave SIGINT to the
    parent, die with it, run ``worker_main``, and exit without atexit handlers."""
    for other in close:
        other.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    worker_main(conn, spec)
    os._exit(0)  # skip atexit handlers inherited from the parent


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the EOF on our pipe still ends us

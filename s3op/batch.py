"""``run_batch``: the one entry point of the engine, for one batch.

``run_batch(op, requests, options, sink) -> ExitCode`` is what the command
line (``s3op get ...``), ``s3op serve`` and a Dask shard call. It builds
what the scheduler needs (the client configuration, through the
credential cache in ``options`` or afresh; the retry policy; the pool,
sized to the batch and the machine), plans one job per request, runs them,
and hands every result to ``sink`` as it finishes. Nothing here parses
argv, exits the process or touches stdout: the caller owns its output.

``requests`` is consumed lazily, never held: the scheduler pulls the next
requests as the pool has room (``Scheduler.feed``), so a manifest of ten
million lines runs in the memory of ten thousand. The pool is sized from
the first ``IN_PROCESS_MAX + 1`` requests (or ``len(requests)`` when the
iterable has one): enough to tell a small batch from a big one. Requests
are checked to be of ``op`` as they are taken: a wrong one among the first
few refuses the batch before anything is sent; one further on stops the
intake, the requests before it finish, then ``BatchUsageError`` is raised.

Ctrl-C, and SIGTERM when called from the main thread (where signals are
delivered), stop the workers, remove this run's temp files and give
``ExitCode.INTERRUPTED``; the caller says so where it reports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import signal
import threading
from types import FrameType
from typing import (
    Callable,
    Iterable,
    Iterator,
    Optional,
    Protocol,
    Sequence,
    Sized,
    TextIO,
    Union,
    runtime_checkable,
)

import s3op.jobs as jobs
from s3op import bandwidth
from s3op.client import ClientConfig
from s3op.credentials import client_config
from s3op.ipc import current_umask
from s3op.ops.runner import OpWorker
from s3op.options import (
    COPY_THREADS,
    DEFAULT_THREADS,
    FORK_MIN_CPUS,
    IN_PROCESS_MAX,
    INFO_THREADS,
    PUT_THREADS,
    BatchOptions,
    BatchUsageError,
)
from s3op.plans import delete_keys_per_job, plan_batch
from s3op.pool import Pool, WorkerSpec
from s3op.protocol import (
    REQUEST_TYPES,
    ExitCode,
    Request,
    Result,
)
from s3op.retry import RetryPolicy
from s3op.scheduler import Scheduler
from s3op.throttle import START_PER_THREAD, window_max

#: What the scheduler hands a sink: a result, or a listing page's objects in compact form.
Emitted = Union[Result, jobs.Found]
#: Lines a recursive get's request is guessed to expand to, when sizing the pool.
RECURSIVE_FANOUT = 1000
#: What a caller reports (on stderr) after ``run_batch`` gave ``ExitCode.INTERRUPTED``.
INTERRUPTED_NOTE = "s3op: interrupted; workers stopped, temp files removed"


@runtime_checkable
class ResultSink(Protocol):
    """Where ``run_batch``'s results go, as they finish (always from the caller's thread)."""

    def emit(self, item: Emitted) -> None:
        """One result, or the objects one listing page found (``jobs.Found``: ok
        results in compact form; ``Found.results()`` gives them as ``Result``s)."""

    def flush(self) -> None:
        """Once per scheduler wake-up: what was emitted so far should leave now."""


class LineSink:
    """Result lines (JSON, one a result) to a text stream: the command line's
    stdout, ``s3op serve``'s connection."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def emit(self, item: Emitted) -> None:
        """Write one result line (a listing page's: its lines)."""
        self.stream.write(item.lines() if isinstance(item, jobs.Found) else item.to_json() + "\n")

    def flush(self) -> None:
        """Results are flushed once per wake-up, not per line: a flush releases
        the GIL, and getting it back from busy workers costs up to the
        interpreter's switch interval each time."""
        self.stream.flush()


class CallbackSink:
    """Each result to a function, a listing page's objects one ``Result`` at a time."""

    def __init__(self, receive: Callable[[Result], None]) -> None:
        self.receive = receive

    def emit(self, item: Emitted) -> None:
        """Hand ``item`` on as ``Result``s."""
        for result in item.results() if isinstance(item, jobs.Found) else (item,):
            self.receive(result)

    def flush(self) -> None:
        """Nothing is held back."""


def run_batch(
    op: str,
    requests: Iterable[Request],
    options: BatchOptions,
    sink: Union[ResultSink, Callable[[Result], None]],
) -> ExitCode:
    """Run ``op`` on every request; each result goes to ``sink``; the batch's exit code.

    ``sink`` is a ``ResultSink`` or a function taking each ``Result``.
    ``BatchUsageError`` (nothing was sent) for a request of another op or
    unusable client settings in the environment, or a journal
    (``options.journal``) of another batch (``s3op.journal``).
    """
    out = sink if isinstance(sink, ResultSink) else CallbackSink(sink)
    if options.journal is None:
        return _run_batch(op, requests, options, out)
    from s3op.resume import journaled

    batch = list(_checked(op, requests))  # a journal digests and checks the whole batch
    with journaled(op, batch, options, out, _sub_batch(options)) as (todo, recording):
        return _run_batch(op, todo, options, recording)


def _sub_batch(options: BatchOptions) -> Callable[[str, Sequence[Request], Callable], None]:
    """Runs another batch with ``options`` (no journal; a list: recursive), each
    result to a function: a journal's checks (``s3op.resume.SubBatch``)."""

    def run(op: str, requests: Sequence[Request], receive: Callable[[Result], None]) -> None:
        plain = dataclasses.replace(options, journal=None, recursive=op == "list")
        run_batch(op, requests, plain, receive)

    return run


def _run_batch(
    op: str, requests: Iterable[Request], options: BatchOptions, out: ResultSink
) -> ExitCode:
    stream = _checked(op, requests)
    first = list(itertools.islice(stream, IN_PROCESS_MAX + 1))  # refused here: nothing sent
    count = len(requests) if isinstance(requests, Sized) else len(first)
    batch = itertools.chain(first, stream)
    if op == "sync":  # a few requests, each planned from listings as it runs (s3op.sync)
        from s3op.sync.run import run_sync

        with bandwidth.capped(options.max_bandwidth):
            return run_sync(list(batch), options, out)  # type: ignore[arg-type]
    processes = worker_processes(options.pool.num_workers, _size_hint(op, count, options))
    default = default_threads(op, count)
    threads = options.pool.threads or threads_per_process(default, processes)
    settings = batch_settings(options)
    window = window_max(op, threads)  # requests in flight a worker may grow to
    config = client_config_for(options, threads, window + threads)
    runner = OpWorker(config, retry_policy(options), settings)
    # one thread to start: it gathers a burst of small requests; more start as work
    # waits and no thread is idle (``s3op.job_threads``)
    pool = Pool(WorkerSpec(runner, threads, window, eager=1), processes)
    download = options.download
    scheduler = Scheduler(
        pool,
        settings,
        out.emit,
        options.allow_missing,
        download.destination,
        download.layout,
        flush=out.flush,
        observe=getattr(out, "observe", None),  # a progress sink counts listed objects
    )
    plan = lambda: plan_batch(scheduler, op, batch, options, count)  # noqa: E731
    with bandwidth.capped(options.max_bandwidth):  # before the pool forks: shared buckets
        return run_planned(scheduler, pool, plan)


def _checked(op: str, requests: Iterable[Request]) -> Iterator[Request]:
    """The requests, one at a time; ``BatchUsageError`` for an unknown op (at
    once) or, when it is reached, a request that is not of ``op``."""
    wanted = REQUEST_TYPES.get(op)
    if wanted is None:
        raise BatchUsageError(f"no such op {op!r} (ops: {', '.join(REQUEST_TYPES)})")
    return _of_type(op, wanted, requests)


def _of_type(op: str, wanted: type, requests: Iterable[Request]) -> Iterator[Request]:
    for req in requests:
        if not isinstance(req, wanted):
            raise BatchUsageError(f"a {op} batch cannot run a {type(req).__name__}")
        yield req


def _size_hint(op: str, count: int, options: BatchOptions) -> int:
    """How many jobs ``count`` requests may give (a recursive get or delete: many
    each; single deletes: one job per DeleteObjects)."""
    if op == "delete" and not options.recursive:
        return -(-count // delete_keys_per_job(count, options))  # one per request
    fans_out = op in ("get", "delete") and options.recursive
    return count * (RECURSIVE_FANOUT if fans_out else 1)


def worker_processes(num_workers: Optional[int], size_hint: int) -> int:
    """Worker processes for a batch of about ``size_hint`` results (0: in-process
    threads): as asked, else one per CPU for big batches on machines with enough CPUs."""
    if num_workers is not None:
        return num_workers
    cpus = os.cpu_count() or 1
    if size_hint <= IN_PROCESS_MAX or cpus < FORK_MIN_CPUS:
        return 0
    return cpus


def default_threads(op: str, count: int) -> int:
    """Threads a batch of ``count`` requests of ``op`` runs on when none were asked
    for: more for uploads and copies (they wait on the server), and for HEADs of a
    batch bigger than the default threads start with in flight (``INFO_THREADS``)."""
    if op == "info" and count > DEFAULT_THREADS * START_PER_THREAD:
        return INFO_THREADS
    return {"put": PUT_THREADS, "copy": COPY_THREADS}.get(op, DEFAULT_THREADS)


def threads_per_process(default: int, processes: int) -> int:
    """Threads per process when none were asked for: ``default`` in-process;
    forked workers share it out (never below DEFAULT_THREADS each), so a
    many-CPU machine does not run CPUs x 64 uploads at once."""
    if processes <= 1:
        return default
    return max(DEFAULT_THREADS, default // processes)


def batch_settings(options: BatchOptions) -> jobs.Settings:
    """The settings every op of the batch reads (``tmp_tag`` new for each run)."""
    return jobs.Settings(
        info=options.download.info,
        verify=options.download.verify,
        no_overwrite=not options.overwrite,
        may_repeat=options.may_repeat,
        part_size=options.transfer.part_size,
        multipart_threshold=max(options.transfer.multipart_threshold, 1),
        tmp_tag=os.urandom(6).hex(),  # 12 random hex digits; uuid costs ~2 ms of start-up
        file_mode=0o666 & ~current_umask(),
        dry_run=options.dry_run,
    )


def retry_policy(options: BatchOptions) -> RetryPolicy:
    """The batch's retry policy."""
    retry = options.retry
    return RetryPolicy(
        max_attempts=retry.retries,
        deadline=retry.deadline,
        inject_failure_rate=retry.inject_failure_rate,
    )


def client_config_for(options: BatchOptions, threads: int, connections: int = 0) -> ClientConfig:
    """The resolved client configuration, keeping at least ``connections`` idle
    connections (a request in flight each); unusable settings are a usage error."""
    try:
        config = client_config(options.role, threads, options.retry.deadline, options.credentials)
    except ValueError as exc:
        raise BatchUsageError(str(exc)) from None
    kept = max(config.max_pool_connections, connections)
    return dataclasses.replace(config, max_pool_connections=kept)


# ------------------------------------------------------------------ running


def run_planned(scheduler: Scheduler, pool: Pool, plan: Callable[[], None]) -> ExitCode:
    """Plan, start the pool, run the scheduler; an interrupt stops the workers
    and sweeps this run's temp files (``ExitCode.INTERRUPTED``)."""
    with _sigterm_as_interrupt():
        try:
            plan()
            pool.start()
            code = scheduler.run()
            pool.shutdown()
            return code
        except KeyboardInterrupt:
            pool.shutdown(kill=True)
            scheduler.sweep()
            return ExitCode.INTERRUPTED
        except BaseException:  # the sink's stream broke, say: no worker outlives the run
            pool.shutdown(kill=True)
            raise


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt meanwhile (in the main thread only: only
    there are signals delivered, and handlers set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


__all__ = [
    "INTERRUPTED_NOTE",
    "CallbackSink",
    "Emitted",
    "LineSink",
    "ResultSink",
    "batch_settings",
    "client_config_for",
    "retry_policy",
    "run_planned",
    "run_batch",
    "default_threads",
    "threads_per_process",
    "worker_processes",
]

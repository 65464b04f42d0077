"""Many machines: a manifest's shards run on a Dask cluster, results come back once each.

``DaskRun(op, manifest, options, shard_size, ordered)`` first reads
the whole manifest, streaming, and checks every line (``plan_shards``): a
bad line is a ``BatchUsageError`` raised by the constructor, before any
shard runs. ``outputs(client)`` then sends the shards to the cluster, a few at a
time (twice the cluster's threads, so the manifest is never held whole:
each shard's bytes are read as it is sent), and yields each shard's
``ShardOutput`` as it completes (``distributed.as_completed``), or in
manifest order (idx order: a manifest's idx ascend) with ``ordered``
(shards finished early wait in a buffer, and sending stops while that
buffer is full).

Each shard is one task: ``s3op.shards.run_shard``, which calls
``s3op.run_batch`` on the worker and returns every result line of the
shard at once. So a shard's lines reach the caller whole or not at all, and
exactly once: a task whose worker died is run again elsewhere by Dask
(a worker death is counted by the scheduler's ``allowed-failures``; an
exception in the task by ``retries=``), and only the run that finished is
delivered. A shard lost for good (its workers kept dying) gives one
``worker_died`` failure per request instead (another exception: ``internal``),
so every request still gets its line and the exit code says so.

Nothing secret travels in a task: ``shard_options`` drops the credential
cache, and the workers resolve credentials and client parameters from
their own environment (``AWS_*``, ``S3OP_SESSION_VARS``,
``S3OP_CLIENT_PARAMS``, profiles, instance roles). The task carries the op,
the shard's manifest bytes and plain options only.

Each task first stops the worker's sampling profiler, on Python before
3.12 (``run_shard_on_worker``). Dask's profiler calls ``sys._current_frames()``
every 10 ms in the worker's event loop thread; in CPython 3.11 that holds
the runtime's thread-list lock while it builds frame objects, a garbage
collection there can run Python code (Dask's own gc callback) and so hand
the GIL to another thread, and a shard's engine threads, which start and
end with every shard, take that lock with the GIL held: each waits for the
other for ever (CPython issue 106883). The worker's event loop then stops:
no heartbeat, no task result, until the scheduler restarts the worker
(``worker-ttl``, 5 minutes by default). It was seen in the 100,000-object
benchmark, and again at 20,000 objects on the 26th run (py-spy: the loop
thread in ``_current_frames`` -> gc callback, waiting for the GIL; an engine
thread in ``Thread.start`` waiting for that lock). Python 3.12 runs the
collector only between bytecodes, not inside ``_current_frames``.

dask is imported here only: ``import s3op`` does not need it.
"""

from __future__ import annotations

import sys
import threading
import uuid
from typing import IO, Any, Dict, Iterator, List

from distributed import Client, Future, as_completed, get_worker
from distributed.scheduler import KilledWorker

from s3op.options import BatchOptions, BatchUsageError
from s3op.protocol import REQUEST_TYPES, ErrorKind, ExitCode, worst_exit
from s3op.shards import (
    DEFAULT_SHARD_SIZE,
    Shard,
    ShardOutput,
    lost_shard,
    plan_shards,
    read_shard,
    run_shard,
    shard_options,
)


def refuse_on_cluster(options: BatchOptions) -> None:
    """``BatchUsageError`` for options a cluster run cannot honour: a bandwidth cap
    (it is one engine's, and shards share worker processes) and a journal (one file
    per batch; shards run at once and are re-run whole by Dask instead)."""
    if options.max_bandwidth is not None:
        raise BatchUsageError("--max-bandwidth caps one engine; it does not apply with --dask")
    if options.journal is not None:
        raise BatchUsageError("--journal resumes one engine's batch; with --dask, shards re-run")


#: Times Dask runs a shard again after an exception in it (a worker's death is
#: counted apart, by the scheduler's ``distributed.scheduler.allowed-failures``).
SHARD_RETRIES = 2
#: Shards sent ahead per thread of the cluster: enough that no worker waits for
#: its next shard, few enough that the manifest is never held whole.
SHARDS_PER_THREAD = 2


class DaskRun:
    """One batch on a Dask cluster; ``outputs(client)`` runs it, ``exit_code`` sums it up."""

    def __init__(
        self,
        op: str,
        manifest: IO[bytes],
        options: BatchOptions,
        shard_size: int = DEFAULT_SHARD_SIZE,
        ordered: bool = False,
    ) -> None:
        """Check the whole ``manifest`` (binary, seekable) now: ``BatchUsageError``
        for a bad line, before any shard runs."""
        if op not in REQUEST_TYPES:
            raise BatchUsageError(f"no such op {op!r} (ops: {', '.join(REQUEST_TYPES)})")
        refuse_on_cluster(options)
        self.op = op
        self.manifest = manifest
        self.options = shard_options(options)
        self.plan = plan_shards(op, manifest, shard_size)
        self.ordered = ordered
        self.recursive = options.recursive
        self.exit_code = ExitCode.OK
        self._tag = uuid.uuid4().hex[:12]

    def outputs(self, client: Client) -> Iterator[ShardOutput]:
        """Run every shard on ``client``'s cluster; each one's output, once, as it
        completes (in manifest order if asked)."""
        self.client = client
        self._window = max(2, SHARDS_PER_THREAD * sum(self.client.nthreads().values()))
        self._next = 0  # the next shard to send
        self._running: Dict[Future, Shard] = {}
        self._done = as_completed()
        buffer: Dict[int, ShardOutput] = {}
        following = 0  # the next shard to deliver, when ordered
        try:
            self._send(following)
            for future in self._done:
                output = self._collect(future, self._running.pop(future))
                if not self.ordered:
                    yield self._counted(output)
                else:
                    buffer[output.index] = output
                    while following in buffer:
                        yield self._counted(buffer.pop(following))
                        following += 1
                self._send(following)
        finally:
            if self._running:  # stopped early (an interrupt, a broken pipe): drop the rest
                self.client.cancel(list(self._running))

    def _send(self, following: int) -> None:
        """Submit shards until ``window`` run (ordered: none more than ``window``
        past the next one due, so the buffer of early shards stays bounded)."""
        shards = self.plan.shards
        while len(self._running) < self._window and self._next < len(shards):
            if self.ordered and self._next >= following + self._window:
                return
            shard = shards[self._next]
            self._next += 1
            future = self.client.submit(
                run_shard_on_worker,
                self.op,
                shard,
                read_shard(self.manifest, shard),
                self.options,
                key=f"s3op-{self.op}-{self._tag}-{shard.index}",
                retries=SHARD_RETRIES,
                pure=False,
            )
            self._running[future] = shard
            self._done.add(future)

    def _collect(self, future: Future, shard: Shard) -> ShardOutput:
        """The shard's output, or one failure per request if it was lost for good."""
        try:
            output: ShardOutput = future.result()
            return output
        except KilledWorker as exc:
            message = f"shard {shard.index} lost: its workers died ({exc})"
            return self._lost(shard, ErrorKind.WORKER_DIED, message)
        except Exception as exc:  # noqa: BLE001 - any error on the worker loses the shard
            message = f"shard {shard.index} failed: {type(exc).__name__}: {exc}"
            return self._lost(shard, ErrorKind.INTERNAL, message)
        finally:
            future.release()

    def _lost(self, shard: Shard, kind: ErrorKind, message: str) -> ShardOutput:
        return lost_shard(self.op, shard, read_shard(self.manifest, shard), kind, message)

    def _counted(self, output: ShardOutput) -> ShardOutput:
        self.exit_code = worst_exit(self.exit_code, output.exit_code)
        return output


def run_shard_on_worker(op: str, shard: Shard, text: bytes, options: BatchOptions) -> ShardOutput:
    """``run_shard`` as a Dask task: the worker's sampling profiler stopped first where
    it can deadlock the worker (Python < 3.12: see the module's doc)."""
    if PROFILER_DEADLOCKS:
        stop_sampling_profiler()
    return run_shard(op, shard, text, options)


#: Whether Dask's sampling profiler can deadlock a worker whose threads come and go.
PROFILER_DEADLOCKS = sys.version_info < (3, 12)
#: The worker's periodic callbacks of its sampling profiler.
_PROFILER_CALLBACKS = ("profile", "profile-cycle")


def stop_sampling_profiler(timeout: float = 10.0) -> None:
    """Stop this Dask worker's sampling profiler (from a task's thread: the worker's
    event loop does it, and this waits until it has); nothing outside a worker."""
    try:
        worker = get_worker()
    except ValueError:
        return
    running = [
        callback
        for name, callback in worker.periodic_callbacks.items()
        if name in _PROFILER_CALLBACKS and callback.is_running()
    ]
    if not running:
        return
    stopped = threading.Event()

    def stop() -> None:
        for callback in running:
            callback.stop()
        stopped.set()

    worker.loop.add_callback(stop)
    stopped.wait(timeout)


def connect(address: str) -> Client:
    """A client of the Dask scheduler at ``address``; ``BatchUsageError`` if none answers."""
    try:
        return Client(address, timeout=30)
    except (OSError, TimeoutError) as exc:
        message = f"no Dask scheduler at {address}: {exc}"
        raise BatchUsageError(message, param_hint="'--dask'") from None


def keyword_options(**values: Any) -> BatchOptions:
    """``BatchOptions`` from keyword values named as ``s3op``'s options (``threads``,
    ``overwrite``, ...); TypeError for a name no option has."""
    from s3op.cli_options import OPTIONS_OF
    from s3op.options import options_from_values

    known = {spec.dest for specs in OPTIONS_OF.values() for spec in specs} - _NOT_OPTIONS
    unknown: List[str] = sorted(set(values) - known)
    if unknown:
        raise TypeError(f"unknown option(s) {unknown}; options: {sorted(known)}")
    return options_from_values(values)


#: Option names that are not batch options (what runs, and where).
_NOT_OPTIONS = frozenset({"inputs", "dask", "shard_size", "ordered"})


__all__ = [
    "PROFILER_DEADLOCKS",
    "SHARD_RETRIES",
    "DaskRun",
    "connect",
    "keyword_options",
    "run_shard_on_worker",
    "stop_sampling_profiler",
]

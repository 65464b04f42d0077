"""Carrying out a sync: its planned actions become jobs on the batch's scheduler.

``run_sync`` is what ``run_batch`` calls for the ``sync`` op. Each
``SyncRequest`` is checked first (``spec.sync_problem``: a bad one refuses
the batch, exit 2, before anything is done), then planned key by key
(``streams.Planner``) and carried out:

- put / get: the ordinary ``PutJob`` / get of the batch engine (verified,
  and for gets written to a temp file renamed into place);
- copy / delete of objects: the engine's copy and delete jobs;
- delete of a local file: unlinked here, in the parent;
- skip, and what cannot be done (a name that is not UTF-8, a key that
  cannot be a file name): a result line at once.

Every result line carries ``action`` (``put``, ``get``, ``copy``,
``delete``, ``skip``) and the ``idx`` of its sync request; ``url`` is the
S3 object concerned (the destination's for put and copy, the source's for
get; a local delete names the source URL the file would have had) and
``local`` the local file, if any. With ``dry_run`` every line is made and
marked ``dry``, and nothing is changed.
"""

from __future__ import annotations

import functools
import itertools
import os
from dataclasses import replace
from typing import (
    TYPE_CHECKING,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Tuple,
)

from s3op import jobs
from s3op.client import make_client
from s3op.errors import classify_local
from s3op.ops.runner import OpWorker
from s3op.options import PUT_THREADS, BatchOptions, BatchUsageError
from s3op.pool import Pool, WorkerSpec
from s3op.protocol import (
    SYNC_ORDER_ENV,
    CopyRequest,
    ErrorKind,
    ExitCode,
    GetRequest,
    PutRequest,
    Result,
)
from s3op.retry import RetryPolicy
from s3op.scheduler import Scheduler
from s3op.sync.entries import ORDERS, KeyOrder, SyncAborted
from s3op.sync.plan import COPY, DELETE, FAIL, GET, PUT, SKIP, Action
from s3op.sync.spec import SyncRequest, sync_problem
from s3op.sync.streams import Planner
from s3op.throttle import window_max
from s3op.transport import Transport

if TYPE_CHECKING:
    from s3op.batch import Emitted, ResultSink

#: One step of a sync's plan: an action, or None when the request's plan is done.
Step = Tuple[Planner, Optional[Action]]
#: Results a sync is guessed to give, when sizing the pool (as a recursive get's).
SIZE_HINT = 1000
#: Keys per DeleteObjects of a sync: S3 takes 1,000, but a server deletes one
#: request's keys one after another, so smaller requests spread over the threads
#: (``plans.delete_keys_per_job`` measured it for s3op delete).
DELETE_KEYS = 100
#: The action of a request's failure that is no one key's (a listing that failed).
PLAN = "plan"


def check_requests(requests: Iterable[SyncRequest]) -> None:
    """``BatchUsageError`` for the first request that cannot run."""
    for req in requests:
        problem = sync_problem(req.src, req.dst, req.compare)
        if problem is not None:
            raise BatchUsageError(f"sync {req.src} {req.dst}: {problem}", param_hint="SRC DST")


def listing_order(environ: Mapping[str, str]) -> KeyOrder:
    """The key order of the store's listings: ``$S3OP_SYNC_ORDER`` (``byte``, S3's, by
    default; ``path`` for stores listing trees depth first, as SeaweedFS does)."""
    name = environ.get(SYNC_ORDER_ENV) or "byte"
    if name not in ORDERS:
        wanted = " or ".join(ORDERS)
        raise BatchUsageError(f"${SYNC_ORDER_ENV} is {name!r}: it must be {wanted}")
    return ORDERS[name]


class SyncRun:
    """The actions of a batch's syncs, turned into jobs and result lines."""

    def __init__(
        self,
        scheduler: Optional[Scheduler],
        emit_ok: Callable[[Result], None],
        dry_run: bool = False,
    ) -> None:
        self._scheduler = scheduler
        self.emit_ok = emit_ok  # an ok line, straight out (it cannot change the exit code)
        self.dry_run = dry_run
        self.owners: Dict[int, Tuple[int, str]] = {}  # job idx -> (request idx, action)
        self.ids = itertools.count()
        self.deletes: List[Tuple[int, str]] = []  # (job idx, url) not yet sent

    @property
    def scheduler(self) -> Scheduler:
        """The batch's scheduler (set once it is built)."""
        assert self._scheduler is not None
        return self._scheduler

    @scheduler.setter
    def scheduler(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler

    def relabel(self, result: Emitted) -> Result:
        """A job's result as the sync's line: the request's idx, the action's name."""
        assert isinstance(result, Result)  # a sync runs no listing jobs
        idx, action = self.owners.pop(result.idx)
        return replace(result, idx=idx, action=action)

    def steps(
        self,
        requests: Iterable[SyncRequest],
        transport: Callable[[], Transport],
        policy: RetryPolicy,
        order: KeyOrder,
    ) -> Iterator[Step]:
        """Every request's actions, planned lazily (keys in ``order``), each request's
        closed by ``(planner, None)``. The transport is built on the first step: in
        the run, after the pool has started (a client never crosses a fork)."""
        built: Optional[Transport] = None
        for req in requests:
            built = built or transport()
            planner = Planner(req, built, policy, order=order)
            planner.on_unnamed = functools.partial(self.unnamed, planner)
            try:
                for action in planner.actions():
                    yield planner, action
            except SyncAborted as exc:
                failure = Result.failure(0, planner.req.src, ErrorKind(exc.kind), exc.message, 0)
                self._answer(planner, PLAN, failure)
            yield planner, None

    def take(self, step: Step) -> None:
        """Queue (or answer at once) one step's action; a request's end sends its deletes."""
        planner, action = step
        if action is None:
            self._flush_deletes(planner)
        else:
            self._do(planner, action)

    def unnamed(self, planner: Planner, path: str) -> None:
        """A source file whose name is not UTF-8: a failed line, nothing moved."""
        message = f"{path!r}: the file name is not UTF-8, so it cannot be an S3 key"
        self._answer(planner, PUT, Result.failure(0, path, ErrorKind.LOCAL_FILE_ERROR, message, 0))

    def _do(self, planner: Planner, action: Action) -> None:
        url, local = self._names(planner, action)
        idx = planner.req.idx
        if action.kind == SKIP:  # most lines of a sync run again: made once, no relabel
            size = action.src.size if action.src is not None else None
            self.emit_ok(Result(idx, url, local=local, size=size, skipped=action.reason,
                                action=SKIP))  # fmt: skip
        elif action.kind == FAIL:
            kind = ErrorKind(action.error_kind)
            self._answer(planner, planner.move, Result.failure(0, url, kind, action.reason, 0))
        elif self.dry_run:
            self.emit_ok(self._dry(idx, action, url, local))
        else:
            self._start(planner, action, url, local)

    def _dry(self, idx: int, action: Action, url: str, local: Optional[str]) -> Result:
        entry = action.src if action.src is not None else action.dst
        size = entry.size if entry is not None else None
        return Result(idx, url, local=local, size=size, action=action.kind, dry=True)

    def _start(self, planner: Planner, action: Action, url: str, local: Optional[str]) -> None:
        idx = self._own(planner, action.kind)
        if action.kind == PUT:
            assert local is not None
            self.scheduler.add(jobs.PutJob(PutRequest(idx, url, local)))
        elif action.kind == GET:
            self.scheduler.add_get(GetRequest(idx, url, local=local))
        elif action.kind == DELETE and planner.dst.local is not None:
            assert local is not None
            self.scheduler.emit(_unlink(idx, url, local))
        else:
            self._remote(planner, action, idx, url)

    def _remote(self, planner: Planner, action: Action, idx: int, url: str) -> None:
        """A server-side copy, or a delete (batched: up to 1,000 keys per DeleteObjects)."""
        if action.kind == COPY:
            source = planner.url(planner.src, action.key)
            self.scheduler.add(jobs.CopyJob(CopyRequest(idx, url, source)))
            return
        self.deletes.append((idx, url))
        if len(self.deletes) >= DELETE_KEYS:
            self._flush_deletes(planner)

    def _flush_deletes(self, planner: Planner) -> None:
        if self.deletes:
            self.scheduler.add(jobs.DeleteJob(planner.dst.bucket, tuple(self.deletes)))
            self.deletes = []

    def _names(self, planner: Planner, action: Action) -> Tuple[str, Optional[str]]:
        """(the S3 URL, the local path or None) of ``action``'s key."""
        s3_side = planner.src if planner.move == GET else planner.dst
        local_side = planner.dst if planner.move == GET else planner.src
        url = planner.url(s3_side, action.key)
        if local_side.local is None:
            return url, None
        return url, planner.url(local_side, action.key)

    def _own(self, planner: Planner, action: str) -> int:
        idx = next(self.ids)
        self.owners[idx] = (planner.req.idx, action)
        return idx

    def _answer(self, planner: Planner, action: str, result: Result) -> None:
        self.scheduler.emit(replace(result, idx=self._own(planner, action)))


def _unlink(idx: int, url: str, path: str) -> Result:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass  # gone already: what was asked
    except OSError as exc:
        kind, message = classify_local(exc, path)
        return Result.failure(idx, url, kind, message, 1)
    return Result(idx, url, local=path)


def run_sync(requests: List[SyncRequest], options: BatchOptions, out: ResultSink) -> ExitCode:
    """Run every sync of the batch, one after the other, on one pool; each line to ``out``."""
    from s3op import batch  # the batch's machinery (batch imports this module on use)

    check_requests(requests)
    order = listing_order(os.environ)
    processes = batch.worker_processes(options.pool.num_workers, SIZE_HINT)
    threads = options.pool.threads or batch.threads_per_process(PUT_THREADS, processes)
    settings = batch.batch_settings(options)
    policy = batch.retry_policy(options)
    window = window_max("sync", threads)  # its downloads go many a thread, as a get's
    config = batch.client_config_for(options, threads, window + threads)
    pool = Pool(WorkerSpec(OpWorker(config, policy, settings), threads, window), processes)
    syncing = SyncRun(None, out.emit, options.dry_run)
    scheduler = Scheduler(pool, settings, lambda r: out.emit(syncing.relabel(r)), flush=out.flush)
    syncing.scheduler = scheduler

    steps = syncing.steps(requests, lambda: make_client(config), policy, order)

    def plan() -> None:
        scheduler.feed(steps, syncing.take)  # read as the pool has room, once it runs

    return batch.run_planned(scheduler, pool, plan)


__all__ = ["PLAN", "SyncRun", "check_requests", "run_sync"]

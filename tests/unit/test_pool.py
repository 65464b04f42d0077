"""s3op.pool.Pool with real forked workers: answers, deaths, replacements, shutdown.

The workers' client points at 127.0.0.1:9, where nothing listens, so a
request fails at once with a connection error; no S3 server is needed.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
import time
from typing import Any, Iterator, List, Optional, Tuple

import pytest

from s3op import jobs
from s3op.channel import SHUTDOWN_SIGNAL, Channel
from s3op.client import ClientConfig, Credentials
from s3op.ops.runner import OpRunner, OpWorker
from s3op.pool import Died, Done, Pool, Worker
from s3op.protocol import ErrorKind, InfoRequest, Result
from s3op.retry import RetryPolicy
from s3op.worker import WorkerSpec, _gather

UNREACHABLE = {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"}


def spec(policy: RetryPolicy) -> WorkerSpec:
    config = ClientConfig(
        client_params=dict(UNREACHABLE),
        credentials=Credentials("testing", "testing"),
        connect_timeout=2.0,
        read_timeout=2.0,
    )
    return WorkerSpec(OpWorker(config, policy, jobs.Settings()), threads=2)


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def poll_until(pool: Pool, want: type, rounds: int = 60) -> List[Any]:
    """Poll until an event of type ``want`` arrives; return every event seen."""
    seen: List[Any] = []
    for _ in range(rounds):
        seen.extend(pool.poll(timeout=1.0))
        if any(isinstance(e, want) for e in seen):
            return seen
    raise AssertionError(f"no {want.__name__} event after {rounds} polls: {seen}")


@pytest.fixture
def started(isolated_env: pytest.MonkeyPatch) -> Iterator[List[Pool]]:
    pools: List[Pool] = []
    yield pools
    for pool in pools:
        pool.shutdown(kill=True, grace=2.0)


def start(pools: List[Pool], policy: RetryPolicy) -> Pool:
    pool = Pool(spec(policy), processes=2)
    pools.append(pool)
    pool.start()
    return pool


def info_job(idx: int) -> jobs.InfoJob:
    return jobs.InfoJob(InfoRequest(idx=idx, url=f"s3://bkt/k{idx}"))


def test_a_worker_answers_a_job(started: List[Pool]) -> None:
    pool = start(started, RetryPolicy(max_attempts=1))
    assert pool.free_slots() == 2 * 2 * 2  # two workers, 2 threads, 2 jobs a thread
    pool.submit(7, info_job(3))
    assert pool.busy()
    events = poll_until(pool, Done)
    (done,) = [e for e in events if isinstance(e, Done)]
    assert done.job_id == 7
    assert isinstance(done.outcome, Result)
    assert (done.outcome.idx, done.outcome.url) == (3, "s3://bkt/k3")
    assert done.outcome.error is not None
    assert done.outcome.error.kind is ErrorKind.TRANSIENT  # connection refused
    assert not pool.busy()


def test_a_killed_worker_is_reported_with_its_jobs_and_replaced(started: List[Pool]) -> None:
    # Many slow retries keep the jobs in flight until the worker is killed.
    pool = start(started, RetryPolicy(max_attempts=1000, base=1.0, cap=1.0, deadline=600))
    pids = pool.pids()
    assert len(pids) == 2 and all(alive(p) for p in pids)

    pool.submit(1, info_job(1))
    pool.submit(2, info_job(2))
    pool.submit(3, info_job(3))
    by_pid = {w.process.pid: sorted(w.inflight) for w in pool.workers}
    victim = max(by_pid, key=lambda pid: len(by_pid[pid]))
    survivor = next(p for p in pids if p != victim)
    assert by_pid[victim]  # the victim has jobs in flight

    os.kill(victim, signal.SIGKILL)
    events = poll_until(pool, Died)
    (died,) = [e for e in events if isinstance(e, Died)]
    assert sorted(job_id for job_id, _ in died.jobs) == by_pid[victim]
    assert {job.req.idx for _, job in died.jobs} == set(by_pid[victim])
    assert died.exitcode == -signal.SIGKILL
    assert not any(isinstance(e, Done) for e in events)

    now = pool.pids()
    assert len(now) == 2
    assert victim not in now and survivor in now
    replacement = next(p for p in now if p != survivor)
    assert alive(replacement)
    # The dead worker's jobs are no longer counted as in flight; the others are.
    assert sorted(j for w in pool.workers for j in w.inflight) == by_pid[survivor]

    pool.shutdown(kill=True, grace=5.0)
    assert pool.pids() == []
    assert multiprocessing.active_children() == []
    assert not any(alive(p) for p in (victim, survivor, replacement))


def test_shutdown_of_an_idle_pool_leaves_no_children(started: List[Pool]) -> None:
    pool = start(started, RetryPolicy(max_attempts=1))
    pids = pool.pids()
    pool.submit(1, info_job(1))
    poll_until(pool, Done)
    pool.shutdown()
    assert multiprocessing.active_children() == []
    assert not any(alive(p) for p in pids)


def test_in_process_pool_answers_jobs(started: List[Pool]) -> None:
    pool = Pool(spec(RetryPolicy(max_attempts=1)), processes=0)
    started.append(pool)
    pool.start()
    assert pool.pids() == []
    pool.submit(1, info_job(1))
    events = poll_until(pool, Done)
    assert [e.job_id for e in events if isinstance(e, Done)] == [1]
    pool.shutdown()


def bad_endpoint_spec() -> WorkerSpec:
    config = ClientConfig(
        client_params={"endpoint_url": "not a url", "region_name": "us-east-1"},
        credentials=Credentials("testing", "testing"),
    )
    return WorkerSpec(OpWorker(config, RetryPolicy(max_attempts=1), jobs.Settings()), threads=2)


def wait_until_dead(pid: int) -> None:
    """Wait (bounded) until ``pid`` has exited; not a timing assertion, just a wait."""
    for _ in range(500):
        if not alive(pid):
            return
        time.sleep(0.01)
    raise AssertionError(f"worker {pid} did not die")


def test_submitting_to_a_worker_that_just_died_hands_the_job_back(started: List[Pool]) -> None:
    pool = start(started, RetryPolicy(max_attempts=1))
    victim = pool.workers[0].process.pid
    os.kill(victim, signal.SIGKILL)
    wait_until_dead(victim)
    pool.submit(1, info_job(1))  # the least busy worker: the dead one
    events = poll_until(pool, Died)
    handed_back = [job_id for e in events if isinstance(e, Died) for job_id, _ in e.jobs]
    answered = [e.job_id for e in events if isinstance(e, Done)]
    assert handed_back + answered == [1]


def test_an_in_process_worker_that_cannot_build_a_client_answers_its_jobs(
    started: List[Pool],
) -> None:
    pool = Pool(bad_endpoint_spec(), processes=0)
    started.append(pool)
    pool.start()
    pool.submit(1, info_job(1))
    events = poll_until(pool, Done, rounds=30)  # an in-process poll waits 0.1 s at most
    assert [e.job_id for e in events if isinstance(e, Done)] == [1]


def run_to_end(pool: Pool, todo: List[Tuple[int, Any]]) -> List[int]:
    """Submit ``todo`` as slots free up and poll until nothing is in flight;
    the ids of the jobs answered (Done), in the order they came."""
    answered: List[int] = []
    for _ in range(500):
        while todo and pool.free_slots() > 0:
            pool.submit(*todo.pop())
        if not todo and not pool.busy():
            break
        answered.extend(e.job_id for e in pool.poll(timeout=1.0) if isinstance(e, Done))
    return answered


def test_in_process_pool_answers_every_job_once_without_pickling(started: List[Pool]) -> None:
    """Jobs reach in-process threads by reference: an unpicklable job still runs,
    which a pipe (the forked workers' link) could not carry."""
    pool = Pool(spec(RetryPolicy(max_attempts=1)), processes=0)
    started.append(pool)
    before = set(threading.enumerate())
    pool.start()
    ours = [t for t in threading.enumerate() if t not in before]
    unpicklable = jobs.InfoJob(InfoRequest(idx=99, url="s3://bkt/unpicklable"))
    object.__setattr__(unpicklable, "extra", lambda: None)  # lambdas do not pickle
    todo = [(99, unpicklable)] + [(i, info_job(i)) for i in range(40)]
    answered = run_to_end(pool, todo)
    assert sorted(answered) == list(range(40)) + [99]
    pool.shutdown()
    for thread in ours:  # the worker and its job threads see the shutdown and end
        thread.join(timeout=5)
    assert ours and not any(t.is_alive() for t in ours)


# ------------------------------------------------- the in-process channel


def woken(channel: Channel) -> bool:
    """True if the parent's wait on ``channel`` would return now."""
    return bool(select.select([channel], [], [], 0)[0])


def drain(channel: Channel) -> List[Any]:
    got = []
    while channel.poll():
        got.append(channel.recv())
    return got


def done(n: int) -> Tuple[int, Result]:
    """A worker's message for job ``n``: a plain result (no follow-up work)."""
    return n, Result(idx=n, url=f"s3://bkt/{n}")


def test_channel_wakes_the_parent_once_per_batch_while_the_inbox_is_full() -> None:
    channel = Channel(batch=4)
    try:
        for n in range(10):
            channel.send((n, "job"))  # 10 waiting: the threads have work
        for n in range(3):
            channel.inbox.get()
            channel.worker_end.send(done(n))
            assert not woken(channel), f"woken after {n + 1} outcomes"
        channel.inbox.get()
        channel.worker_end.send(done(3))
        assert woken(channel)
        assert [job_id for job_id, _ in drain(channel)] == [0, 1, 2, 3]
        assert not woken(channel)
    finally:
        channel.close()


def test_channel_wakes_the_parent_for_every_outcome_once_the_inbox_runs_low() -> None:
    """The threads must never run dry, and the last outcomes are never held."""
    channel = Channel(batch=4)
    try:
        for n in range(5):
            channel.send((n, "job"))
        channel.inbox.get()  # 4 left: as low as the batch
        channel.worker_end.send(done(0))
        assert woken(channel)
        assert drain(channel) == [done(0)]
        for n in range(1, 5):
            channel.inbox.get()
            channel.worker_end.send(done(n))
            assert woken(channel), f"outcome {n} held back with {4 - n} jobs left"
            assert drain(channel) == [done(n)]
    finally:
        channel.close()


@pytest.mark.parametrize(
    "outcome",
    [
        jobs.PartDone(number=3),
        jobs.SplitPut(upload_id="u", size=10),
        [Result(idx=1, url="s3://bkt/a")],  # a listing page's objects
    ],
)
def test_an_outcome_that_makes_more_work_wakes_the_parent_at_once(outcome: Any) -> None:
    channel = Channel(batch=4)
    try:
        for n in range(10):
            channel.send((n, "job"))
        channel.worker_end.send((0, outcome))
        assert woken(channel)
    finally:
        channel.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("timeout", [0.05, None])
def test_poll_takes_held_outcomes_without_a_wake_up(
    started: List[Pool], timeout: Optional[float]
) -> None:
    """An outcome held back (inbox still full) is taken when the poll's timeout
    passes, and within ``HELD_MAX`` whatever the caller's timeout (None: for ever):
    the scheduler's 1 s no longer delays a result line or the progress bar."""
    pool = Pool(spec(RetryPolicy(max_attempts=1)), processes=0)
    started.append(pool)
    channel = Channel(batch=4)
    pool.workers.append(Worker(channel, None, {n: info_job(n) for n in range(10)}))
    for n in range(10):
        channel.send((n, "job"))
    channel.inbox.get()
    channel.worker_end.send(done(0))
    assert not woken(channel)
    events = pool.poll(timeout=timeout)  # None without the bound: no wake-up ever comes
    assert [(e.job_id, e.outcome) for e in events] == [done(0)]
    assert 0 not in pool.workers[0].inflight


def test_in_process_pool_with_many_threads_answers_every_job(started: List[Pool]) -> None:
    """Batched wake-ups lose nothing: 16 threads (batch 8), 200 jobs, all answered."""
    base = spec(RetryPolicy(max_attempts=1))
    pool = Pool(WorkerSpec(base.runner, threads=16), processes=0)
    started.append(pool)
    pool.start()
    todo = [(i, info_job(i)) for i in range(200)]
    answered = run_to_end(pool, todo)
    assert sorted(answered) == list(range(200))
    pool.shutdown()


def _gets_runner() -> OpRunner:
    """A worker's runner whose transport has the fast path (nothing is sent here)."""
    fast = ("http://127.0.0.1:9", "us-east-1", True)
    config = ClientConfig(credentials=Credentials("testing", "testing"), fast=fast)
    return OpWorker(config, RetryPolicy(), jobs.Settings())(lambda: None, shared=False)


def _get(idx: int) -> Tuple[int, jobs.GetJob]:
    from s3op.protocol import GetRequest

    return idx, jobs.GetJob(GetRequest(idx=idx, url=f"s3://bkt/k{idx}"), f"/nonexistent/k{idx}")


def test_gathering_a_batch_leaves_a_shutdown_for_the_threads() -> None:
    """SHUTDOWN_SIGNAL is None, so it cannot be carried like a job: swallowed, the
    chain of threads passing it on would break and a thread would wait forever."""
    import queue

    from s3op.throttle import Throttle

    inbox: Any = queue.SimpleQueue()
    inbox.put(_get(2))
    inbox.put(SHUTDOWN_SIGNAL)
    inbox.put(_get(3))

    batch, carried = _gather(_gets_runner(), inbox, _get(1), Throttle(4))

    assert [job_id for job_id, _ in batch] == [1, 2] and carried is None
    left = [inbox.get_nowait() for _ in range(inbox.qsize())]
    assert SHUTDOWN_SIGNAL in left and [m[0] for m in left if m is not None] == [3]


def test_gathering_a_batch_carries_the_first_other_job_instead_of_requeueing_it() -> None:
    import queue

    from s3op.throttle import Throttle

    inbox: Any = queue.SimpleQueue()
    other = (9, info_job(9))
    for msg in (_get(2), other, _get(3)):
        inbox.put(msg)

    batch, carried = _gather(_gets_runner(), inbox, _get(1), Throttle(4))

    assert [job_id for job_id, _ in batch] == [1, 2] and carried is other
    assert inbox.get_nowait()[0] == 3 and inbox.empty()

"""A worker thread whose batchable job finds the window full waits for room.

Before: it sent the job alone (``Throttle.reserve`` granted at least one),
one request holding a thread for a whole round trip; about a fifth of a
1,000-copy or 1,000-HEAD batch went out that way. Now the job goes back to
the inbox and the thread waits (``Throttle.wait_for_room``) until a request
in flight ends; with nothing in flight, nothing waits.

The worker's real thread loop (``s3op.worker._serve``) and real
``Throttle`` run here, with the inbox filled before the threads start so
that who finds the window full is fixed: a stub runner whose batches stay
in flight until the test lets them end, and the real ``OpRunner`` copying
and HEADing on moto. Every wait has a timeout: a hang fails, never blocks.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from typing import Any, Callable, Iterator, List, Optional, Tuple, cast

import pytest

from s3op import jobs
from s3op.job_threads import JobThreads
from s3op.jobs import CopyJob, InfoJob, Outcome
from s3op.ops.runner import OpRunner, OpWorker
from s3op.protocol import CopyRequest, InfoRequest, Result
from s3op.throttle import Throttle
from s3op.worker import SHUTDOWN_SIGNAL, Answer, HandOff, Message, Runner, _serve
from tests.backends import Backend
from tests.conftest import make_s3backend_fixture
from tests.functional.batches import QUICK_RETRIES, fast_config

s3backend = make_s3backend_fixture("moto_server", "moto")

#: The longest any test waits for something that should take milliseconds.
PATIENCE = 10.0


def _until(ready: Callable[[], bool], timeout: float = PATIENCE) -> bool:
    """Poll ``ready`` until it holds or ``timeout`` passes; whether it held."""
    end = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > end:
            return False
        time.sleep(0.002)
    return True


class Gated:
    """A runner: tasks named ``b...`` batch; a batch's requests stay in flight
    until ``gate`` opens (``hold`` seconds more each, to let batches overlap).
    ``out`` and ``peak`` count batchable requests (the window's to bound: a job
    that cannot batch always runs, ``Throttle.reserve``)."""

    def __init__(self, batch_size: int, hold: float = 0.0) -> None:
        self.batch_size = batch_size
        self.hold = hold
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.batches: List[List[int]] = []
        self.alone: List[object] = []  # batchable tasks run one at a time
        self.out = self.peak = 0  # requests in flight now, and at most

    def run(self, task: object) -> Outcome:
        if self.batchable(task):
            with self.lock:
                self.alone.append(task)
            self._in_flight(1)
            time.sleep(self.hold)  # a lone request is out for a round trip too
            self._in_flight(-1)
        return Result(idx=0, url=str(task))

    def batchable(self, task: object) -> bool:
        return str(task).startswith("b")

    def run_batch(self, batch: List[Message], answer: Answer, hand_off: HandOff) -> bool:
        with self.lock:
            self.batches.append([job_id for job_id, _ in batch])
        self._in_flight(len(batch))
        self.gate.wait(PATIENCE)
        time.sleep(self.hold)
        self._in_flight(-len(batch))
        return all(answer(job_id, Result(idx=0, url=str(task))) for job_id, task in batch)

    def _in_flight(self, change: int) -> None:
        with self.lock:
            self.out += change
            self.peak = max(self.peak, self.out)


class Worker:
    """``threads`` threads of ``_serve`` on one inbox, filled before they start."""

    def __init__(self, runner: Runner, throttle: Throttle, tasks: List[object], threads: int):
        self.inbox: queue.SimpleQueue[Optional[Message]] = queue.SimpleQueue()
        for job_id, task in enumerate(tasks):
            self.inbox.put((job_id, task))
        self.lock = threading.Lock()
        self.answers: List[Tuple[int, Outcome]] = []
        fixed = JobThreads(0)  # these threads, no more
        self.threads = [
            threading.Thread(target=_serve, args=(runner, self.inbox, self.answer, throttle, fixed))
            for _ in range(threads)
        ]
        for t in self.threads:
            t.daemon = True
            t.start()

    def answer(self, job_id: int, outcome: Outcome) -> bool:
        with self.lock:
            self.answers.append((job_id, outcome))
        return True

    def stop(self) -> None:
        """Shut the threads down; each must end (none is left waiting for room)."""
        self.inbox.put(SHUTDOWN_SIGNAL)
        for t in self.threads:
            t.join(PATIENCE)
        assert not any(t.is_alive() for t in self.threads)

    def answered_once(self, count: int) -> List[Outcome]:
        """The outcomes, checked: every one of ``count`` jobs answered exactly once."""
        assert _until(lambda: len(self.answers) >= count)
        assert Counter(job_id for job_id, _ in self.answers) == Counter(range(count))
        return [outcome for _, outcome in sorted(self.answers, key=lambda a: a[0])]


def test_a_full_window_holds_batchable_jobs_back_and_sends_none_alone() -> None:
    """Window 16, batches of 8: two threads fill it; the other two put the job they
    took back and wait, and take the rest in batches once the first two end."""
    runner = Gated(batch_size=8)
    throttle = Throttle(4)  # a window of 16 (START_PER_THREAD x 4)
    worker = Worker(runner, throttle, [f"b{i}" for i in range(40)], threads=4)
    try:
        assert _until(
            lambda: len(runner.batches) == 2 and (bool(runner.alone) or _waiting(throttle) == 2)
        )
        assert runner.alone == []  # the old dispatch sent them alone, one by one
        assert worker.inbox.qsize() == 40 - 16  # the jobs taken were put back
        runner.gate.set()
        worker.answered_once(40)
    finally:
        runner.gate.set()
        worker.stop()
    assert runner.alone == [] and all(2 <= len(b) <= 8 for b in runner.batches)
    assert runner.peak <= 16 and throttle.in_flight == 0


def _waiting(throttle: Throttle) -> int:
    return int(getattr(throttle, "waiting", 0))


class Broken(Gated):
    """A runner whose first batch raises (a bug): its thread ends."""

    def run_batch(self, batch: List[Message], answer: Answer, hand_off: HandOff) -> bool:
        with self.lock:
            first = not self.batches
        if first:
            self.batches.append([])
            raise RuntimeError("a bug in a runner")
        return super().run_batch(batch, answer, hand_off)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_batch_that_raises_still_gives_its_room_back() -> None:
    """Else the thread waiting for that room would wait for ever."""
    runner = Broken(batch_size=2)
    runner.gate.set()
    throttle = Throttle(2, window=2)
    worker = Worker(runner, throttle, [f"b{i}" for i in range(6)], threads=2)
    assert _until(lambda: len(worker.answers) == 4)  # the first batch's two are lost
    assert sorted(job_id for job_id, _ in worker.answers) == [2, 3, 4, 5]
    worker.inbox.put(SHUTDOWN_SIGNAL)
    assert _until(lambda: not any(t.is_alive() for t in worker.threads))
    assert throttle.in_flight == 0


def test_a_job_that_cannot_batch_runs_though_the_window_is_full() -> None:
    runner = Gated(batch_size=8)
    throttle = Throttle(2, window=2)
    held = throttle.reserve(2)  # a batch elsewhere fills the window
    worker = Worker(runner, throttle, ["x0", "b1", "x2"], threads=2)
    try:
        assert _until(lambda: len(worker.answers) == 2)
        assert sorted(job_id for job_id, _ in worker.answers) == [0, 2]  # b1 waits
        throttle.finished(held, 0)
        worker.answered_once(3)
    finally:
        worker.stop()
    assert runner.alone == ["b1"]  # alone only once nothing else was out


def test_a_waiting_thread_wakes_when_a_request_in_flight_ends() -> None:
    throttle = Throttle(2, window=2)
    assert throttle.reserve_some(2) == 2
    assert throttle.reserve_some(1) == 0  # full, and requests are out: wait
    woken: List[bool] = []
    waiter = threading.Thread(target=lambda: woken.append(throttle.wait_for_room(PATIENCE)))
    waiter.start()
    assert _until(lambda: throttle.waiting == 1)
    time.sleep(0.1)
    assert woken == []  # still waiting
    throttle.finished(1, 1)
    waiter.join(PATIENCE)
    assert woken == [True]
    assert throttle.reserve_some(5) == 1  # the one request of room there is


def test_nothing_in_flight_never_waits() -> None:
    throttle = Throttle(1, window=1)
    assert throttle.reserve_some(5) == 1  # nothing out: at least one
    throttle.finished(1, 1)
    start = time.monotonic()
    assert throttle.wait_for_room(PATIENCE)
    assert time.monotonic() - start < 1.0


def test_everyone_waiting_wakes_when_the_last_request_ends_under_a_cut_window() -> None:
    """SlowDown halves the window below what is out; when all of it ends, every
    waiter wakes (one woken at a time could leave the others asleep)."""
    throttle = Throttle(4, window=4)
    assert throttle.reserve_some(4) == 4
    woken: List[bool] = []
    waiters = [
        threading.Thread(target=lambda: woken.append(throttle.wait_for_room(PATIENCE)))
        for _ in range(3)
    ]
    for w in waiters:
        w.start()
    assert _until(lambda: throttle.waiting == 3)
    throttle.slow_down()
    assert throttle.window.size == 2 and throttle.reserve_some(1) == 0
    throttle.finished(4, 4)
    for w in waiters:
        w.join(PATIENCE)
    assert woken == [True, True, True]


def test_slow_down_still_halves_what_the_threads_may_send() -> None:
    throttle = Throttle(4, window_max=64)  # 16 to start
    throttle.slow_down()
    assert (throttle.limit, throttle.window.size) == (2, 8)
    assert throttle.reserve_some(32) == 8
    assert throttle.reserve_some(1) == 0
    throttle.finished(8, 8)
    assert throttle.reserve_some(32) == 8


def test_every_job_is_answered_once_and_the_window_is_never_passed() -> None:
    """Many threads, a small window, batches ending at different times: no job is
    lost or answered twice, no thread is left waiting, and never more than the
    window is out (the old dispatch's lone sends went past it)."""
    runner = Gated(batch_size=3, hold=0.002)
    runner.gate.set()
    throttle = Throttle(8, window=4)
    tasks: List[object] = [f"b{i}" if i % 7 else f"x{i}" for i in range(400)]
    worker = Worker(runner, throttle, tasks, threads=8)
    try:
        worker.answered_once(len(tasks))
    finally:
        worker.stop()
    assert runner.peak <= 4
    assert throttle.in_flight == 0 and throttle.waiting == 0


# -- the real runner, on moto ----------------------------------------------------------


class CountingRunner(OpRunner):
    """The real ``OpRunner``, noting which batchable jobs it ran one at a time."""

    def __init__(self, inner: OpRunner) -> None:
        super().__init__(inner.ctx)
        self.alone: List[int] = []

    def run(self, task: object) -> Outcome:
        if self.batchable(task):
            self.alone.append(cast(Any, task).req.idx)
        return super().run(task)


def _runner(endpoint: str) -> CountingRunner:
    config, policy = fast_config(endpoint), QUICK_RETRIES
    built = OpWorker(config, policy, jobs.Settings(tmp_tag="dispatch"))(lambda: None, False)
    return CountingRunner(built)


def _copy_jobs(backend: Backend, count: int) -> Iterator[CopyJob]:
    client = backend.client()
    for i in range(count):
        key = f"src/{i:03d}"
        put = client.put_object(Bucket=backend.bucket, Key=key, Body=b"x" * (100 + i))
        req = CopyRequest(
            i,
            backend.root(f"dst/{i:03d}"),
            backend.root(key),
            source_size=100 + i,
            source_etag=put["ETag"],
        )
        yield CopyJob(req)


@pytest.mark.parametrize("op", ["copy", "info"])
def test_copies_and_heads_on_a_full_window_wait_and_go_out_batched(
    s3backend: Backend, op: str
) -> None:
    """W10 / W6 in small: the window is full (a batch elsewhere holds it) when four
    threads find 48 copies or HEADs waiting. None is sent until it has room, then
    all go out in batches, each answered once."""
    count = 48
    copies = list(_copy_jobs(s3backend, count))
    todo: List[Any] = copies
    if op == "info":
        todo = [InfoJob(InfoRequest(i, job.req.source)) for i, job in enumerate(copies)]
    runner = _runner(s3backend.endpoint_url)
    throttle = Throttle(4)  # a window of 16
    held = throttle.reserve(16)
    worker = Worker(runner, throttle, todo, threads=4)
    try:
        assert _until(lambda: bool(runner.alone) or _waiting(throttle) == 4)
        assert runner.alone == [] and worker.answers == []
        throttle.finished(held, 0)
        outcomes = worker.answered_once(count)
    finally:
        worker.stop()
    assert runner.alone == []
    assert all(isinstance(o, Result) and o.ok for o in outcomes)
    if op == "copy":
        listed = s3backend.client().list_objects_v2(Bucket=s3backend.bucket, Prefix="dst/")
        assert [o["Size"] for o in listed["Contents"]] == [100 + i for i in range(count)]
    else:
        assert [o.size for o in outcomes if isinstance(o, Result)] == [
            100 + i for i in range(count)
        ]

"""The scheduler's job source hook (``Scheduler.feed``): work is read lazily, a
window at a time, so a batch of any length waits in the memory of its window;
and ``run_batch`` hands its requests to it without holding them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, List

import pytest

from s3op import jobs
from s3op.batch import run_batch
from s3op.options import BatchOptions, BatchUsageError
from s3op.protocol import ExitCode, GetRequest, InfoRequest, Result

from .scheduler_fakes import FakePool, make_scheduler


def _answer(job: Any) -> Result:
    return Result(idx=job.req.idx, url=job.req.url, size=0)


class Counted:
    """A source that counts how far it has been read, and checks that the
    scheduler never read far ahead of what it had answered."""

    def __init__(self, n: int, answered: List[Result], ahead: int) -> None:
        self.n, self.answered, self.ahead = n, answered, ahead
        self.taken = 0
        self.most_ahead = 0

    def __iter__(self) -> Iterator[jobs.InfoJob]:
        for i in range(self.n):
            self.most_ahead = max(self.most_ahead, self.taken - len(self.answered))
            self.taken += 1
            yield jobs.InfoJob(InfoRequest(i, f"s3://bkt/k{i}"))


def test_a_feed_is_read_a_window_at_a_time(tmp_path: Path) -> None:
    pool = FakePool(_answer, slots=4)
    sched, out = make_scheduler(pool, tmp_path)
    source = Counted(5000, out, ahead=0)
    sched.feed(source, window=10)
    assert source.taken == 0  # nothing is read before the run

    assert sched.run() is ExitCode.OK

    assert [r.idx for r in out] == list(range(5000))
    assert source.taken == 5000
    # read ahead of the answers: the window waiting plus the slots in flight, never more
    assert 10 <= source.most_ahead <= 10 + 4
    assert len(sched.entries) == 0


def test_a_plan_may_emit_without_adding_a_job(tmp_path: Path) -> None:
    """A bad URL in a get is answered at planning, without a job: the feed goes on."""
    pool = FakePool(lambda job: Result(idx=job.req.idx, url=job.req.url, local=job.local))
    sched, out = make_scheduler(pool, tmp_path)
    urls = ["s3://bkt/a", "not-a-url", "s3://bkt/b"] * 100
    sched.feed((GetRequest(i, u) for i, u in enumerate(urls)), sched.add_get, window=3)
    assert sched.run() is ExitCode.FAILED
    assert sorted(r.idx for r in out) == list(range(300))
    assert sum(not r.ok for r in out) == 100


def test_feeds_are_read_in_turn(tmp_path: Path) -> None:
    pool = FakePool(_answer, slots=2)
    sched, out = make_scheduler(pool, tmp_path)
    sched.feed([jobs.InfoJob(InfoRequest(i, "s3://bkt/a")) for i in range(3)])
    sched.feed([jobs.InfoJob(InfoRequest(i, "s3://bkt/b")) for i in range(3, 6)])
    sched.run()
    assert [r.idx for r in out] == list(range(6))


def test_a_failing_source_stops_the_intake_and_raises_after_the_rest_ran(
    tmp_path: Path,
) -> None:
    def source() -> Iterator[jobs.InfoJob]:
        for i in range(50):
            yield jobs.InfoJob(InfoRequest(i, "s3://bkt/k"))
        raise ValueError("line 51 turned bad")

    pool = FakePool(_answer, slots=4)
    sched, out = make_scheduler(pool, tmp_path)
    sched.feed(source(), window=8)
    with pytest.raises(ValueError, match="line 51"):
        sched.run()
    assert [r.idx for r in out] == list(range(50))  # what was planned ran to the end
    assert not pool.inflight


def test_run_batch_refuses_a_wrong_request_among_the_first_before_anything() -> None:
    def mixed() -> Iterator[Any]:
        yield InfoRequest(0, "s3://b/k")
        yield GetRequest(1, "s3://b/k")

    results: List[Result] = []
    with pytest.raises(BatchUsageError, match="an info batch cannot run|a info batch"):
        run_batch("info", mixed(), BatchOptions(), results.append)
    assert results == []


def test_run_batch_takes_a_generator_it_cannot_measure() -> None:
    """A generator has no length: the pool is sized from its first requests, and an
    unusable URL still gets its own result (nothing is sent for it)."""
    requests = (InfoRequest(i, "s3://") for i in range(100))
    results: List[Result] = []
    assert run_batch("info", requests, BatchOptions(), results.append) is ExitCode.FAILED
    assert sorted(r.idx for r in results) == list(range(100))

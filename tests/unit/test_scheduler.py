"""``s3op.scheduler.Scheduler`` driven by a fake pool (the pool is the boundary
below it): planning gets, dead workers, exit codes, listings, the sweep.
Large objects: ``test_scheduler_parts``; the fakes: ``scheduler_fakes``.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from s3op import jobs, scheduler
from s3op.protocol import ErrorKind, ExitCode, GetRequest, InfoRequest, ListRequest, Result
from tests.unit.scheduler_fakes import (
    DIE,
    PART,
    PUT,
    SPLIT,
    TAG,
    URL,
    FakePool,
    big_get_runner,
    big_put_runner,
    dies,
    files_under,
    info_ok,
    make_scheduler,
)


def test_every_outcome_type_has_exactly_one_handler() -> None:
    outcomes = {typing.get_origin(t) or t for t in typing.get_args(jobs.Outcome)}
    assert outcomes == set(scheduler._HANDLERS)


# ------------------------------------------------------------------- gets


def test_small_gets_are_not_split(tmp_path: Path) -> None:
    def run(job: Any) -> Any:
        assert isinstance(job, jobs.GetJob)
        return Result(idx=job.req.idx, url=job.req.url, local=job.local, size=1)

    pool = FakePool(run)
    sched, out = make_scheduler(pool, tmp_path)
    sched.add_get(GetRequest(idx=0, url="s3://bkt/a/b", range="bytes=0-0"))
    sched.add_get(GetRequest(idx=1, url="s3://bkt/a/b"))
    sched.add_get(GetRequest(idx=2, url="s3://bkt/c", local=str(tmp_path / "given")))
    assert sched.run() is ExitCode.OK
    locals_ = {j.req.idx: j.local for j in pool.submitted}
    assert locals_ == {
        0: str(tmp_path / "a" / "b.bytes=0-0"),
        1: str(tmp_path / "a" / "b"),
        2: str(tmp_path / "given"),
    }
    assert sorted(r.idx for r in out) == [0, 1, 2]


def test_an_unsafe_key_fails_without_a_job(tmp_path: Path) -> None:
    pool = FakePool(lambda job: pytest.fail(f"no job should run: {job}"))
    sched, out = make_scheduler(pool, tmp_path / "d")
    sched.add_get(GetRequest(idx=0, url="s3://bkt/../escape"))
    assert sched.run() is ExitCode.FAILED
    assert pool.submitted == []
    assert len(out) == 1 and out[0].error is not None
    assert out[0].error.kind is ErrorKind.LOCAL_FILE_ERROR
    assert out[0].attempts == 0


def test_a_recursive_listing_becomes_gets_with_the_listing_idx(tmp_path: Path) -> None:
    found = (("s3://bkt/p/a", 1), ("s3://bkt/p/b/c", 2), ("s3://bkt/p/../x", 3))

    def run(job: Any) -> Any:
        if isinstance(job, jobs.ListJob):
            return jobs.Listed(idx=job.req.idx, found=found)
        return Result(idx=job.req.idx, url=job.req.url, local=job.local, size=1)

    pool = FakePool(run)
    sched, out = make_scheduler(pool, tmp_path)
    sched.add(jobs.ListJob(ListRequest(idx=9, url="s3://bkt/p"), recursive=True, for_get=True))
    assert sched.run() is ExitCode.FAILED  # the '..' key
    assert sorted((r.url, r.ok) for r in out) == [
        ("s3://bkt/p/../x", False),
        ("s3://bkt/p/a", True),
        ("s3://bkt/p/b/c", True),
    ]
    assert {r.idx for r in out} == {9}
    got = sorted(j.local for j in pool.of_type(jobs.GetJob))
    assert got == [str(tmp_path / "p" / "a"), str(tmp_path / "p" / "b" / "c")]


def test_the_jobs_of_a_dead_worker_are_requeued(tmp_path: Path) -> None:
    pool = FakePool(dies({"s3://bkt/a": 2}, info_ok))
    sched, out = make_scheduler(pool, tmp_path, max_deaths=3)
    sched.add(jobs.InfoJob(InfoRequest(idx=0, url="s3://bkt/a")))
    sched.add(jobs.InfoJob(InfoRequest(idx=1, url="s3://bkt/b")))
    assert sched.run() is ExitCode.OK
    assert [j.req.url for j in pool.submitted].count("s3://bkt/a") == 3
    assert sorted((r.idx, r.ok) for r in out) == [(0, True), (1, True)]


def test_a_job_that_kills_max_deaths_workers_fails_as_worker_died(tmp_path: Path) -> None:
    pool = FakePool(dies({"s3://bkt/a": 100}, info_ok))
    sched, out = make_scheduler(pool, tmp_path, max_deaths=3)
    sched.add(jobs.InfoJob(InfoRequest(idx=0, url="s3://bkt/a")))
    sched.add(jobs.InfoJob(InfoRequest(idx=1, url="s3://bkt/b")))
    assert sched.run() is ExitCode.TRANSIENT
    assert [j.req.url for j in pool.submitted].count("s3://bkt/a") == 3
    failed = [r for r in out if not r.ok]
    assert len(out) == 2 and len(failed) == 1
    assert failed[0].error is not None and failed[0].error.kind is ErrorKind.WORKER_DIED
    assert (failed[0].idx, failed[0].url) == (0, "s3://bkt/a")


def test_a_dead_upload_part_is_requeued_without_leaking_its_slot(tmp_path: Path) -> None:
    # With one upload part allowed in flight, a leaked count would stall the sched.
    state = {"died": False}
    inner = big_put_runner(b"q" * 300)

    def run(job: Any) -> Any:
        if isinstance(job, jobs.UploadPartJob) and job.number == 2 and not state["died"]:
            state["died"] = True
            return DIE
        return inner(job)

    pool = FakePool(run, slots=10)
    sched, out = make_scheduler(
        pool, tmp_path, jobs.Settings(part_size=100, tmp_tag=TAG), max_upload_parts=1
    )
    sched.add(jobs.PutJob(PUT))
    assert sched.run() is ExitCode.OK
    assert [p.number for p in pool.of_type(jobs.UploadPartJob)] == [1, 2, 2, 3]
    assert pool.peak_upload_parts == 1
    assert len(out) == 1 and out[0].ok


def test_a_part_that_keeps_killing_workers_fails_its_object(tmp_path: Path) -> None:
    inner = big_get_runner()

    def run(job: Any) -> Any:
        if isinstance(job, jobs.GetPartJob) and job.start == 2 * PART:
            return DIE
        return inner(job)

    pool = FakePool(run, slots=2)
    sched, out = make_scheduler(pool, tmp_path, SPLIT, max_deaths=2)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.TRANSIENT
    assert len(out) == 1
    assert out[0].error is not None and out[0].error.kind is ErrorKind.WORKER_DIED
    assert files_under(tmp_path) == []


# ----------------------------------------------------------------- exit codes


@pytest.mark.parametrize(
    "kinds,allow_missing,code",
    [
        ([None, None], False, ExitCode.OK),
        ([ErrorKind.NOT_FOUND, None], False, ExitCode.FAILED),
        ([ErrorKind.NOT_FOUND, None], True, ExitCode.OK),
        ([ErrorKind.TRANSIENT, ErrorKind.NOT_FOUND], False, ExitCode.TRANSIENT),
        ([ErrorKind.NOT_FOUND, ErrorKind.TRANSIENT], True, ExitCode.TRANSIENT),
        (
            [ErrorKind.OUT_OF_DISK, ErrorKind.TRANSIENT, ErrorKind.ACCESS_DENIED],
            False,
            ExitCode.OUT_OF_DISK,
        ),
        ([ErrorKind.ACCESS_DENIED, ErrorKind.OUT_OF_DISK, None], False, ExitCode.OUT_OF_DISK),
        ([ErrorKind.CORRUPT, ErrorKind.ACCESS_DENIED], False, ExitCode.TRANSIENT),
    ],
)
def test_exit_code_folds_every_result(
    tmp_path: Path, kinds: list, allow_missing: bool, code: ExitCode
) -> None:
    by_url = {f"s3://bkt/k{i}": kind for i, kind in enumerate(kinds)}

    def run(job: Any) -> Any:
        kind = by_url[job.req.url]
        if kind is None:
            return Result(idx=job.req.idx, url=job.req.url)
        return Result.failure(job.req.idx, job.req.url, kind, "x", 1)

    pool = FakePool(run, slots=1)
    sched, out = make_scheduler(pool, tmp_path, allow_missing=allow_missing)
    for i, url in enumerate(by_url):
        sched.add(jobs.InfoJob(InfoRequest(idx=i, url=url)))
    assert sched.run() is code
    assert sched.exit_code is code
    assert len(out) == len(kinds)


def test_a_listing_emits_every_result_it_returns(tmp_path: Path) -> None:
    def run(job: Any) -> Any:
        return [Result(idx=job.req.idx, url=f"s3://bkt/p/{n}", size=n) for n in range(5)] + [
            Result(idx=job.req.idx, url="s3://bkt/p/sub/", is_prefix=True)
        ]

    pool = FakePool(run)
    sched, out = make_scheduler(pool, tmp_path)
    sched.add(jobs.ListJob(ListRequest(idx=4, url="s3://bkt/p"), recursive=False))
    assert sched.run() is ExitCode.OK
    assert len(out) == 6 and {r.idx for r in out} == {4}


def _paged(pages: int, fail_at: Optional[int] = None) -> Callable[[Any], Any]:
    """A worker whose listings come in ``pages`` pages of two objects (tokens "1", "2", ...)."""

    def run(job: Any) -> Any:
        if not isinstance(job, jobs.ListJob):
            return Result(idx=job.req.idx, url=job.req.url, local=job.local, size=1)
        number = int(job.token or 0)
        if number == fail_at:
            return [Result.failure(job.req.idx, job.req.url, ErrorKind.TRANSIENT, "page lost", 3)]
        more = dataclasses.replace(job, token=str(number + 1)) if number + 1 < pages else None
        urls = [f"s3://bkt/p/{number}-{i}" for i in range(2)]
        if job.for_get:
            return jobs.Page(jobs.Listed(job.req.idx, tuple((u, 1) for u in urls)), more)
        return jobs.Page(jobs.Found(job.req.idx, tuple((u, 1, None, None) for u in urls)), more)

    return run


def test_a_listing_continues_page_by_page(tmp_path: Path) -> None:
    pool = FakePool(_paged(3))
    sched, out = make_scheduler(pool, tmp_path)
    sched.add(jobs.ListJob(ListRequest(idx=4, url="s3://bkt/p"), recursive=True))
    assert sched.run() is ExitCode.OK
    assert sorted(r.url for r in out) == [f"s3://bkt/p/{n}-{i}" for n in range(3) for i in range(2)]
    assert [j.token for j in pool.of_type(jobs.ListJob)] == [None, "1", "2"]


def test_a_listing_that_fails_midway_ends_with_its_error(tmp_path: Path) -> None:
    pool = FakePool(_paged(3, fail_at=1))
    sched, out = make_scheduler(pool, tmp_path)
    sched.add(jobs.ListJob(ListRequest(idx=4, url="s3://bkt/p"), recursive=True))
    assert sched.run() is ExitCode.TRANSIENT
    assert [r.ok for r in out] == [True, True, False]  # page 0, then the error
    assert len(pool.of_type(jobs.ListJob)) == 2


def test_a_recursive_get_downloads_while_it_lists(tmp_path: Path) -> None:
    pool = FakePool(_paged(3), slots=2)
    sched, out = make_scheduler(pool, tmp_path)
    sched.add(jobs.ListJob(ListRequest(idx=9, url="s3://bkt/p"), recursive=True, for_get=True))
    assert sched.run() is ExitCode.OK
    assert len(out) == 6 and {r.idx for r in out} == {9}
    kinds = [type(j).__name__ for j in pool.submitted]
    assert kinds.index("GetJob") < len(kinds) - 1 - kinds[::-1].index("ListJob")


# ---------------------------------------------------------------------- sweep


def test_sweep_removes_this_runs_temp_files_only(tmp_path: Path) -> None:
    dest = tmp_path / "d"
    (dest / "sub").mkdir(parents=True)
    ours = [dest / f".obj.s3op-{TAG}-0123456789ab.part", dest / "sub" / f".x.s3op-{TAG}-ff.part"]
    others = [
        dest / ".obj.s3op-cccc2222dddd-0123456789ab.part",
        dest / "obj",
        dest / f"obj.s3op-{TAG}-0123.part",  # not a hidden temp name
        dest / "sub" / "keep.txt",
    ]
    for p in ours + others:
        p.write_bytes(b"leftover")

    def run(job: Any) -> Any:
        return Result.failure(job.req.idx, job.req.url, ErrorKind.NOT_FOUND, "gone", 1)

    pool = FakePool(run)
    sched, out = make_scheduler(pool, dest)
    sched.add_get(GetRequest(idx=0, url="s3://bkt/obj"))
    sched.add_get(GetRequest(idx=1, url="s3://bkt/sub/x"))
    assert sched.run() is ExitCode.FAILED
    assert [p.exists() for p in ours] == [False, False]
    assert [p.exists() for p in others] == [True] * len(others)


def test_sweep_removes_the_temp_file_of_an_unfinished_large_get(tmp_path: Path) -> None:
    class Interrupt(Exception):
        pass

    inner = big_get_runner()

    def run(job: Any) -> Any:
        if isinstance(job, jobs.GetPartJob) and job.start == 3 * PART:
            raise Interrupt  # stands in for Ctrl-C while parts are in flight
        return inner(job)

    pool = FakePool(run, slots=1)
    sched, out = make_scheduler(pool, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=0, url=URL))
    with pytest.raises(Interrupt):
        sched.run()
    assert files_under(tmp_path) == []
    assert out == []

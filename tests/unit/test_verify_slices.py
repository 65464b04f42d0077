"""A multipart-ETag download read again in slices (``s3op.assembly.download``):
parts too big for one ranged GET are hashed in several jobs, one slice of whole
parts each, and the parent combines their MD5s. The scheduler runs on a fake
pool whose workers really write the ranges and really hash the slices."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from s3op import jobs
from s3op.assembly import download
from s3op.parts import slice_digests, verify_slices
from s3op.protocol import ErrorKind, ExitCode, GetRequest
from tests.unit.scheduler_fakes import (
    DATA,
    MD5_SIZES,
    SPLIT,
    URL,
    FakePool,
    big_get_runner,
    files_under,
    make_scheduler,
    multipart_etag,
)


def test_slices_are_whole_parts_of_at_least_the_size_asked() -> None:
    assert verify_slices([10, 10, 10, 5], 20) == [(0, 0, (10, 10)), (2, 20, (10, 5))]
    assert verify_slices([30, 30, 7], 20) == [(0, 0, (30,)), (1, 30, (30,)), (2, 60, (7,))]
    assert verify_slices([5, 5], 100) == [(0, 0, (5, 5))]
    assert verify_slices([], 10) == []


def test_a_slice_digests_its_own_parts_only(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    got = slice_digests(str(path), 300, [300, 172], "md5", chunk=64)
    assert got == [hashlib.md5(DATA[300:600]).digest(), hashlib.md5(DATA[600:]).digest()]


@pytest.fixture
def huge_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 300-byte parts are too big for one range; a slice is one part."""
    monkeypatch.setattr(download, "MD5_PART_MAX", 299)
    monkeypatch.setattr(download, "VERIFY_SLICE", 300)


@pytest.mark.usefixtures("huge_parts")
@pytest.mark.parametrize("slots", [1, 3])
def test_the_parts_are_read_again_in_slices_and_the_object_commits(
    tmp_path: Path, slots: int
) -> None:
    check = multipart_etag(DATA, MD5_SIZES)
    pool = FakePool(big_get_runner(parts=check, part_sizes=MD5_SIZES), slots=slots)
    sched, out = make_scheduler(pool, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.OK and [r.ok for r in out] == [True]
    slices = pool.of_type(jobs.VerifyJob)
    assert [(v.first, v.offset, v.part_sizes) for v in slices] == [
        (0, 0, (300,)),
        (1, 300, (300,)),
        (2, 600, (172,)),
    ]
    assert (tmp_path / "obj").read_bytes() == DATA
    assert files_under(tmp_path) == ["obj"]


@pytest.mark.usefixtures("huge_parts")
@pytest.mark.parametrize("where", [0, 300, 600])
def test_a_damaged_part_read_in_slices_fails_as_corrupt(tmp_path: Path, where: int) -> None:
    check = multipart_etag(DATA, MD5_SIZES)
    pool = FakePool(big_get_runner(parts=check, part_sizes=MD5_SIZES, corrupt_part=where))
    sched, out = make_scheduler(pool, tmp_path, SPLIT, max_object_tries=2)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.TRANSIENT
    assert len(pool.of_type(jobs.GetJob)) == 2  # started over once, then given up
    assert len(out) == 1 and out[0].error is not None
    assert out[0].error.kind is ErrorKind.CORRUPT and "multipart ETag" in out[0].error.message
    assert files_under(tmp_path) == []


#: DATA in four parts, all too big for one range (``huge_parts``): many enough to be
#: fetched one range a part, each MD5'd as it streams in.
FOUR_HUGE = (300, 300, 100, 72)


@pytest.mark.usefixtures("huge_parts")
def test_four_huge_parts_are_one_range_each_and_not_read_again(tmp_path: Path) -> None:
    check = multipart_etag(DATA, FOUR_HUGE)
    pool = FakePool(big_get_runner(parts=check, part_sizes=FOUR_HUGE), slots=3)
    sched, out = make_scheduler(pool, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.OK and [r.ok for r in out] == [True]
    ranges = pool.of_type(jobs.GetPartJob)
    assert sorted((p.start, p.end, p.md5) for p in ranges) == [
        (0, 299, True),
        (300, 599, True),
        (600, 699, True),
        (700, 771, True),
    ]
    assert pool.of_type(jobs.VerifyJob) == []
    assert (tmp_path / "obj").read_bytes() == DATA
    assert files_under(tmp_path) == ["obj"]


@pytest.mark.usefixtures("huge_parts")
@pytest.mark.parametrize("where", [0, 299, 450, 771])
def test_a_damaged_huge_part_fetched_whole_fails_as_corrupt(tmp_path: Path, where: int) -> None:
    check = multipart_etag(DATA, FOUR_HUGE)
    runner = big_get_runner(parts=check, part_sizes=FOUR_HUGE, corrupt_at=where)
    pool = FakePool(runner)
    sched, out = make_scheduler(pool, tmp_path, SPLIT, max_object_tries=2)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.TRANSIENT
    assert len(pool.of_type(jobs.GetJob)) == 2  # started over once, then given up
    assert pool.of_type(jobs.VerifyJob) == []
    assert len(out) == 1 and out[0].error is not None
    assert out[0].error.kind is ErrorKind.CORRUPT and "multipart ETag" in out[0].error.message
    assert files_under(tmp_path) == []

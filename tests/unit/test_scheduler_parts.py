"""Large objects through ``s3op.scheduler.Scheduler`` and a fake pool: ranged
downloads and multipart uploads, their assembly (``s3op.assembly``) driven by
the part jobs the fake workers really run (``scheduler_fakes``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import zlib
from pathlib import Path
from typing import Any, Optional

import pytest

from s3op import jobs
from s3op.assembly import download
from s3op.ops.get import _write_at
from s3op.parts import label
from s3op.protocol import (
    ErrorKind,
    ExitCode,
    GetRequest,
    InfoRequest,
    PutRequest,
    RangeServed,
    Result,
)
from s3op.retry import Deadline
from tests.unit.scheduler_fakes import (
    DATA,
    MD5_SIZES,
    PART,
    PUT,
    SIZE,
    SMALL_PARTS,
    SPLIT,
    TAG,
    URL,
    FakePool,
    big_get_runner,
    big_put_runner,
    files_under,
    info_ok,
    make_scheduler,
    multipart_etag,
    small_parts_check,
)

# ------------------------------------------------------------ large downloads


@pytest.mark.parametrize("slots,lifo", [(1, False), (3, False), (20, True)])
def test_split_get_fans_out_parts_and_assembles_the_object(
    tmp_path: Path, slots: int, lifo: bool
) -> None:
    pool = FakePool(big_get_runner(), slots=slots, lifo=lifo)
    sched, out = make_scheduler(pool, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=5, url=URL))
    assert sched.run() is ExitCode.OK

    parts = sorted(pool.of_type(jobs.GetPartJob), key=lambda j: j.start)
    assert [(p.start, p.end) for p in parts] == [
        (s, min(s + PART, len(DATA)) - 1) for s in range(0, len(DATA), PART)
    ]
    assert all(p.etag == '"e1"' and p.idx == 5 and p.url == URL for p in parts)
    assert len({p.tmp for p in parts}) == 1
    assert (tmp_path / "obj").read_bytes() == DATA
    assert files_under(tmp_path) == ["obj"]  # the temp file was renamed, nothing left
    assert len(out) == 1
    res = out[0]
    assert (res.idx, res.url, res.ok, res.local) == (5, URL, True, str(tmp_path / "obj"))
    assert res.range == RangeServed(0, len(DATA) - 1, len(DATA))
    assert res.size == len(DATA)


def test_split_get_of_an_exact_multiple_of_the_part_size(tmp_path: Path) -> None:
    data = b"z" * (PART * 3)
    pool = FakePool(big_get_runner(data))
    sched, out = make_scheduler(pool, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.OK
    spans = [(p.start, p.end) for p in pool.of_type(jobs.GetPartJob)]
    assert sorted(spans) == [(0, 99), (100, 199), (200, 299)]
    assert (tmp_path / "obj").read_bytes() == data
    assert len(out) == 1 and out[0].ok


def test_split_get_with_a_matching_crc32_commits(tmp_path: Path) -> None:
    pool = FakePool(big_get_runner(crc32=zlib.crc32(DATA)), slots=3, lifo=True)
    sched, out = make_scheduler(pool, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.OK
    assert (tmp_path / "obj").read_bytes() == DATA
    assert [r.ok for r in out] == [True]


@pytest.mark.parametrize(
    "crc32,settings,wanted",
    [
        (zlib.crc32(DATA), SPLIT, True),  # checked at the end: parts must CRC their bytes
        (None, SPLIT, False),  # nothing to check against (composite or no checksum)
        (zlib.crc32(DATA), dataclasses.replace(SPLIT, verify=False), False),
    ],
)
def test_parts_compute_a_crc32_only_when_one_will_be_checked(
    tmp_path: Path, crc32: Optional[int], settings: jobs.Settings, wanted: bool
) -> None:
    pool = FakePool(big_get_runner(crc32=crc32))
    sched, out = make_scheduler(pool, tmp_path, settings)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.OK and [r.ok for r in out] == [True]
    parts = pool.of_type(jobs.GetPartJob)
    assert parts and {p.checksum for p in parts} == {wanted}


@pytest.mark.parametrize("checksum", [True, False])
def test_a_part_is_written_at_its_offset_with_or_without_a_crc32(
    tmp_path: Path, checksum: bool
) -> None:
    target = tmp_path / "tmp"
    target.write_bytes(b"." * 10)
    got, crc = _write_at(io.BytesIO(b"abcd"), str(target), 3, Deadline(60), checksum)
    assert got == 4 and target.read_bytes() == b"...abcd..."
    assert crc == (zlib.crc32(b"abcd") if checksum else None)


def test_a_part_feeds_the_md5_it_is_given(tmp_path: Path) -> None:
    target = tmp_path / "tmp"
    target.write_bytes(b"." * 10)
    md5 = hashlib.md5()
    got, crc = _write_at(io.BytesIO(b"abcd"), str(target), 2, Deadline(60), False, md5)
    assert (got, crc) == (4, None) and target.read_bytes() == b"..abcd...."
    assert md5.digest() == hashlib.md5(b"abcd").digest()


def test_a_damaged_part_restarts_the_object_then_fails_as_corrupt(tmp_path: Path) -> None:
    pool = FakePool(big_get_runner(crc32=zlib.crc32(DATA), corrupt_part=200))
    sched, out = make_scheduler(pool, tmp_path, SPLIT, max_object_tries=3)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.TRANSIENT
    assert len(pool.of_type(jobs.GetJob)) == 3  # the whole object, three times
    assert len(out) == 1
    assert out[0].error is not None and out[0].error.kind is ErrorKind.CORRUPT
    assert files_under(tmp_path) == []  # no partial file, no temp file


def test_split_get_with_an_md5_etag_is_verified_before_the_rename(tmp_path: Path) -> None:
    good = FakePool(big_get_runner(md5=hashlib.md5(DATA).hexdigest()))
    sched, out = make_scheduler(good, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.OK
    assert len(good.of_type(jobs.VerifyJob)) == 1
    assert (tmp_path / "obj").read_bytes() == DATA and [r.ok for r in out] == [True]

    bad_dir = tmp_path / "bad"
    bad = FakePool(big_get_runner(md5=hashlib.md5(b"other").hexdigest()))
    sched, out = make_scheduler(bad, bad_dir, SPLIT)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.TRANSIENT
    assert len(out) == 1 and out[0].error is not None
    assert out[0].error.kind is ErrorKind.CORRUPT
    assert files_under(bad_dir) == []


def test_a_multipart_etag_is_checked_from_one_range_per_part_without_a_reread(
    tmp_path: Path,
) -> None:
    pool = FakePool(big_get_runner(parts=multipart_etag(DATA, MD5_SIZES), part_sizes=MD5_SIZES))
    sched, out = make_scheduler(pool, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.OK and [r.ok for r in out] == [True]
    ranges = sorted((p.start, p.end, p.md5) for p in pool.of_type(jobs.GetPartJob))
    assert ranges == [(0, 299, True), (300, 599, True), (600, 771, True)]  # not PART-sized
    assert pool.of_type(jobs.VerifyJob) == []  # the file is not read again
    assert (tmp_path / "obj").read_bytes() == DATA


@pytest.mark.parametrize("algorithm", ["crc32", "md5"])
def test_small_parts_share_ranges_and_are_each_checked(tmp_path: Path, algorithm: str) -> None:
    check = small_parts_check(algorithm)
    pool = FakePool(big_get_runner(parts=check, part_sizes=SMALL_PARTS), slots=4, lifo=True)
    sched, out = make_scheduler(pool, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.OK and [r.ok for r in out] == [True]
    parts = sorted(pool.of_type(jobs.GetPartJob), key=lambda p: p.start)
    assert [(p.start, p.end, p.cuts) for p in parts[:2]] == [
        (0, 89, (30,) * 3),
        (90, 179, (30,) * 3),
    ]
    assert len(parts) == 9 and [p.number for p in parts] == list(range(0, 27, 3))
    assert sum(max(1, len(p.cuts)) for p in parts) == len(SMALL_PARTS)
    assert {(p.checksum, p.md5) for p in parts} == {(algorithm == "crc32", algorithm == "md5")}
    assert pool.of_type(jobs.VerifyJob) == []  # checked from the ranges, not read again
    assert (tmp_path / "obj").read_bytes() == DATA


@pytest.mark.parametrize("algorithm", ["crc32", "md5"])
@pytest.mark.parametrize("where", [0, 45, 89, 771])  # first, middle and last piece of a range
def test_a_damaged_piece_of_a_shared_range_fails_as_corrupt(
    tmp_path: Path, algorithm: str, where: int
) -> None:
    check = small_parts_check(algorithm)
    pool = FakePool(big_get_runner(parts=check, part_sizes=SMALL_PARTS, corrupt_at=where))
    sched, out = make_scheduler(pool, tmp_path, SPLIT, max_object_tries=2)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.TRANSIENT
    assert len(pool.of_type(jobs.GetJob)) == 2
    assert len(out) == 1 and out[0].error is not None
    assert out[0].error.kind is ErrorKind.CORRUPT and label(algorithm) in out[0].error.message
    assert files_under(tmp_path) == []


def test_a_damaged_part_of_a_multipart_etag_object_fails_as_corrupt(tmp_path: Path) -> None:
    check = multipart_etag(DATA, MD5_SIZES)
    pool = FakePool(big_get_runner(parts=check, part_sizes=MD5_SIZES, corrupt_part=300))
    sched, out = make_scheduler(pool, tmp_path, SPLIT, max_object_tries=2)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.TRANSIENT
    assert len(pool.of_type(jobs.GetJob)) == 2
    assert len(out) == 1 and out[0].error is not None
    assert out[0].error.kind is ErrorKind.CORRUPT and "multipart ETag" in out[0].error.message
    assert files_under(tmp_path) == []


def test_a_multipart_etag_object_with_huge_parts_is_read_again_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download, "MD5_PART_MAX", 299)  # the 300-byte parts are too big
    pool = FakePool(big_get_runner(parts=multipart_etag(DATA, MD5_SIZES), part_sizes=MD5_SIZES))
    sched, out = make_scheduler(pool, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.OK and [r.ok for r in out] == [True]
    assert {p.md5 for p in pool.of_type(jobs.GetPartJob)} == {False}
    assert len(pool.of_type(jobs.VerifyJob)) == 1
    assert (tmp_path / "obj").read_bytes() == DATA


@pytest.mark.parametrize("slots", [1, 2])
def test_a_failed_part_fails_the_object_once_and_skips_queued_parts(
    tmp_path: Path, slots: int
) -> None:
    pool = FakePool(big_get_runner(fail_part=PART), slots=slots)
    sched, out = make_scheduler(pool, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=3, url=URL))
    assert sched.run() is ExitCode.TRANSIENT
    starts = [p.start for p in pool.of_type(jobs.GetPartJob)]
    # The parts queued behind the failure (all but those in flight) never ran.
    assert starts == [0, PART] if slots == 1 else starts == [0, PART, 2 * PART]
    assert len(out) == 1
    assert (out[0].idx, out[0].ok) == (3, False)
    assert out[0].error is not None and out[0].error.kind is ErrorKind.TRANSIENT
    assert files_under(tmp_path) == []  # temp file removed, no final file


def test_a_failed_part_with_every_part_in_flight_still_gives_one_result(tmp_path: Path) -> None:
    pool = FakePool(big_get_runner(fail_part=7 * PART), slots=50, lifo=True)
    sched, out = make_scheduler(pool, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=0, url=URL))
    assert sched.run() is ExitCode.TRANSIENT
    assert len(out) == 1 and not out[0].ok
    assert files_under(tmp_path) == []


def test_a_large_get_onto_a_directory_is_a_local_file_error(tmp_path: Path) -> None:
    (tmp_path / "obj").mkdir()
    (tmp_path / "obj" / "inside").write_bytes(b"keep")
    inner = big_get_runner()

    def run(job: Any) -> Any:
        return info_ok(job) if isinstance(job, jobs.InfoJob) else inner(job)

    pool = FakePool(run, slots=1)
    sched, out = make_scheduler(pool, tmp_path, SPLIT)
    sched.add_get(GetRequest(idx=0, url=URL))
    sched.add(jobs.InfoJob(InfoRequest(idx=1, url="s3://bkt/other")))
    code = sched.run()
    assert sorted((r.idx, r.error.kind if r.error else None) for r in out) == [
        (0, ErrorKind.LOCAL_FILE_ERROR),
        (1, None),
    ]
    assert code is ExitCode.FAILED
    assert (tmp_path / "obj" / "inside").read_bytes() == b"keep"


# -------------------------------------------------------------- large uploads


@pytest.mark.parametrize("lifo", [False, True])
def test_split_put_uploads_parts_then_completes_with_sorted_parts(
    tmp_path: Path, lifo: bool
) -> None:
    data = os.urandom(SIZE)
    pool = FakePool(big_put_runner(data, checksum=True), slots=30, lifo=lifo)
    sched, out = make_scheduler(pool, tmp_path, jobs.Settings(part_size=100, tmp_tag=TAG))
    sched.add(jobs.PutJob(PUT))
    assert sched.run() is ExitCode.OK

    parts = pool.of_type(jobs.UploadPartJob)
    assert sorted((p.number, p.offset, p.length) for p in parts) == [
        (n + 1, n * 100, 100) for n in range(10)
    ]
    assert all(p.upload_id == "up-1" and p.local == PUT.local for p in parts)
    (complete,) = pool.of_type(jobs.CompleteUploadJob)
    assert complete.upload_id == "up-1" and complete.size == SIZE and complete.req == PUT
    assert [p[0] for p in complete.parts] == list(range(1, 11))
    assert [p[1] for p in complete.parts] == [f'"etag-{n}"' for n in range(1, 11)]
    # The parts' CRC32s, combined in order, are the CRC32 of the whole file.
    assert complete.crc32 == zlib.crc32(data)
    assert pool.of_type(jobs.AbortUploadJob) == []
    assert isinstance(pool.submitted[-1], jobs.CompleteUploadJob)
    assert len(out) == 1 and out[0].ok and out[0].size == SIZE


def test_split_put_never_has_more_than_10000_parts(tmp_path: Path) -> None:
    size = 10_000 * 5 + 1

    def run(job: Any) -> Any:
        if isinstance(job, jobs.PutJob):
            return jobs.SplitPut(upload_id="u", size=size)
        if isinstance(job, jobs.UploadPartJob):
            return jobs.PartDone(job.number, f'"{job.number}"', length=job.length)
        return Result(idx=0, url=URL)

    pool = FakePool(run, slots=10)
    sched, out = make_scheduler(pool, tmp_path, jobs.Settings(part_size=5, tmp_tag=TAG))
    sched.add(jobs.PutJob(PUT))
    assert sched.run() is ExitCode.OK
    parts = pool.of_type(jobs.UploadPartJob)
    assert len(parts) <= 10_000
    assert sum(p.length for p in parts) == size
    assert len(out) == 1


@pytest.mark.parametrize("slots", [1, 4, 30])
def test_a_failed_upload_part_aborts_the_upload_and_fails_once(tmp_path: Path, slots: int) -> None:
    pool = FakePool(big_put_runner(b"x" * SIZE, fail_part=3), slots=slots)
    sched, out = make_scheduler(pool, tmp_path, jobs.Settings(part_size=100, tmp_tag=TAG))
    sched.add(jobs.PutJob(PUT))
    assert sched.run() is ExitCode.FAILED
    (abort,) = pool.of_type(jobs.AbortUploadJob)
    assert (abort.idx, abort.url, abort.upload_id) == (PUT.idx, PUT.url, "up-1")
    assert pool.of_type(jobs.CompleteUploadJob) == []
    assert len(out) == 1
    assert out[0].error is not None and out[0].error.kind is ErrorKind.ACCESS_DENIED


def test_a_failing_abort_is_not_reported(tmp_path: Path) -> None:
    inner = big_put_runner(b"x" * SIZE, fail_part=1)

    def run(job: Any) -> Any:
        if isinstance(job, jobs.AbortUploadJob):
            return Result.failure(job.idx, job.url, ErrorKind.TRANSIENT, "abort failed", 6)
        return inner(job)

    pool = FakePool(run)
    sched, out = make_scheduler(pool, tmp_path, jobs.Settings(part_size=100, tmp_tag=TAG))
    sched.add(jobs.PutJob(PUT))
    assert sched.run() is ExitCode.FAILED
    assert [r.error.kind for r in out if r.error] == [ErrorKind.ACCESS_DENIED]


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_in_flight_upload_parts_never_exceed_the_limit(tmp_path: Path, limit: int) -> None:
    pool = FakePool(big_put_runner(b"y" * SIZE), slots=50)
    sched, out = make_scheduler(
        pool, tmp_path, jobs.Settings(part_size=100, tmp_tag=TAG), max_upload_parts=limit
    )
    sched.add(jobs.PutJob(PUT))
    sched.add(jobs.PutJob(PutRequest(idx=3, url=URL + "2", local="/x")))
    assert sched.run() is ExitCode.OK
    assert pool.peak_upload_parts == limit
    assert len(pool.of_type(jobs.UploadPartJob)) == 20
    assert sorted(r.idx for r in out) == [2, 3]

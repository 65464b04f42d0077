"""s3op.engine.Engine driven by a fake pool (the pool is the boundary below the engine).

The fake runs each job synchronously with a test-supplied function when the
engine polls, and answers with the real ``Done`` / ``Died`` events. Part
downloads really write into the engine's preallocated temp file (os.pwrite),
so assembly, rename and cleanup happen on a real directory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import pytest

from s3op import engine as engine_module
from s3op import jobs
from s3op.engine import Engine
from s3op.ops.get import _write_at, run_verify
from s3op.parts import PartsCheck, PieceDigests, combine, label
from s3op.pool import Died, Done
from s3op.protocol import (
    ErrorKind,
    ExitCode,
    GetRequest,
    InfoRequest,
    ListRequest,
    PutRequest,
    RangeServed,
    Result,
)
from s3op.retry import Deadline

URL = "s3://bkt/obj"
TAG = "aaaa1111bbbb"

#: A runner returns this to make the fake pool report the job's worker as dead.
DIE = object()


class FakePool:
    """Implements the four calls Engine makes on a Pool; runs jobs when polled."""

    def __init__(self, run: Callable[[Any], Any], slots: int = 4, lifo: bool = False) -> None:
        self.run = run
        self.slots = slots
        self.lifo = lifo  # answer the newest job first (completion out of order)
        self.inflight: Dict[int, Any] = {}
        self.submitted: List[Any] = []
        self.peak_upload_parts = 0
        self.idle_polls = 0

    def free_slots(self) -> int:
        return self.slots - len(self.inflight)

    def submit(self, job_id: int, job: Any) -> None:
        assert job_id not in self.inflight, "a job id was handed out twice"
        assert self.free_slots() > 0, "submit() called with no free slot"
        self.inflight[job_id] = job
        self.submitted.append(job)
        parts = sum(isinstance(j, jobs.UploadPartJob) for j in self.inflight.values())
        self.peak_upload_parts = max(self.peak_upload_parts, parts)

    def busy(self) -> bool:
        return bool(self.inflight)

    def poll(self, timeout: Optional[float]) -> List[Any]:
        if not self.inflight:
            # A real pool's poll just times out; again and again means a hang.
            self.idle_polls += 1
            if self.idle_polls > 3:
                raise AssertionError("engine keeps waiting on an idle pool: it would hang")
            return []
        self.idle_polls = 0
        ids = list(self.inflight)
        job_id = ids[-1] if self.lifo else ids[0]
        job = self.inflight.pop(job_id)
        outcome = self.run(job)
        if outcome is DIE:
            return [Died(((job_id, job),), -9)]
        return [Done(job_id, outcome)]

    def of_type(self, cls: type) -> List[Any]:
        return [j for j in self.submitted if isinstance(j, cls)]


def make_engine(
    pool: FakePool, dest: Path, settings: Optional[jobs.Settings] = None, **kw: Any
) -> tuple[Engine, List[Result]]:
    out: List[Result] = []

    def collect(item: Union[Result, jobs.Found]) -> None:
        out.extend(item.results() if isinstance(item, jobs.Found) else [item])

    engine = Engine(
        pool,  # type: ignore[arg-type]
        settings or jobs.Settings(tmp_tag=TAG),
        collect,
        destination=str(dest),
        **kw,
    )
    return engine, out


def files_under(path: Path) -> List[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


# ------------------------------------------------------------ large downloads

DATA = bytes(range(256)) * 3 + b"tail"  # 772 bytes
PART = 100


def big_get_runner(
    data: bytes = DATA,
    crc32: Optional[int] = None,
    md5: Optional[str] = None,
    fail_part: Optional[int] = None,
    corrupt_part: Optional[int] = None,
    parts: Optional[PartsCheck] = None,
    part_sizes: Tuple[int, ...] = (),
    corrupt_at: Optional[int] = None,
) -> Callable[[Any], Any]:
    """GetJob -> SplitGet; GetPartJob -> bytes written at their offset."""

    def run(job: Any) -> Any:
        if isinstance(job, jobs.GetJob):
            head = Result(
                idx=job.req.idx, url=job.req.url, local=job.local, size=len(data), etag='"e1"'
            )
            return jobs.SplitGet(head, '"e1"', crc32, md5, parts, part_sizes)
        if isinstance(job, jobs.GetPartJob):
            if job.start == fail_part:
                failure = Result.failure(job.idx, job.url, ErrorKind.TRANSIENT, "reset", 6)
                return jobs.PartFailed(failure)
            chunk = data[job.start : job.end + 1]
            if job.start == corrupt_part:
                chunk = b"\xff" + chunk[1:]
            if corrupt_at is not None and job.start <= corrupt_at <= job.end:
                at = corrupt_at - job.start
                chunk = chunk[:at] + bytes([chunk[at] ^ 1]) + chunk[at + 1 :]
            try:
                fd = os.open(job.tmp, os.O_WRONLY)
            except FileNotFoundError:  # the object already failed and its temp file went
                gone = Result.failure(job.idx, job.url, ErrorKind.LOCAL_FILE_MISSING, "gone", 1)
                return jobs.PartFailed(gone)
            try:
                os.pwrite(fd, chunk, job.start)
            finally:
                os.close(fd)
            if job.cuts:  # a range over several pieces: each one's digests
                pieces = PieceDigests(job.cuts, job.checksum, job.md5)
                pieces.update(chunk)
                return jobs.PartDone(job.number, length=len(chunk), pieces=pieces.pieces())
            digest = hashlib.md5(chunk).digest() if job.md5 else None
            return jobs.PartDone(job.number, crc32=zlib.crc32(chunk), length=len(chunk), md5=digest)
        if isinstance(job, jobs.VerifyJob):
            return run_verify(None, job)  # type: ignore[arg-type]
        raise AssertionError(f"unexpected job {job!r}")

    return run


SPLIT = jobs.Settings(part_size=PART, multipart_threshold=PART, tmp_tag=TAG)


@pytest.mark.parametrize("slots,lifo", [(1, False), (3, False), (20, True)])
def test_split_get_fans_out_parts_and_assembles_the_object(
    tmp_path: Path, slots: int, lifo: bool
) -> None:
    pool = FakePool(big_get_runner(), slots=slots, lifo=lifo)
    engine, out = make_engine(pool, tmp_path, SPLIT)
    engine.add_get(GetRequest(idx=5, url=URL))
    assert engine.run() is ExitCode.OK

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
    engine, out = make_engine(pool, tmp_path, SPLIT)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.OK
    spans = [(p.start, p.end) for p in pool.of_type(jobs.GetPartJob)]
    assert sorted(spans) == [(0, 99), (100, 199), (200, 299)]
    assert (tmp_path / "obj").read_bytes() == data
    assert len(out) == 1 and out[0].ok


def test_split_get_with_a_matching_crc32_commits(tmp_path: Path) -> None:
    pool = FakePool(big_get_runner(crc32=zlib.crc32(DATA)), slots=3, lifo=True)
    engine, out = make_engine(pool, tmp_path, SPLIT)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.OK
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
    engine, out = make_engine(pool, tmp_path, settings)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.OK and [r.ok for r in out] == [True]
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
    engine, out = make_engine(pool, tmp_path, SPLIT, max_object_tries=3)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.TRANSIENT
    assert len(pool.of_type(jobs.GetJob)) == 3  # the whole object, three times
    assert len(out) == 1
    assert out[0].error is not None and out[0].error.kind is ErrorKind.CORRUPT
    assert files_under(tmp_path) == []  # no partial file, no temp file


def test_split_get_with_an_md5_etag_is_verified_before_the_rename(tmp_path: Path) -> None:
    good = FakePool(big_get_runner(md5=hashlib.md5(DATA).hexdigest()))
    engine, out = make_engine(good, tmp_path, SPLIT)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.OK
    assert len(good.of_type(jobs.VerifyJob)) == 1
    assert (tmp_path / "obj").read_bytes() == DATA and [r.ok for r in out] == [True]

    bad_dir = tmp_path / "bad"
    bad = FakePool(big_get_runner(md5=hashlib.md5(b"other").hexdigest()))
    engine, out = make_engine(bad, bad_dir, SPLIT)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.TRANSIENT
    assert len(out) == 1 and out[0].error is not None
    assert out[0].error.kind is ErrorKind.CORRUPT
    assert files_under(bad_dir) == []


MD5_SIZES = (300, 300, 172)  # DATA in three parts, as another tool uploaded it


def multipart_etag(data: bytes, sizes: Tuple[int, ...]) -> PartsCheck:
    digests, at = b"", 0
    for size in sizes:
        digests += hashlib.md5(data[at : at + size]).digest()
        at += size
    return PartsCheck("md5", f"{hashlib.md5(digests).hexdigest()}-{len(sizes)}", len(sizes))


def test_a_multipart_etag_is_checked_from_one_range_per_part_without_a_reread(
    tmp_path: Path,
) -> None:
    pool = FakePool(big_get_runner(parts=multipart_etag(DATA, MD5_SIZES), part_sizes=MD5_SIZES))
    engine, out = make_engine(pool, tmp_path, SPLIT)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.OK and [r.ok for r in out] == [True]
    ranges = sorted((p.start, p.end, p.md5) for p in pool.of_type(jobs.GetPartJob))
    assert ranges == [(0, 299, True), (300, 599, True), (600, 771, True)]  # not PART-sized
    assert pool.of_type(jobs.VerifyJob) == []  # the file is not read again
    assert (tmp_path / "obj").read_bytes() == DATA


SMALL_PARTS = (30,) * 25 + (22,)  # DATA as 26 parts, three to a PART-sized range


def composite(data: bytes, sizes: Tuple[int, ...]) -> PartsCheck:
    crcs, at = [], 0
    for size in sizes:
        crcs.append(zlib.crc32(data[at : at + size]).to_bytes(4, "big"))
        at += size
    return PartsCheck("crc32", combine("crc32", crcs), len(sizes))


def small_parts_check(algorithm: str) -> PartsCheck:
    if algorithm == "crc32":
        return composite(DATA, SMALL_PARTS)
    return multipart_etag(DATA, SMALL_PARTS)


@pytest.mark.parametrize("algorithm", ["crc32", "md5"])
def test_small_parts_share_ranges_and_are_each_checked(tmp_path: Path, algorithm: str) -> None:
    check = small_parts_check(algorithm)
    pool = FakePool(big_get_runner(parts=check, part_sizes=SMALL_PARTS), slots=4, lifo=True)
    engine, out = make_engine(pool, tmp_path, SPLIT)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.OK and [r.ok for r in out] == [True]
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
    engine, out = make_engine(pool, tmp_path, SPLIT, max_object_tries=2)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.TRANSIENT
    assert len(pool.of_type(jobs.GetJob)) == 2
    assert len(out) == 1 and out[0].error is not None
    assert out[0].error.kind is ErrorKind.CORRUPT and label(algorithm) in out[0].error.message
    assert files_under(tmp_path) == []


def test_a_damaged_part_of_a_multipart_etag_object_fails_as_corrupt(tmp_path: Path) -> None:
    check = multipart_etag(DATA, MD5_SIZES)
    pool = FakePool(big_get_runner(parts=check, part_sizes=MD5_SIZES, corrupt_part=300))
    engine, out = make_engine(pool, tmp_path, SPLIT, max_object_tries=2)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.TRANSIENT
    assert len(pool.of_type(jobs.GetJob)) == 2
    assert len(out) == 1 and out[0].error is not None
    assert out[0].error.kind is ErrorKind.CORRUPT and "multipart ETag" in out[0].error.message
    assert files_under(tmp_path) == []


def test_a_multipart_etag_object_with_huge_parts_is_read_again_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "MD5_PART_MAX", 299)  # the 300-byte parts are too big
    pool = FakePool(big_get_runner(parts=multipart_etag(DATA, MD5_SIZES), part_sizes=MD5_SIZES))
    engine, out = make_engine(pool, tmp_path, SPLIT)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.OK and [r.ok for r in out] == [True]
    assert {p.md5 for p in pool.of_type(jobs.GetPartJob)} == {False}
    assert len(pool.of_type(jobs.VerifyJob)) == 1
    assert (tmp_path / "obj").read_bytes() == DATA


@pytest.mark.parametrize("slots", [1, 2])
def test_a_failed_part_fails_the_object_once_and_skips_queued_parts(
    tmp_path: Path, slots: int
) -> None:
    pool = FakePool(big_get_runner(fail_part=PART), slots=slots)
    engine, out = make_engine(pool, tmp_path, SPLIT)
    engine.add_get(GetRequest(idx=3, url=URL))
    assert engine.run() is ExitCode.TRANSIENT
    starts = [p.start for p in pool.of_type(jobs.GetPartJob)]
    # The parts queued behind the failure (all but those in flight) never ran.
    assert starts == [0, PART] if slots == 1 else starts == [0, PART, 2 * PART]
    assert len(out) == 1
    assert (out[0].idx, out[0].ok) == (3, False)
    assert out[0].error is not None and out[0].error.kind is ErrorKind.TRANSIENT
    assert files_under(tmp_path) == []  # temp file removed, no final file


def test_a_failed_part_with_every_part_in_flight_still_gives_one_result(tmp_path: Path) -> None:
    pool = FakePool(big_get_runner(fail_part=7 * PART), slots=50, lifo=True)
    engine, out = make_engine(pool, tmp_path, SPLIT)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.TRANSIENT
    assert len(out) == 1 and not out[0].ok
    assert files_under(tmp_path) == []


def test_a_large_get_onto_a_directory_is_a_local_file_error(tmp_path: Path) -> None:
    (tmp_path / "obj").mkdir()
    (tmp_path / "obj" / "inside").write_bytes(b"keep")
    inner = big_get_runner()

    def run(job: Any) -> Any:
        return info_ok(job) if isinstance(job, jobs.InfoJob) else inner(job)

    pool = FakePool(run, slots=1)
    engine, out = make_engine(pool, tmp_path, SPLIT)
    engine.add_get(GetRequest(idx=0, url=URL))
    engine.add(jobs.InfoJob(InfoRequest(idx=1, url="s3://bkt/other")))
    code = engine.run()
    assert sorted((r.idx, r.error.kind if r.error else None) for r in out) == [
        (0, ErrorKind.LOCAL_FILE_ERROR),
        (1, None),
    ]
    assert code is ExitCode.FAILED
    assert (tmp_path / "obj" / "inside").read_bytes() == b"keep"


def test_small_gets_are_not_split(tmp_path: Path) -> None:
    def run(job: Any) -> Any:
        assert isinstance(job, jobs.GetJob)
        return Result(idx=job.req.idx, url=job.req.url, local=job.local, size=1)

    pool = FakePool(run)
    engine, out = make_engine(pool, tmp_path)
    engine.add_get(GetRequest(idx=0, url="s3://bkt/a/b", range="bytes=0-0"))
    engine.add_get(GetRequest(idx=1, url="s3://bkt/a/b"))
    engine.add_get(GetRequest(idx=2, url="s3://bkt/c", local=str(tmp_path / "given")))
    assert engine.run() is ExitCode.OK
    locals_ = {j.req.idx: j.local for j in pool.submitted}
    assert locals_ == {
        0: str(tmp_path / "a" / "b.bytes=0-0"),
        1: str(tmp_path / "a" / "b"),
        2: str(tmp_path / "given"),
    }
    assert sorted(r.idx for r in out) == [0, 1, 2]


def test_an_unsafe_key_fails_without_a_job(tmp_path: Path) -> None:
    pool = FakePool(lambda job: pytest.fail(f"no job should run: {job}"))
    engine, out = make_engine(pool, tmp_path / "d")
    engine.add_get(GetRequest(idx=0, url="s3://bkt/../escape"))
    assert engine.run() is ExitCode.FAILED
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
    engine, out = make_engine(pool, tmp_path)
    engine.add(jobs.ListJob(ListRequest(idx=9, url="s3://bkt/p"), recursive=True, for_get=True))
    assert engine.run() is ExitCode.FAILED  # the '..' key
    assert sorted((r.url, r.ok) for r in out) == [
        ("s3://bkt/p/../x", False),
        ("s3://bkt/p/a", True),
        ("s3://bkt/p/b/c", True),
    ]
    assert {r.idx for r in out} == {9}
    got = sorted(j.local for j in pool.of_type(jobs.GetJob))
    assert got == [str(tmp_path / "p" / "a"), str(tmp_path / "p" / "b" / "c")]


# -------------------------------------------------------------- large uploads

SIZE = 1000


def big_put_runner(
    data: bytes, fail_part: Optional[int] = None, checksum: bool = False
) -> Callable[[Any], Any]:
    def run(job: Any) -> Any:
        if isinstance(job, jobs.PutJob):
            return jobs.SplitPut(upload_id="up-1", size=len(data), checksum=checksum)
        if isinstance(job, jobs.UploadPartJob):
            if job.number == fail_part:
                failure = Result.failure(job.idx, job.url, ErrorKind.ACCESS_DENIED, "no", 1)
                return jobs.PartFailed(failure)
            chunk = data[job.offset : job.offset + job.length]
            return jobs.PartDone(
                job.number, f'"etag-{job.number}"', crc32=zlib.crc32(chunk), length=len(chunk)
            )
        if isinstance(job, jobs.CompleteUploadJob):
            return Result(idx=job.req.idx, url=job.req.url, size=job.size, etag='"x-10"')
        if isinstance(job, jobs.AbortUploadJob):
            return jobs.PartDone()
        raise AssertionError(f"unexpected job {job!r}")

    return run


PUT = PutRequest(idx=2, url=URL, local="/not/read/by/the/engine")


@pytest.mark.parametrize("lifo", [False, True])
def test_split_put_uploads_parts_then_completes_with_sorted_parts(
    tmp_path: Path, lifo: bool
) -> None:
    data = os.urandom(SIZE)
    pool = FakePool(big_put_runner(data, checksum=True), slots=30, lifo=lifo)
    engine, out = make_engine(pool, tmp_path, jobs.Settings(part_size=100, tmp_tag=TAG))
    engine.add(jobs.PutJob(PUT))
    assert engine.run() is ExitCode.OK

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
    engine, out = make_engine(pool, tmp_path, jobs.Settings(part_size=5, tmp_tag=TAG))
    engine.add(jobs.PutJob(PUT))
    assert engine.run() is ExitCode.OK
    parts = pool.of_type(jobs.UploadPartJob)
    assert len(parts) <= 10_000
    assert sum(p.length for p in parts) == size
    assert len(out) == 1


@pytest.mark.parametrize("slots", [1, 4, 30])
def test_a_failed_upload_part_aborts_the_upload_and_fails_once(tmp_path: Path, slots: int) -> None:
    pool = FakePool(big_put_runner(b"x" * SIZE, fail_part=3), slots=slots)
    engine, out = make_engine(pool, tmp_path, jobs.Settings(part_size=100, tmp_tag=TAG))
    engine.add(jobs.PutJob(PUT))
    assert engine.run() is ExitCode.FAILED
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
    engine, out = make_engine(pool, tmp_path, jobs.Settings(part_size=100, tmp_tag=TAG))
    engine.add(jobs.PutJob(PUT))
    assert engine.run() is ExitCode.FAILED
    assert [r.error.kind for r in out if r.error] == [ErrorKind.ACCESS_DENIED]


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_in_flight_upload_parts_never_exceed_the_limit(tmp_path: Path, limit: int) -> None:
    pool = FakePool(big_put_runner(b"y" * SIZE), slots=50)
    engine, out = make_engine(
        pool, tmp_path, jobs.Settings(part_size=100, tmp_tag=TAG), max_upload_parts=limit
    )
    engine.add(jobs.PutJob(PUT))
    engine.add(jobs.PutJob(PutRequest(idx=3, url=URL + "2", local="/x")))
    assert engine.run() is ExitCode.OK
    assert pool.peak_upload_parts == limit
    assert len(pool.of_type(jobs.UploadPartJob)) == 20
    assert sorted(r.idx for r in out) == [2, 3]


# ------------------------------------------------------------- worker deaths


def dies(times: Dict[str, int], then: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A runner whose worker dies ``times[url]`` times on the first job for ``url``."""

    def run(job: Any) -> Any:
        url = jobs.job_ident(job)[1]
        if times.get(url, 0) > 0:
            times[url] -= 1
            return DIE
        return then(job)

    return run


def info_ok(job: Any) -> Any:
    return Result(idx=job.req.idx, url=job.req.url, size=1)


def test_the_jobs_of_a_dead_worker_are_requeued(tmp_path: Path) -> None:
    pool = FakePool(dies({"s3://bkt/a": 2}, info_ok))
    engine, out = make_engine(pool, tmp_path, max_deaths=3)
    engine.add(jobs.InfoJob(InfoRequest(idx=0, url="s3://bkt/a")))
    engine.add(jobs.InfoJob(InfoRequest(idx=1, url="s3://bkt/b")))
    assert engine.run() is ExitCode.OK
    assert [j.req.url for j in pool.submitted].count("s3://bkt/a") == 3
    assert sorted((r.idx, r.ok) for r in out) == [(0, True), (1, True)]


def test_a_job_that_kills_max_deaths_workers_fails_as_worker_died(tmp_path: Path) -> None:
    pool = FakePool(dies({"s3://bkt/a": 100}, info_ok))
    engine, out = make_engine(pool, tmp_path, max_deaths=3)
    engine.add(jobs.InfoJob(InfoRequest(idx=0, url="s3://bkt/a")))
    engine.add(jobs.InfoJob(InfoRequest(idx=1, url="s3://bkt/b")))
    assert engine.run() is ExitCode.TRANSIENT
    assert [j.req.url for j in pool.submitted].count("s3://bkt/a") == 3
    failed = [r for r in out if not r.ok]
    assert len(out) == 2 and len(failed) == 1
    assert failed[0].error is not None and failed[0].error.kind is ErrorKind.WORKER_DIED
    assert (failed[0].idx, failed[0].url) == (0, "s3://bkt/a")


def test_a_dead_upload_part_is_requeued_without_leaking_its_slot(tmp_path: Path) -> None:
    # With one upload part allowed in flight, a leaked count would stall the engine.
    state = {"died": False}
    inner = big_put_runner(b"q" * 300)

    def run(job: Any) -> Any:
        if isinstance(job, jobs.UploadPartJob) and job.number == 2 and not state["died"]:
            state["died"] = True
            return DIE
        return inner(job)

    pool = FakePool(run, slots=10)
    engine, out = make_engine(
        pool, tmp_path, jobs.Settings(part_size=100, tmp_tag=TAG), max_upload_parts=1
    )
    engine.add(jobs.PutJob(PUT))
    assert engine.run() is ExitCode.OK
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
    engine, out = make_engine(pool, tmp_path, SPLIT, max_deaths=2)
    engine.add_get(GetRequest(idx=0, url=URL))
    assert engine.run() is ExitCode.TRANSIENT
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
    engine, out = make_engine(pool, tmp_path, allow_missing=allow_missing)
    for i, url in enumerate(by_url):
        engine.add(jobs.InfoJob(InfoRequest(idx=i, url=url)))
    assert engine.run() is code
    assert engine.exit_code is code
    assert len(out) == len(kinds)


def test_a_listing_emits_every_result_it_returns(tmp_path: Path) -> None:
    def run(job: Any) -> Any:
        return [Result(idx=job.req.idx, url=f"s3://bkt/p/{n}", size=n) for n in range(5)] + [
            Result(idx=job.req.idx, url="s3://bkt/p/sub/", is_prefix=True)
        ]

    pool = FakePool(run)
    engine, out = make_engine(pool, tmp_path)
    engine.add(jobs.ListJob(ListRequest(idx=4, url="s3://bkt/p"), recursive=False))
    assert engine.run() is ExitCode.OK
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
    engine, out = make_engine(pool, tmp_path)
    engine.add(jobs.ListJob(ListRequest(idx=4, url="s3://bkt/p"), recursive=True))
    assert engine.run() is ExitCode.OK
    assert sorted(r.url for r in out) == [f"s3://bkt/p/{n}-{i}" for n in range(3) for i in range(2)]
    assert [j.token for j in pool.of_type(jobs.ListJob)] == [None, "1", "2"]


def test_a_listing_that_fails_midway_ends_with_its_error(tmp_path: Path) -> None:
    pool = FakePool(_paged(3, fail_at=1))
    engine, out = make_engine(pool, tmp_path)
    engine.add(jobs.ListJob(ListRequest(idx=4, url="s3://bkt/p"), recursive=True))
    assert engine.run() is ExitCode.TRANSIENT
    assert [r.ok for r in out] == [True, True, False]  # page 0, then the error
    assert len(pool.of_type(jobs.ListJob)) == 2


def test_a_recursive_get_downloads_while_it_lists(tmp_path: Path) -> None:
    pool = FakePool(_paged(3), slots=2)
    engine, out = make_engine(pool, tmp_path)
    engine.add(jobs.ListJob(ListRequest(idx=9, url="s3://bkt/p"), recursive=True, for_get=True))
    assert engine.run() is ExitCode.OK
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
    engine, out = make_engine(pool, dest)
    engine.add_get(GetRequest(idx=0, url="s3://bkt/obj"))
    engine.add_get(GetRequest(idx=1, url="s3://bkt/sub/x"))
    assert engine.run() is ExitCode.FAILED
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
    engine, out = make_engine(pool, tmp_path, SPLIT)
    engine.add_get(GetRequest(idx=0, url=URL))
    with pytest.raises(Interrupt):
        engine.run()
    assert files_under(tmp_path) == []
    assert out == []

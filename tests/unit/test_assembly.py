"""The large-object state machines (``s3op.assembly``) driven with synthetic part
events: no pool, no scheduler, no server. A download's parts are "fetched" by
the fake worker of ``scheduler_fakes`` (bytes written into the real temp file,
digests as a worker reports them), then fed back in any order.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import random
import zlib
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

import pytest

from s3op import jobs
from s3op.assembly import NOTHING, Step
from s3op.assembly import download as download_module
from s3op.assembly.download import DownloadAssembly, plan_ranges
from s3op.assembly.upload import MAX_UPLOAD_PARTS, UploadAssembly
from s3op.parts import PartsCheck
from s3op.protocol import ErrorKind, GetRequest, PutRequest, RangeServed, Result
from tests.unit.scheduler_fakes import (
    DATA,
    MD5_SIZES,
    PART,
    SMALL_PARTS,
    SPLIT,
    URL,
    big_get_runner,
    files_under,
    multipart_etag,
    small_parts_check,
)


def no_promises(device: int) -> int:
    return 0


def new_download(
    tmp_path: Path,
    crc32: Optional[int] = None,
    md5: Optional[str] = None,
    parts: Optional[PartsCheck] = None,
    part_sizes: Tuple[int, ...] = (),
    attempt: int = 1,
    max_tries: int = 3,
    settings: jobs.Settings = SPLIT,
) -> Tuple[DownloadAssembly, Step]:
    """A download of DATA to tmp_path/obj, started: (assembly, its first step)."""
    job = jobs.GetJob(GetRequest(idx=7, url=URL), str(tmp_path / "obj"), attempt)
    head = Result(idx=7, url=URL, local=job.local, size=len(DATA), etag='"e1"', attempts=2)
    split = jobs.SplitGet(head, '"e1"', crc32, md5, parts, part_sizes)
    assembly = DownloadAssembly(job, split, settings, max_tries)
    return assembly, assembly.start(no_promises)


def fetch_all(
    assembly: DownloadAssembly, step: Step, worker: Callable[[Any], Any], seed: int = 0
) -> List[Step]:
    """Run every part job of ``step`` (each one writes its bytes), then answer
    them all in a shuffled order: the steps the answers gave, in that order."""
    answers = [worker(job) for job in step.parts]
    random.Random(seed).shuffle(answers)
    return [
        assembly.part_done(a) if isinstance(a, jobs.PartDone) else assembly.part_failed(a.result)
        for a in answers
    ]


# ------------------------------------------------------------------ downloads


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parts_in_any_order_commit_once_with_the_right_crc32(tmp_path: Path, seed: int) -> None:
    crc = zlib.crc32(DATA)
    assembly, first = new_download(tmp_path, crc32=crc)
    assert first.result is None and first.jobs == () and first.cleanup == ()
    assert all(isinstance(j, jobs.GetPartJob) and j.checksum for j in first.parts)
    assert {j.etag for j in first.parts} == {'"e1"'}  # every range pinned to the first GET's
    steps = fetch_all(assembly, first, big_get_runner(crc32=crc), seed)
    assert steps[:-1] == [NOTHING] * (len(steps) - 1)
    last = steps[-1]
    assert last.parts == () and last.jobs == () and last.result is not None
    assert last.result.ok and last.result.local == str(tmp_path / "obj")
    assert last.result.range == RangeServed(0, len(DATA) - 1, len(DATA))
    assert last.result.attempts == 2  # the most any request needed: the first GET's
    assert (tmp_path / "obj").read_bytes() == DATA
    assert files_under(tmp_path) == ["obj"]


def test_a_crc32_mismatch_asks_for_the_whole_object_again(tmp_path: Path) -> None:
    assembly, first = new_download(tmp_path, crc32=zlib.crc32(DATA), attempt=1, max_tries=3)
    steps = fetch_all(assembly, first, big_get_runner(crc32=zlib.crc32(DATA), corrupt_part=PART))
    last = steps[-1]
    assert last.result is None and last.parts == ()
    (again,) = last.jobs
    assert again == jobs.GetJob(GetRequest(idx=7, url=URL), str(tmp_path / "obj"), attempt=2)
    assert assembly.failed and files_under(tmp_path) == []
    assert assembly.part_done(jobs.PartDone(0, length=1)) == NOTHING  # a straggler: ignored


def test_a_mismatch_on_the_last_try_is_corrupt(tmp_path: Path) -> None:
    crc = zlib.crc32(DATA)
    assembly, first = new_download(tmp_path, crc32=crc, attempt=3, max_tries=3)
    last = fetch_all(assembly, first, big_get_runner(crc32=crc, corrupt_part=0))[-1]
    assert last.jobs == () and last.result is not None and last.result.error is not None
    assert last.result.error.kind is ErrorKind.CORRUPT
    assert (
        "CRC32" in last.result.error.message
        and "3 whole-object attempts" in last.result.error.message
    )
    assert last.result.attempts == 3
    assert files_under(tmp_path) == []


def test_a_short_file_is_a_size_mismatch(tmp_path: Path) -> None:
    assembly, first = new_download(tmp_path, attempt=2, max_tries=2)
    assert files_under(tmp_path) == [Path(assembly.tmp).name]  # preallocated: full size
    with open(assembly.tmp, "r+b") as f:
        f.truncate(len(DATA) - 1)  # as if a range had come back short
    steps = [assembly.part_done(jobs.PartDone(j.number)) for j in first.parts]
    result = steps[-1].result
    assert result is not None and result.error is not None
    assert result.error.kind is ErrorKind.CORRUPT
    assert f"assembled {len(DATA) - 1} of {len(DATA)} bytes" in result.error.message


@pytest.mark.parametrize("algorithm", ["crc32", "md5"])
def test_a_damaged_piece_fails_the_parts_check(tmp_path: Path, algorithm: str) -> None:
    check = small_parts_check(algorithm)
    assembly, first = new_download(tmp_path, parts=check, part_sizes=SMALL_PARTS, max_tries=1)
    worker = big_get_runner(parts=check, part_sizes=SMALL_PARTS, corrupt_at=45)
    result = fetch_all(assembly, first, worker)[-1].result
    assert result is not None and result.error is not None
    assert result.error.kind is ErrorKind.CORRUPT and "mismatch" in result.error.message
    assert check.expected in result.error.message


def test_a_plain_md5_etag_asks_for_a_second_read_then_commits(tmp_path: Path) -> None:
    assembly, first = new_download(tmp_path, md5=hashlib.md5(DATA).hexdigest())
    assert not any(j.checksum or j.md5 for j in first.parts)  # nothing to digest in flight
    last = fetch_all(assembly, first, big_get_runner())[-1]
    (verify,) = last.parts
    assert isinstance(verify, jobs.VerifyJob) and verify.path == assembly.tmp
    assert last.result is None and files_under(tmp_path) == [Path(assembly.tmp).name]
    done = assembly.part_done(jobs.PartDone())  # what the second read answers when it matches
    assert done.result is not None and done.result.ok
    assert (tmp_path / "obj").read_bytes() == DATA


def test_a_failed_second_read_starts_the_object_over(tmp_path: Path) -> None:
    assembly, first = new_download(tmp_path, md5="0" * 32)
    fetch_all(assembly, first, big_get_runner())
    bad = Result.failure(7, URL, ErrorKind.CORRUPT, "MD5 mismatch: assembled x, object y")
    step = assembly.part_failed(bad)
    assert step.result is None and [j.attempt for j in step.jobs] == [2]
    assert files_under(tmp_path) == []


def test_a_multipart_etag_with_small_parts_is_checked_from_the_ranges(tmp_path: Path) -> None:
    check = multipart_etag(DATA, MD5_SIZES)
    assembly, first = new_download(tmp_path, parts=check, part_sizes=MD5_SIZES)
    assert [(j.start, j.end, j.md5) for j in first.parts] == [
        (0, 299, True),
        (300, 599, True),
        (600, 771, True),
    ]
    last = fetch_all(assembly, first, big_get_runner(), seed=5)[-1]
    assert last.parts == () and last.result is not None and last.result.ok


def test_a_failed_part_fails_the_object_once(tmp_path: Path) -> None:
    assembly, first = new_download(tmp_path)
    failure = Result.failure(7, URL, ErrorKind.TRANSIENT, "reset", 6)
    step = assembly.part_failed(failure)
    assert step == Step(result=failure) and assembly.failed
    assert files_under(tmp_path) == []
    assert assembly.part_failed(failure) == NOTHING  # another part's failure: nothing new
    assert assembly.part_done(jobs.PartDone(1, length=PART)) == NOTHING


def test_no_room_for_the_temp_file_fails_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, size: int, promised: Callable[[int], int]) -> Optional[int]:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download_module, "make_room", full)
    assembly, first = new_download(tmp_path)
    assert first.parts == () and first.result is not None and first.result.error is not None
    assert first.result.error.kind is ErrorKind.OUT_OF_DISK
    assert first.result.error.message == f"No space left on device: {tmp_path / 'obj'}"
    assert first.result.attempts == 1
    assert files_under(tmp_path) == []


def test_a_sparse_temp_file_counts_until_the_object_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    promised: List[int] = []

    def sparse(fd: int, size: int, promise: Callable[[int], int]) -> Optional[int]:
        promised.append(promise(42))
        return 42

    monkeypatch.setattr(download_module, "make_room", sparse)
    assembly = DownloadAssembly(
        jobs.GetJob(GetRequest(idx=0, url=URL), str(tmp_path / "obj")),
        jobs.SplitGet(Result(idx=0, url=URL, local=str(tmp_path / "obj"), size=500), '"e"'),
        SPLIT,
        3,
    )
    assembly.start(lambda device: 1000 if device == 42 else 0)
    assert promised == [1000]
    assert (assembly.sparse_bytes(42), assembly.sparse_bytes(7)) == (500, 0)
    assembly.part_failed(Result.failure(0, URL, ErrorKind.TRANSIENT, "x"))
    assert assembly.sparse_bytes(42) == 0


def test_without_info_the_result_carries_only_where_it_went(tmp_path: Path) -> None:
    settings = dataclasses.replace(SPLIT, info=False)
    assembly, first = new_download(tmp_path, settings=settings)
    result = fetch_all(assembly, first, big_get_runner())[-1].result
    assert result is not None and result.ok and result.etag is None
    assert (result.local, result.size) == (str(tmp_path / "obj"), len(DATA))


def test_discard_removes_the_temp_file(tmp_path: Path) -> None:
    assembly, _ = new_download(tmp_path)
    assembly.discard()
    assert files_under(tmp_path) == []


def test_ranges_never_cross_a_part_boundary_when_checked_by_parts() -> None:
    head = Result(idx=0, url=URL, local="/x", size=len(DATA))
    check = multipart_etag(DATA, MD5_SIZES)
    split = jobs.SplitGet(head, '"e"', parts=check, part_sizes=MD5_SIZES)
    assert [r[1:3] for r in plan_ranges(split, SPLIT)] == [(0, 300), (300, 300), (600, 172)]
    unchecked = dataclasses.replace(SPLIT, verify=False)  # no check: plain part_size ranges
    assert [r[1:3] for r in plan_ranges(split, unchecked)][:2] == [(0, PART), (PART, PART)]


# -------------------------------------------------------------------- uploads

PUT = jobs.PutJob(PutRequest(idx=4, url=URL, local="/data/file"))


def part_answer(job: jobs.UploadPartJob, data: bytes) -> jobs.PartDone:
    chunk = data[job.offset : job.offset + job.length]
    return jobs.PartDone(job.number, f'"e{job.number}"', zlib.crc32(chunk), len(chunk))


@pytest.mark.parametrize("seed", [0, 3])
def test_an_upload_completes_once_with_its_parts_in_order(seed: int) -> None:
    data = bytes(range(250)) * 4
    assembly = UploadAssembly(PUT, jobs.SplitPut("up-9", len(data), checksum=True), SPLIT)
    first = assembly.start()
    assert [(j.number, j.offset, j.length) for j in first.parts] == [
        (n + 1, n * PART, PART) for n in range(10)
    ]
    answers = [part_answer(j, data) for j in first.parts]
    random.Random(seed).shuffle(answers)
    steps = [assembly.part_done(a) for a in answers]
    assert steps[:-1] == [NOTHING] * 9
    (complete,) = steps[-1].jobs
    assert isinstance(complete, jobs.CompleteUploadJob) and steps[-1].result is None
    assert [p[:2] for p in complete.parts] == [(n, f'"e{n}"') for n in range(1, 11)]
    assert (complete.upload_id, complete.size, complete.crc32) == ("up-9", 1000, zlib.crc32(data))


def test_an_upload_without_checksums_completes_without_a_crc32() -> None:
    assembly = UploadAssembly(PUT, jobs.SplitPut("u", 250), SPLIT)
    steps = [assembly.part_done(part_answer(j, b"a" * 250)) for j in assembly.start().parts]
    (complete,) = steps[-1].jobs
    assert isinstance(complete, jobs.CompleteUploadJob) and complete.crc32 is None


def test_a_failed_upload_part_aborts_once_and_never_completes() -> None:
    assembly = UploadAssembly(PUT, jobs.SplitPut("up-9", 1000), SPLIT)
    first = assembly.start()
    assert assembly.part_done(part_answer(first.parts[0], b"z" * 1000)) == NOTHING
    failure = Result.failure(4, URL, ErrorKind.ACCESS_DENIED, "no", 1)
    step = assembly.part_failed(failure)
    assert step.result == failure and step.jobs == () and step.parts == ()
    assert step.cleanup == (jobs.AbortUploadJob(4, URL, "up-9"),)
    rest = [assembly.part_done(part_answer(j, b"z" * 1000)) for j in first.parts[1:]]
    assert rest == [NOTHING] * 9  # no complete after the abort
    assert assembly.part_failed(failure) == NOTHING


def test_an_upload_never_has_more_parts_than_s3_allows() -> None:
    size = MAX_UPLOAD_PARTS * 5 + 1
    assembly = UploadAssembly(
        PUT, jobs.SplitPut("u", size), dataclasses.replace(SPLIT, part_size=5)
    )
    parts = assembly.start().parts
    assert len(parts) <= MAX_UPLOAD_PARTS
    assert sum(j.length for j in parts if isinstance(j, jobs.UploadPartJob)) == size

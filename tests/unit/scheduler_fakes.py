"""A fake pool and fake workers for driving ``s3op.scheduler.Scheduler`` in-process.

The fake pool runs each job synchronously with a test-supplied function when
the scheduler polls, and answers with the real ``Done`` / ``Died`` events.
Part downloads really write into the download's preallocated temp file
(os.pwrite), so assembly, rename and cleanup happen on a real directory.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from s3op import jobs
from s3op.ops.get import run_verify
from s3op.parts import PartsCheck, PieceDigests, combine
from s3op.pool import Died, Done
from s3op.protocol import ErrorKind, PutRequest, Result
from s3op.scheduler import Scheduler

URL = "s3://bkt/obj"
TAG = "aaaa1111bbbb"

#: A runner returns this to make the fake pool report the job's worker as dead.
DIE = object()


class FakePool:
    """Implements the four calls the scheduler makes on a Pool; runs jobs when polled."""

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
                raise AssertionError("the scheduler keeps waiting on an idle pool: it would hang")
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


def make_scheduler(
    pool: FakePool, dest: Path, settings: Optional[jobs.Settings] = None, **kw: Any
) -> Tuple[Scheduler, List[Result]]:
    out: List[Result] = []

    def collect(item: Union[Result, jobs.Found]) -> None:
        out.extend(item.results() if isinstance(item, jobs.Found) else [item])

    scheduler = Scheduler(
        pool,  # type: ignore[arg-type]
        settings or jobs.Settings(tmp_tag=TAG),
        collect,
        destination=str(dest),
        **kw,
    )
    return scheduler, out


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

MD5_SIZES = (300, 300, 172)  # DATA in three parts, as another tool uploaded it


def multipart_etag(data: bytes, sizes: Tuple[int, ...]) -> PartsCheck:
    digests, at = b"", 0
    for size in sizes:
        digests += hashlib.md5(data[at : at + size]).digest()
        at += size
    return PartsCheck("md5", f"{hashlib.md5(digests).hexdigest()}-{len(sizes)}", len(sizes))


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

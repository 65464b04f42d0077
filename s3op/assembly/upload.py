"""A multipart upload: create, parts, complete, or abort on failure.

The first job of a large put creates the multipart upload and answers
``SplitPut`` (the upload id). An ``UploadAssembly`` then asks for the
file's parts as ``UploadPartJob``s (``s3op.upload_split``: up to
``part_size`` each, smaller for a file of fewer than 24 such parts), keeps
each part's ETag and CRC32 as it lands, and when the last one is in asks
for the ``CompleteUploadJob`` (with the whole object's CRC32 when the
upload was created with one), whose result is the request's. A part that fails for good fails the
request with that part's error, and asks for an ``AbortUploadJob`` (its
own failure is nobody's result: the scheduler queues it as clean-up).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from s3op.assembly import NOTHING, Step
from s3op.checksum import crc32_of_parts
from s3op.jobs import (
    AbortUploadJob,
    CompleteUploadJob,
    Job,
    PartDone,
    PutJob,
    Settings,
    SplitPut,
    UploadPartJob,
)
from s3op.protocol import Result
from s3op.upload_split import MAX_UPLOAD_PARTS, upload_spans


class PartsAssembly:
    """A multipart upload being filled (by uploads or copies): its parts land in any
    order; after the last one, one job completes it; a part failed for good fails
    the request and aborts the upload."""

    def __init__(self, ident: Tuple[int, str], upload_id: str) -> None:
        self.ident = ident  # the request's (idx, url)
        self.upload_id = upload_id
        self.left = 0  # parts still to answer
        self.parts: Dict[int, PartDone] = {}  # part number -> what its part answered
        self.failed = False

    def part_done(self, done: PartDone) -> Step:
        """A part is in: after the last one, complete the upload."""
        if self.failed:
            return NOTHING
        self.left -= 1
        self.parts[done.number] = done
        if self.left > 0:
            return NOTHING
        return Step(jobs=(self._complete(),))

    def part_failed(self, result: Result) -> Step:
        """A part failed for good: the request fails with it; abort the upload."""
        if self.failed:
            return NOTHING
        self.failed = True
        idx, url = self.ident
        return Step(cleanup=(AbortUploadJob(idx, url, self.upload_id),), result=result)

    def sparse_bytes(self, device: int) -> int:
        """An upload writes no local file: 0."""
        return 0

    def discard(self) -> None:
        """Nothing local to remove (an upload left unfinished is S3's to expire)."""

    def _complete(self) -> Job:
        raise NotImplementedError


class UploadAssembly(PartsAssembly):
    """One multipart upload in progress."""

    def __init__(self, job: PutJob, split: SplitPut, settings: Settings) -> None:
        super().__init__((job.req.idx, job.req.url), split.upload_id)
        self.job = job
        self.split = split
        self.part_size = settings.part_size  # the most a part may be (``upload_spans``)

    def start(self) -> Step:
        """Ask for every part (numbered from 1, as S3 numbers them)."""
        req, upload_id = self.job.req, self.split.upload_id
        ranges = upload_spans(self.split.size, self.part_size)
        self.left = len(ranges)
        return Step(
            parts=tuple(
                UploadPartJob(req.idx, req.url, upload_id, number, req.local, offset, length)
                for number, (offset, length) in enumerate(ranges, start=1)
            )
        )

    def _complete(self) -> CompleteUploadJob:
        done = [self.parts[n] for n in sorted(self.parts)]
        parts = tuple((d.number, d.etag or "", d.crc32) for d in done)
        crc: Optional[int] = None
        if self.split.checksum and all(d.crc32 is not None for d in done):
            crc = crc32_of_parts((d.crc32 or 0, d.length) for d in done)
        return CompleteUploadJob(self.job.req, self.split.upload_id, parts, self.split.size, crc)


__all__ = ["MAX_UPLOAD_PARTS", "PartsAssembly", "UploadAssembly"]

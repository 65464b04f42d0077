"""A multipart copy: create, parts copied server-side, complete, or abort on failure.

The first job of a large copy HEADs the source and creates the multipart
upload, answering ``SplitCopy``. A ``CopyAssembly`` then asks for the
source's ranges as ``CopyPartJob``s (``UploadPartCopy``, pinned to the
source's ETag), which the pool runs in parallel; it keeps each part's ETag
and CRC32 as it lands, and after the last one asks for the
``CompleteCopyJob`` (with the parts' combined CRC32, held to the source's
before anything is completed). A part that fails for good fails the
request and aborts the upload, as ``s3op.assembly.upload`` does for puts.
"""

from __future__ import annotations

from typing import Dict, Optional

from s3op.assembly import NOTHING, Step
from s3op.assembly.upload import MAX_UPLOAD_PARTS
from s3op.checksum import crc32_of_parts, spans
from s3op.jobs import (
    AbortUploadJob,
    CompleteCopyJob,
    CopyJob,
    CopyPartJob,
    PartDone,
    Settings,
    SplitCopy,
)
from s3op.protocol import Result

#: S3's largest part, for UploadPartCopy as for UploadPart.
MAX_PART = 5 * 1024**3


class CopyAssembly:
    """One multipart copy in progress."""

    def __init__(self, job: CopyJob, split: SplitCopy, settings: Settings) -> None:
        self.job = job
        self.split = split
        self.part_size = min(MAX_PART, max(settings.part_size, -(-split.size // MAX_UPLOAD_PARTS)))
        self.left = 0  # parts still to answer
        self.parts: Dict[int, PartDone] = {}
        self.failed = False

    def start(self) -> Step:
        """Ask for every part (numbered from 1)."""
        req, split = self.job.req, self.split
        ranges = spans(split.size, self.part_size)
        self.left = len(ranges)
        return Step(
            parts=tuple(
                CopyPartJob(
                    req.idx,
                    req.url,
                    split.upload_id,
                    number,
                    req.source,
                    split.etag,
                    offset,
                    offset + length - 1,
                )
                for number, (offset, length) in enumerate(ranges, start=1)
            )
        )

    def part_done(self, done: PartDone) -> Step:
        """A part is copied: after the last one, complete the copy."""
        if self.failed:
            return NOTHING
        self.left -= 1
        self.parts[done.number] = done
        return NOTHING if self.left > 0 else Step(jobs=(self._complete(),))

    def part_failed(self, result: Result) -> Step:
        """A part failed for good: the request fails with it; abort the upload."""
        if self.failed:
            return NOTHING
        self.failed = True
        req = self.job.req
        return Step(
            cleanup=(AbortUploadJob(req.idx, req.url, self.split.upload_id),), result=result
        )

    def sparse_bytes(self, device: int) -> int:
        """A copy writes no local file: 0."""
        return 0

    def discard(self) -> None:
        """Nothing local to remove."""

    def _complete(self) -> CompleteCopyJob:
        done = [self.parts[n] for n in sorted(self.parts)]
        parts = tuple((d.number, d.etag or "", d.crc32) for d in done)
        crc: Optional[int] = None
        if self.split.checksum and all(d.crc32 is not None for d in done):
            crc = crc32_of_parts((d.crc32 or 0, d.length) for d in done)
        split = self.split
        return CompleteCopyJob(
            self.job.req, split.upload_id, parts, split.size, crc, split.source_crc32
        )


__all__ = ["CopyAssembly"]

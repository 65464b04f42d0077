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

from typing import Optional

from s3op.assembly import Step
from s3op.assembly.upload import MAX_UPLOAD_PARTS, PartsAssembly
from s3op.checksum import crc32_of_parts, spans
from s3op.jobs import CompleteCopyJob, CopyJob, CopyPartJob, Settings, SplitCopy

#: S3's largest part, for UploadPartCopy as for UploadPart.
MAX_PART = 5 * 1024**3


class CopyAssembly(PartsAssembly):
    """One multipart copy in progress."""

    def __init__(self, job: CopyJob, split: SplitCopy, settings: Settings) -> None:
        super().__init__((job.req.idx, job.req.url), split.upload_id)
        self.job = job
        self.split = split
        self.part_size = min(MAX_PART, max(settings.part_size, -(-split.size // MAX_UPLOAD_PARTS)))

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

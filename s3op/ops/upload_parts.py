"""The parts of a multipart upload, its complete and its abort (the parent plans
them: ``s3op.assembly.upload``; ``s3op.ops.put`` starts the upload).

Each part goes with its CRC32, and with ``Content-MD5`` only to a server that
echoes no CRC32 (``s3op.ops.upload_check``: how the answer is checked); it is
streamed from the file, never held in memory whole (``sendfile`` on plain
HTTP with no bandwidth cap). The
complete is conditional with no-overwrite, and a 412 is resolved as a
single PUT's is (``put.resolve_exists``); a failed complete aborts the
upload so no parts linger.
"""

from __future__ import annotations

import os
from typing import Union

from s3op.checksum import crc32_b64
from s3op.errors import OpError
from s3op.jobs import (
    AbortUploadJob,
    CompleteUploadJob,
    PartDone,
    PartFailed,
    UploadPartJob,
)
from s3op.ops import OpContext, failed
from s3op.ops.put import (
    _abort,
    _check_multipart_etag,
    _part_entry,
    body_digests,
    checksum_args,
    resolve_exists,
)
from s3op.protocol import ErrorKind, Result, parse_url
from s3op.retry import Deadline, Failure, run_with_retries
from s3op.transport import FileSlice


def run_upload_part(ctx: OpContext, job: UploadPartJob) -> Union[PartDone, PartFailed]:
    """Upload one part with its CRC32, checked by the server's echo of it (or the
    ETag's MD5: ``s3op.ops.upload_check``)."""
    loc = parse_url(job.url)

    def attempt(deadline: Deadline) -> PartDone:
        # Digests first (one pass), then the part streams from the file:
        # no part is ever held in memory whole.
        if os.path.getsize(job.local) < job.offset + job.length:
            raise OpError(ErrorKind.LOCAL_FILE_ERROR, f"{job.local} shrank while uploading")
        digests = body_digests(loc.bucket, job.local, job.offset, job.length)
        with open(job.local, "rb") as f:
            resp = ctx.transport.upload_part(
                Bucket=loc.bucket,
                Key=loc.key,
                UploadId=job.upload_id,
                PartNumber=job.number,
                Body=FileSlice(f, job.offset, job.length),
                **checksum_args(digests),
            )
        digests.verify(resp)
        return PartDone(job.number, resp["ETag"], digests.crc, job.length)

    out = run_with_retries(attempt, ctx.policy, ctx.on_throttle)
    if isinstance(out, Failure):
        return PartFailed(failed(job.idx, job.url, out))
    return out


def run_complete(ctx: OpContext, job: CompleteUploadJob) -> Result:
    """Complete a multipart upload (conditionally with no-overwrite)."""
    req = job.req
    loc = parse_url(req.url)
    parts = [_part_entry(n, etag, crc, job.crc32) for n, etag, crc in sorted(job.parts)]
    full = job.crc32 is not None

    def attempt(deadline: Deadline) -> Result:
        resp = ctx.transport.complete_multipart_upload(
            Bucket=loc.bucket,
            Key=loc.key,
            UploadId=job.upload_id,
            MultipartUpload={"Parts": parts},
            IfNoneMatch="*" if ctx.settings.no_overwrite else None,
            ChecksumCRC32=crc32_b64(job.crc32) if job.crc32 is not None else None,
            ChecksumType="FULL_OBJECT" if full else None,
        )
        _check_multipart_etag(resp.get("ETag"), [etag for _, etag, _ in sorted(job.parts)])
        return Result(idx=req.idx, url=req.url, size=job.size, etag=resp.get("ETag"))

    out = run_with_retries(attempt, ctx.policy, ctx.on_throttle)
    if isinstance(out, Failure):
        _abort(ctx, loc.bucket, loc.key, job.upload_id)
        if out.kind is ErrorKind.PRECONDITION_FAILED and ctx.settings.no_overwrite:
            return resolve_exists(ctx, req, loc.bucket, loc.key, out)
        return failed(req.idx, req.url, out)
    return out


def run_abort(ctx: OpContext, job: AbortUploadJob) -> PartDone:
    """Abort a multipart upload after a part failed."""
    loc = parse_url(job.url)
    _abort(ctx, loc.bucket, loc.key, job.upload_id)
    return PartDone()

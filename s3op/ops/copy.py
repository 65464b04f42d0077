"""Copy one object server-side: a CopyObject, or a multipart copy driven by the parent.

The source is HEADed first: a missing source is ``not_found`` and the
destination is never touched; its ETag pins every later request to that
version (``CopySourceIfMatch``: a source replaced meanwhile fails as
``precondition_failed`` rather than copying a mix); its size decides
between one CopyObject and a multipart copy (at the multipart threshold,
and always over S3's 5 GiB limit for CopyObject); its content type,
metadata and encryption are kept unless the request gives new ones.

The copy is held to the source (``check_copy``): the CRC32 S3 computed
for the copy must equal the source's when the source has a full-object
CRC32; else a plain-MD5 ETag must come back unchanged. An answer that
does not say (no ETag, an unreadable one) is ``corrupt``, retried like any
other, and never accepted. A multipart copy asks each part's CRC32 when
the source has one, combines them, and refuses to complete a copy whose
CRC32 differs from the source's; its complete's ETag must be the MD5 of
the parts' ETags. A dry run HEADs the source and copies nothing.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Union

from s3op.checksum import crc32_b64, crc32_from_b64
from s3op.errors import OpError
from s3op.jobs import CompleteCopyJob, CopyJob, CopyPartJob, PartDone, PartFailed, SplitCopy
from s3op.ops import OpContext, failed, invalid
from s3op.ops.info import head
from s3op.ops.put import _abort, _check_multipart_etag, _part_entry
from s3op.protocol import (
    CopyRequest,
    ErrorKind,
    Result,
    S3Url,
    encode_metadata,
    parse_object_url,
    parse_url,
)
from s3op.retry import Deadline, Failure, run_with_retries
from s3op.transport import S3Answer

#: The largest object one CopyObject may copy; bigger ones must be copied in parts.
MAX_SINGLE_COPY = 5 * 1024**3


@dataclass(frozen=True)
class Source:
    """What the HEAD of a copy's source said."""

    loc: S3Url
    size: int
    etag: str
    crc32: Optional[int]  # full-object CRC32, when the source has one
    answer: S3Answer  # the HEAD's answer (content type, metadata, encryption)

    @property
    def ref(self) -> Mapping[str, str]:
        """``CopySource`` of the copy requests."""
        return {"Bucket": self.loc.bucket, "Key": self.loc.key}


@dataclass(frozen=True)
class CopyArgs:
    """What the destination gets besides the bytes."""

    replace: bool  # new content type or metadata given: MetadataDirective REPLACE
    content_type: Optional[str]
    metadata: Optional[Mapping[str, str]]
    encryption: Optional[str]
    kms_key: Optional[str]


def run_copy(ctx: OpContext, job: CopyJob) -> Union[Result, SplitCopy]:
    """Copy ``job.req.source`` to ``job.req.url`` (or start its multipart copy)."""
    req = job.req
    try:
        dst, src_loc = parse_object_url(req.url), parse_object_url(req.source)
    except ValueError as exc:
        return invalid(req.idx, req.url, ErrorKind.INVALID_URL, str(exc))
    try:
        new_metadata = encode_metadata(req.metadata) if req.metadata is not None else None
    except ValueError as exc:
        return invalid(req.idx, req.url, ErrorKind.INVALID_METADATA, str(exc))
    if dst == src_loc and not (req.content_type or req.metadata is not None or req.encryption):
        message = f"source and destination are the same object ({req.url}); nothing to do"
        return invalid(req.idx, req.url, ErrorKind.INVALID_REQUEST, message)
    found = head(ctx, src_loc.bucket, src_loc.key)
    if isinstance(found, Failure):
        return failed(req.idx, req.url, _about_source(found, req.source))
    src = _source(src_loc, found)
    if ctx.settings.dry_run:
        return Result(idx=req.idx, url=req.url, size=src.size, etag=src.etag, dry=True, attempts=1)
    args = copy_args(req, src, new_metadata)
    if src.size > MAX_SINGLE_COPY or (
        0 < src.size and src.size >= ctx.settings.multipart_threshold
    ):
        return _create_copy(ctx, req, dst, src, args)
    return _copy_single(ctx, req, dst, src, args)


def _about_source(failure: Failure, source: str) -> Failure:
    """A source's HEAD failure, saying it was the source's."""
    return Failure(failure.kind, f"source {source}: {failure.message}", failure.attempts)


def _source(loc: S3Url, answer: S3Answer) -> Source:
    crc = None
    if answer.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT":
        crc = _crc(answer.get("ChecksumCRC32"))
    size = int(answer.get("ContentLength", 0))
    return Source(loc, size, str(answer.get("ETag", "")), crc, answer)


def _crc(text: Optional[str]) -> Optional[int]:
    """A ``ChecksumCRC32`` value; an unreadable one is an answer damaged on the way."""
    try:
        return crc32_from_b64(text)
    except (binascii.Error, ValueError):
        raise OpError(ErrorKind.CORRUPT, f"unreadable ChecksumCRC32 {text!r}") from None


def copy_args(req: CopyRequest, src: Source, new_metadata: Optional[Mapping[str, str]]) -> CopyArgs:
    """The destination's content type, metadata and encryption: the request's, else the
    source's."""
    answer = src.answer
    encryption = req.encryption or answer.get("ServerSideEncryption")
    kms_key = answer.get("SSEKMSKeyId") if not req.encryption else None
    return CopyArgs(
        replace=bool(req.content_type) or new_metadata is not None,
        content_type=req.content_type or answer.get("ContentType"),
        metadata=new_metadata if new_metadata is not None else answer.get("Metadata") or {},
        encryption=encryption or None,
        kms_key=kms_key if encryption == "aws:kms" else None,
    )


def _copy_single(
    ctx: OpContext, req: CopyRequest, dst: S3Url, src: Source, args: CopyArgs
) -> Result:
    def attempt(deadline: Deadline) -> Result:
        answer = ctx.transport.copy_object(
            Bucket=dst.bucket,
            Key=dst.key,
            CopySource=src.ref,
            CopySourceIfMatch=src.etag or None,
            MetadataDirective="REPLACE" if args.replace else None,
            ContentType=args.content_type if args.replace else None,
            Metadata=args.metadata if args.replace else None,
            ServerSideEncryption=args.encryption,
            SSEKMSKeyId=args.kms_key,
            ChecksumAlgorithm="CRC32" if src.crc32 is not None else None,
        )
        etag = check_copy(answer.get("CopyObjectResult") or {}, src, args.encryption)
        return Result(idx=req.idx, url=req.url, size=src.size, etag=etag)

    out = run_with_retries(attempt, ctx.policy, ctx.on_throttle)
    return failed(req.idx, req.url, out) if isinstance(out, Failure) else out


def check_copy(result: Mapping[str, object], src: Source, encryption: Optional[str]) -> str:
    """The copy's ETag, once its answer shows it holds the source's bytes (else corrupt)."""
    etag = result.get("ETag")
    if not isinstance(etag, str) or not etag.strip('"'):
        raise OpError(ErrorKind.CORRUPT, "the copy's answer has no ETag")
    etag = f'"{etag.strip(chr(34))}"'  # quoted, as S3 sends it (SeaweedFS leaves it bare)
    sent = result.get("ChecksumCRC32")
    crc = _crc(sent if isinstance(sent, str) else None)
    if src.crc32 is not None and crc is not None:
        if crc != src.crc32:
            raise OpError(ErrorKind.CORRUPT, f"copy CRC32 {crc:08x}, source {src.crc32:08x}")
        return etag
    plain = len(src.etag.strip('"')) == 32 and "-" not in src.etag
    kms = str(encryption or "").startswith("aws:kms")
    if plain and not kms and etag.strip('"') != src.etag.strip('"'):
        raise OpError(ErrorKind.CORRUPT, f"copy ETag {etag}, source {src.etag}")
    return etag


# ---------------------------------------------------------------- multipart


def _create_copy(
    ctx: OpContext, req: CopyRequest, dst: S3Url, src: Source, args: CopyArgs
) -> Union[Result, SplitCopy]:
    """Start the multipart upload a large copy fills (with a FULL_OBJECT CRC32 when the
    source has one and the store takes it)."""

    def create(checksum: bool) -> Callable[[Deadline], SplitCopy]:
        def attempt(deadline: Deadline) -> SplitCopy:
            answer = ctx.transport.create_multipart_upload(
                Bucket=dst.bucket,
                Key=dst.key,
                ContentType=args.content_type,
                Metadata=args.metadata,
                ServerSideEncryption=args.encryption,
                ChecksumAlgorithm="CRC32" if checksum else None,
                ChecksumType="FULL_OBJECT" if checksum else None,
            )
            return SplitCopy(answer["UploadId"], src.size, src.etag, checksum, src.crc32)

        return attempt

    out = run_with_retries(create(src.crc32 is not None), ctx.policy, ctx.on_throttle)
    if isinstance(out, Failure) and out.kind is ErrorKind.INVALID_REQUEST and src.crc32 is not None:
        out = run_with_retries(create(False), ctx.policy, ctx.on_throttle)
    return failed(req.idx, req.url, out) if isinstance(out, Failure) else out


def run_copy_part(ctx: OpContext, job: CopyPartJob) -> Union[PartDone, PartFailed]:
    """Copy one range of the source as one part."""
    dst, src = parse_url(job.url), parse_url(job.source)

    def attempt(deadline: Deadline) -> PartDone:
        answer = ctx.transport.upload_part_copy(
            Bucket=dst.bucket,
            Key=dst.key,
            UploadId=job.upload_id,
            PartNumber=job.number,
            CopySource={"Bucket": src.bucket, "Key": src.key},
            CopySourceRange=f"bytes={job.start}-{job.end}",
            CopySourceIfMatch=job.etag or None,
        )
        result = answer.get("CopyPartResult") or {}
        etag = result.get("ETag")
        if not isinstance(etag, str) or not etag.strip('"'):
            raise OpError(ErrorKind.CORRUPT, f"part {job.number}'s answer has no ETag")
        crc = _crc(result.get("ChecksumCRC32"))
        return PartDone(job.number, etag, crc, job.end - job.start + 1)

    out = run_with_retries(attempt, ctx.policy, ctx.on_throttle)
    return PartFailed(failed(job.idx, job.url, out)) if isinstance(out, Failure) else out


def _is_plain_md5(etag: str) -> bool:
    """A part's ETag that is its MD5. SeaweedFS answers an UploadPartCopy from a source
    uploaded in parts with an ``md5-N`` ETag: no MD5 of the parts' MD5s can be made
    then (the CRC32 check, where the source has one, still holds)."""
    value = etag.strip('"')
    return len(value) == 32 and all(c in "0123456789abcdefABCDEF" for c in value)


def run_complete_copy(ctx: OpContext, job: CompleteCopyJob) -> Result:
    """Complete a multipart copy, once its parts' CRC32 (if known) matches the source's."""
    req = job.req
    loc = parse_url(req.url)
    if job.crc32 is not None and job.source_crc32 is not None and job.crc32 != job.source_crc32:
        _abort(ctx, loc.bucket, loc.key, job.upload_id)
        message = f"copied parts' CRC32 {job.crc32:08x}, source {job.source_crc32:08x}"
        return Result.failure(req.idx, req.url, ErrorKind.CORRUPT, message, 1)
    parts = [_part_entry(n, etag, crc, job.crc32) for n, etag, crc in sorted(job.parts)]

    def attempt(deadline: Deadline) -> Result:
        answer = ctx.transport.complete_multipart_upload(
            Bucket=loc.bucket,
            Key=loc.key,
            UploadId=job.upload_id,
            MultipartUpload={"Parts": parts},
            ChecksumCRC32=crc32_b64(job.crc32) if job.crc32 is not None else None,
            ChecksumType="FULL_OBJECT" if job.crc32 is not None else None,
        )
        part_etags = [etag for _, etag, _ in sorted(job.parts)]
        if all(_is_plain_md5(etag) for etag in part_etags):  # else nothing to compute
            _check_multipart_etag(answer.get("ETag"), part_etags)
        return Result(idx=req.idx, url=req.url, size=job.size, etag=answer.get("ETag"))

    out = run_with_retries(attempt, ctx.policy, ctx.on_throttle)
    if isinstance(out, Failure):
        _abort(ctx, loc.bucket, loc.key, job.upload_id)
        return failed(req.idx, req.url, out)
    return out

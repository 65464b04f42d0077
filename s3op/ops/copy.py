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

import base64
import binascii
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

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
#: UploadPartCopy requests one process keeps in flight, whatever its thread
#: count (128 for copies). The server reads and writes each part (16 MiB by
#: default) before it answers: 128 at once on a loaded SeaweedFS took over the
#: 60 s read timeout and a 5 GiB copy failed at its 300 s deadline. A slot is
#: taken before a part's retry deadline starts, so waiting for one never
#: counts against it.
COPY_PARTS_IN_FLIGHT = 16
_PART_SLOTS = threading.BoundedSemaphore(COPY_PARTS_IN_FLIGHT)
#: copy_object's answer to a first attempt a batch made (``s3op.ops.multicopy``): it
#: returns the answer, or raises what the attempt met.
FirstCopy = Callable[[], S3Answer]
#: A copy request found sound: (destination, source, new metadata encoded or None).
Checked = Tuple[S3Url, S3Url, Optional[Dict[str, str]]]


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
    return continue_copy(ctx, job, None, None)


def continue_copy(
    ctx: OpContext, job: CopyJob, first: Optional[FirstCopy], deadline: Optional[Deadline]
) -> Union[Result, SplitCopy]:
    """``run_copy`` for a copy whose first attempt a batch made (``s3op.ops.multicopy``):
    ``first`` gives that attempt's answer or raises what it met (None: never sent);
    ``deadline`` is the operation's, started when the request went out."""
    req = job.req
    checked = checked_request(req)
    if isinstance(checked, Result):
        return checked
    dst, src_loc, new_metadata = checked
    src = known_source(ctx, req, src_loc)
    if src is None:  # not known from the request: HEAD it
        found = head(ctx, src_loc.bucket, src_loc.key)
        if isinstance(found, Failure):
            return failed(req.idx, req.url, _about_source(found, req.source))
        src = _source(src_loc, found)
    if ctx.settings.dry_run:
        return Result(idx=req.idx, url=req.url, size=src.size, etag=src.etag, dry=True, attempts=1)
    args = copy_args(req, src, new_metadata)
    if _multipart(ctx, src.size):
        return _create_copy(ctx, req, dst, src, args)
    return _copy_single(ctx, req, dst, src, args, first, deadline)


def checked_request(req: CopyRequest) -> Union[Result, Checked]:
    """(destination, source, new metadata encoded), or the named error of a bad
    request (before any request is sent)."""
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
    problem = _facts_problem(req)
    if problem is not None:
        return invalid(req.idx, req.url, ErrorKind.INVALID_REQUEST, problem)
    return dst, src_loc, new_metadata


def _facts_problem(req: CopyRequest) -> Optional[str]:
    """What is wrong with the request's ``source_*`` facts, if anything."""
    if req.source_size is not None and req.source_size < 0:
        return f"source_size {req.source_size} is negative"
    if (req.source_size is None) != (req.source_etag is None):
        return "source_size and source_etag go together (give both or neither)"
    if req.source_crc32 is not None:
        try:
            raw = base64.b64decode(req.source_crc32, validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) != 4:
            return f"source_crc32 {req.source_crc32!r} is not a base64 CRC32 (4 bytes)"
    return None


def _multipart(ctx: OpContext, size: int) -> bool:
    """Whether an object of ``size`` bytes is copied in parts."""
    threshold = ctx.settings.multipart_threshold
    return size > MAX_SINGLE_COPY or (0 < size and size >= threshold)


def known_source(ctx: OpContext, req: CopyRequest, loc: S3Url) -> Optional[Source]:
    """The source as the request's ``source_*`` facts describe it, when they are all a
    one-request copy needs; else None (the source is HEADed). Not enough: no facts,
    a new content type or metadata (the copy replaces them, keeping the other one:
    the source's is needed), a multipart copy (CreateMultipartUpload sets them),
    or an SSE-KMS source kept as it is (its key id is needed)."""
    if req.source_etag is None or req.source_size is None:
        return None
    if req.content_type or req.metadata is not None or _multipart(ctx, req.source_size):
        return None
    if not req.encryption and req.source_encryption == "aws:kms":
        return None
    answer = {
        "ContentLength": req.source_size,
        "ETag": req.source_etag,
        "ServerSideEncryption": req.source_encryption,
    }
    crc = crc32_from_b64(req.source_crc32)
    return Source(loc, req.source_size, req.source_etag, crc, answer)


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


def copy_call(dst: S3Url, src: Source, args: CopyArgs) -> Dict[str, Any]:
    """copy_object's arguments for one CopyObject of ``src`` to ``dst``."""
    return {
        "Bucket": dst.bucket,
        "Key": dst.key,
        "CopySource": src.ref,
        "CopySourceIfMatch": src.etag or None,
        "MetadataDirective": "REPLACE" if args.replace else None,
        "ContentType": args.content_type if args.replace else None,
        "Metadata": args.metadata if args.replace else None,
        "ServerSideEncryption": args.encryption,
        "SSEKMSKeyId": args.kms_key,
        "ChecksumAlgorithm": "CRC32" if src.crc32 is not None else None,
    }


def _copy_single(
    ctx: OpContext,
    req: CopyRequest,
    dst: S3Url,
    src: Source,
    args: CopyArgs,
    first: Optional[FirstCopy] = None,
    deadline: Optional[Deadline] = None,
) -> Result:
    given = [first] if first is not None else []

    def attempt(deadline: Deadline) -> Result:
        if given:  # the batch's attempt (s3op.ops.multicopy): what it got
            answer = given.pop()()
        else:
            answer = ctx.transport.copy_object(**copy_call(dst, src, args))
        return copy_done(req, answer, src, args.encryption)

    sent = first is not None
    out = run_with_retries(attempt, ctx.policy, ctx.on_throttle, deadline=deadline, first_sent=sent)
    if isinstance(out, Failure) and out.kind is ErrorKind.PRECONDITION_FAILED:
        message = f"source {req.source} is no longer the version (ETag {src.etag}) that was "
        out = Failure(out.kind, message + f"HEADed: not copied ({out.message})", out.attempts)
    return failed(req.idx, req.url, out) if isinstance(out, Failure) else out


def copy_done(
    req: CopyRequest,
    answer: S3Answer,
    src: Source,
    encryption: Optional[str],
    attempts: Optional[int] = None,
) -> Result:
    """A CopyObject's result, once its answer shows it holds the source's bytes
    (``check_copy``; else ``OpError``, corrupt)."""
    etag = check_copy(answer.get("CopyObjectResult") or {}, src, encryption)
    return Result(idx=req.idx, url=req.url, size=src.size, etag=etag, attempts=attempts)


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
            answer = ctx.transport.create_multipart_copy(
                Bucket=dst.bucket,
                Key=dst.key,
                ContentType=args.content_type,
                Metadata=args.metadata,
                ServerSideEncryption=args.encryption,
                SSEKMSKeyId=args.kms_key,
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

    with _PART_SLOTS:  # see COPY_PARTS_IN_FLIGHT
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

"""Upload one file: a single PUT, or the start of a multipart upload driven by the
parent (its parts, complete and abort: ``s3op.ops.upload_parts``).

Every body goes with its CRC32 so the server rejects a body damaged on the
way, and the answer is checked: its echo of that CRC32, or, from a server
that echoes none, its ETag against our MD5 (``s3op.ops.upload_check``; to
such a server bodies go with ``Content-MD5`` too). With no-overwrite the
write is conditional (``If-None-Match: *``); a 412 after a retry may be our
own earlier attempt that landed, so it is resolved by a HEAD that compares
ETags before anything is reported as "exists".
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from dataclasses import dataclass
from typing import IO, Callable, Dict, List, Mapping, Optional, Tuple, Union

from s3op.checksum import crc32, crc32_b64, file_crc32, read_blocks
from s3op.errors import OpError, classify
from s3op.jobs import PutJob, Settings, SplitPut
from s3op.ops import OpContext, failed, invalid
from s3op.ops.info import head
from s3op.ops.upload_check import Digests, memory_digests, wants_md5
from s3op.parts import file_digest
from s3op.protocol import (
    ErrorKind,
    PutRequest,
    Result,
    encode_metadata,
    parse_object_url,
)
from s3op.retry import Deadline, Failure, run_with_retries
from s3op.transport import FileSlice, S3Answer, UploadBody
from s3op.upload_split import upload_spans

#: put_object's answer to a first attempt a batch made (``s3op.ops.multiput``); it
#: raises what that attempt met.
FirstPut = Callable[[], S3Answer]

#: Files up to this size are read into memory once per attempt (threads x this, at most).
SMALL_BODY = 1024 * 1024


def run_put(ctx: OpContext, job: PutJob) -> Union[Result, SplitPut]:
    """PUT ``job.req.local`` to ``job.req.url`` (or start its multipart upload)."""
    req = job.req
    try:
        loc = parse_object_url(req.url)
    except ValueError as exc:
        return invalid(req.idx, req.url, ErrorKind.INVALID_URL, str(exc))
    try:
        extra = put_args(req)
    except ValueError as exc:  # only encode_metadata raises here
        return invalid(req.idx, req.url, ErrorKind.INVALID_METADATA, str(exc))
    try:
        size = os.stat(req.local).st_size
    except OSError as exc:  # the error table's errnos: missing, or unreadable
        kind, _ = classify(exc)
        return invalid(req.idx, req.url, kind, f"{exc.strerror}: {req.local}")
    if ctx.settings.dry_run:  # the file is there: this is what would be sent
        return Result(idx=req.idx, url=req.url, local=req.local, size=size, dry=True)
    if size >= ctx.settings.multipart_threshold:
        found = head(ctx, loc.bucket, loc.key) if ctx.settings.no_overwrite else None
        if found is not None and not isinstance(found, Failure):
            # Saves uploading every part just to be refused; the conditional
            # complete below still settles any race.
            if not ctx.settings.may_repeat:
                return Result(idx=req.idx, url=req.url, skipped="exists", attempts=1)
            return _existing(ctx, req, found, 1)
        return _create_upload(ctx, req, loc.bucket, loc.key, extra, size)
    return _put_single(ctx, req, loc.bucket, loc.key, extra, size)


@dataclass(frozen=True)
class PutArgs:
    """What an upload sends besides its body (None: not sent)."""

    content_type: Optional[str] = None
    metadata: Optional[Mapping[str, str]] = None  # encoded (``encode_metadata``)
    encryption: Optional[str] = None  # ServerSideEncryption


def put_args(req: PutRequest) -> PutArgs:
    """ContentType / Metadata / ServerSideEncryption for a put (ValueError: metadata
    that cannot be encoded)."""
    metadata = encode_metadata(req.metadata)
    return PutArgs(req.content_type or None, metadata or None, req.encryption or None)


def _put_single(
    ctx: OpContext,
    req: PutRequest,
    bucket: str,
    key: str,
    extra: PutArgs,
    size: int,
    first: Optional[FirstPut] = None,
    deadline: Optional[Deadline] = None,
) -> Result:
    conditional = "*" if ctx.settings.no_overwrite else None
    given = [first] if first is not None else []

    def attempt(deadline: Deadline) -> Result:
        body: UploadBody
        handle: Optional[IO[bytes]] = None
        if size <= SMALL_BODY:
            # Read once: one open and one read, and the bytes hashed are the bytes sent.
            data = read_small(req.local)
            digests, body, sent = memory_digests(bucket, data), data, len(data)
        else:
            # Streamed from the file (memory stays bounded); digests taken first.
            sent = os.path.getsize(req.local)
            digests = body_digests(bucket, req.local, 0, sent)
            handle = open(req.local, "rb")
            body = FileSlice(handle, 0, sent)  # by sendfile where it can (s3op.http1)
        args = upload_args(digests, extra, conditional)
        try:
            if given:  # the batch's attempt (s3op.ops.multiput): what it got
                resp = given.pop()()
            else:
                resp = ctx.transport.put_object(
                    Bucket=bucket, Key=key, Body=body, Metadata=extra.metadata, **args
                )
        finally:
            if handle is not None:
                handle.close()
        return put_done(req, resp, digests, sent)

    out = run_with_retries(
        attempt, ctx.policy, ctx.on_throttle, deadline=deadline, first_sent=first is not None
    )
    if isinstance(out, Failure):
        if out.kind is ErrorKind.PRECONDITION_FAILED and ctx.settings.no_overwrite:
            return resolve_exists(ctx, req, bucket, key, out)
        return failed(req.idx, req.url, out)
    return out


def continue_put(
    ctx: OpContext, job: PutJob, first: Optional[FirstPut], deadline: Optional[Deadline]
) -> Union[Result, SplitPut]:
    """``run_put`` for a small PUT whose first attempt a batch made
    (``s3op.ops.multiput``): ``first`` gives that attempt's answer or raises
    what it met (None: it was never sent, so ``run_put`` does it all);
    ``deadline`` is the operation's, started when the request went out."""
    if first is None:
        return run_put(ctx, job)
    req = job.req
    loc = parse_object_url(req.url)  # the batch checked the URL and the metadata
    try:
        size = os.stat(req.local).st_size
    except OSError:
        size = 0  # read in the attempt, which fails there, classified
    return _put_single(ctx, req, loc.bucket, loc.key, put_args(req), size, first, deadline)


def upload_args(
    digests: Digests, extra: PutArgs, conditional: Optional[str]
) -> Dict[str, Optional[str]]:
    """put_object's header arguments (botocore's names; None: not sent) for a body
    of these digests: its CRC32, and its MD5 where taken (``s3op.ops.upload_check``)."""
    return {
        **checksum_args(digests),
        "ContentType": extra.content_type,
        "ServerSideEncryption": extra.encryption,
        "IfNoneMatch": conditional,
    }


def checksum_args(digests: Digests) -> Dict[str, Optional[str]]:
    """``ChecksumCRC32`` always, ``ContentMD5`` where the MD5 was taken (botocore's names)."""
    return {
        "ContentMD5": b64(digests.md5) if digests.md5 is not None else None,
        "ChecksumCRC32": crc32_b64(digests.crc),
    }


def put_done(
    req: PutRequest, resp: S3Answer, digests: Digests, sent: int, attempts: Optional[int] = None
) -> Result:
    """A PUT's result from its answer; ``OpError`` (corrupt) when the answer shows
    the server stored other bytes (``Digests.verify``)."""
    digests.verify(resp, req.encryption)
    return Result(idx=req.idx, url=req.url, size=sent, etag=resp.get("ETag"), attempts=attempts)


def resolve_exists(
    ctx: OpContext, req: PutRequest, bucket: str, key: str, failure: Failure
) -> Result:
    """A 412 on a no-overwrite put: was it our own earlier write? (An attempt of
    ours that landed before a retry; or, in a batch that ``may_repeat``, an
    earlier run of the same request, such as a Dask shard run again.)"""
    if failure.attempts > 1 or ctx.settings.may_repeat:
        found = head(ctx, bucket, key)  # retried: a blip must not turn our write into "exists"
        if not isinstance(found, Failure):
            return _existing(ctx, req, found, failure.attempts)
    return Result(idx=req.idx, url=req.url, skipped="exists", attempts=failure.attempts)


def _existing(ctx: OpContext, req: PutRequest, found: S3Answer, attempts: int) -> Result:
    """The result of a no-overwrite put that found ``found`` at its key: written
    (our own bytes are there), or skipped ("exists": someone else's)."""
    if _same_content(req.local, found, ctx.settings):
        return Result(
            idx=req.idx,
            url=req.url,
            size=found.get("ContentLength"),
            etag=found.get("ETag"),
            attempts=attempts,
        )
    return Result(idx=req.idx, url=req.url, skipped="exists", attempts=attempts)


def _same_content(local: str, head: S3Answer, settings: Settings) -> bool:
    """Does the object ``head`` describes hold the bytes of ``local``? A plain ETag
    is the MD5; a multipart one is compared part by part in a batch that
    ``may_repeat`` (our parts: ``upload_spans``), else only the size is (it
    appeared on our retry)."""
    etag = str(head.get("ETag", "")).strip('"')
    size = os.path.getsize(local)
    if int(head.get("ContentLength", -1)) != size:
        return False
    if "-" not in etag:
        return etag == file_digests(local, 0, size)[0].hexdigest()
    if not settings.may_repeat:
        return True
    sizes = [length for _, length in upload_spans(size, settings.part_size)]
    return etag.lower() == file_digest(local, sizes, "md5")


def read_small(path: str) -> bytes:
    """A small file's bytes with plain ``os`` calls (no buffered file object)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks: List[bytes] = []
        while True:
            chunk = os.read(fd, SMALL_BODY)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def file_digests(path: str, offset: int, length: int) -> Tuple[hashlib._Hash, int]:
    """(MD5, CRC32) of ``length`` bytes of ``path`` from ``offset``, in one pass."""
    digest = hashlib.md5()
    crc = 0
    for block in read_blocks(path, offset, length):
        digest.update(block)  # hashlib and zlib-ng release the GIL on such blocks
        crc = crc32(block, crc)
    return digest, crc


def body_digests(bucket: str, path: str, offset: int, length: int) -> Digests:
    """``Digests`` of an upload body read from a file: its CRC32 alone, or with its
    MD5 in the same read for a bucket whose server echoes no CRC32 (else the MD5
    is read again, if the answer asks for it)."""

    def md5_later() -> hashlib._Hash:
        return part_digests(path, offset, length)[0]

    if wants_md5(bucket):
        md5, crc = part_digests(path, offset, length)
        return Digests(bucket, crc, md5, md5_later)
    return Digests(bucket, file_crc32(path, offset, length), None, md5_later)


#: Parts of multipart uploads being digested at once, at most: one per CPU.
_DIGEST_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


def part_digests(path: str, offset: int, length: int) -> Tuple[hashlib._Hash, int]:
    """``file_digests`` of a multipart upload's part, as many at once as there are
    CPUs. A part's Content-MD5 must be known before its first byte is sent, and
    64 threads that all start hashing their parts together all finish together:
    the server gets no byte until every part is hashed (8 parts of 16 MiB: ~0.1 s
    on 2 CPUs). Taking turns, the first parts go out after one part's hash, and
    the others are hashed while they are sent."""
    with _DIGEST_SLOTS:
        return file_digests(path, offset, length)


def _fresh_slots() -> None:
    global _DIGEST_SLOTS
    _DIGEST_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))  # no holder


os.register_at_fork(after_in_child=_fresh_slots)


def b64(digest: hashlib._Hash) -> str:
    return base64.b64encode(digest.digest()).decode("ascii")


def _create_upload(
    ctx: OpContext, req: PutRequest, bucket: str, key: str, extra: PutArgs, size: int
) -> Union[Result, SplitPut]:
    """Start a multipart upload with a FULL_OBJECT CRC32 (plain, where refused).

    Two retry loops at most, never the same request twice over: a store
    that refuses full-object checksums answers ``invalid_request`` (permanent,
    so its loop ends at once), and only then is the plain create tried, in
    a loop of its own. Folding both into one loop would mean deciding the
    refusal inside an attempt, outside ``errors.classify``.
    """

    def create(checksum: bool) -> Callable[[Deadline], SplitPut]:
        def attempt(deadline: Deadline) -> SplitPut:
            resp = ctx.transport.create_multipart_upload(
                Bucket=bucket,
                Key=key,
                ContentType=extra.content_type,
                Metadata=extra.metadata,
                ServerSideEncryption=extra.encryption,
                ChecksumAlgorithm="CRC32" if checksum else None,
                ChecksumType="FULL_OBJECT" if checksum else None,
            )
            return SplitPut(resp["UploadId"], size, checksum=checksum)

        return attempt

    out = run_with_retries(create(True), ctx.policy, ctx.on_throttle)
    if isinstance(out, Failure) and out.kind is ErrorKind.INVALID_REQUEST:
        # a store without full-object checksums: ETags still verify the parts
        out = run_with_retries(create(False), ctx.policy, ctx.on_throttle)
    if isinstance(out, Failure):
        return failed(req.idx, req.url, out)
    return out


def _abort(ctx: OpContext, bucket: str, key: str, upload_id: str) -> None:
    """Abort an upload so no parts linger (best effort: a failure changes nothing)."""

    def attempt(deadline: Deadline) -> None:
        ctx.transport.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)

    run_with_retries(attempt, ctx.policy, ctx.on_throttle)


def _part_entry(
    number: int, etag: str, crc: Optional[int], full: Optional[int]
) -> Dict[str, Union[int, str]]:
    entry: Dict[str, Union[int, str]] = {"PartNumber": number, "ETag": etag}
    if full is not None and crc is not None:
        entry["ChecksumCRC32"] = crc32_b64(crc)
    return entry


def _check_multipart_etag(etag: Optional[str], part_etags: List[str]) -> None:
    value = str(etag or "").strip('"')
    if not value.endswith(f"-{len(part_etags)}"):
        return  # not the md5-of-md5s form: nothing to compare
    joined = b"".join(bytes.fromhex(e.strip('"')) for e in part_etags)
    want = f"{hashlib.md5(joined).hexdigest()}-{len(part_etags)}"
    if value != want:
        raise OpError(ErrorKind.CORRUPT, f"multipart ETag {value}, expected {want}")

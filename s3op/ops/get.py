"""Download one object, or one part of a large one.

Bodies stream in chunks to a temp file beside the target (never one big
``read()``, ``s3op.ops.save``), and the temp file is renamed into place
only when complete and verified: the byte count always; the MD5 against a
plain-MD5 ETag when the whole object was fetched; a server checksum
(``ChecksumMode``) where given; for an object uploaded in parts by another
tool, its composite CRC32 or multipart ETag, part by part (``s3op.parts``).
Large whole-object gets answer ``SplitGet``; the parent then fans out
``GetPartJob``s (``If-Match`` the first ETag, so a replaced object is an
error, never a file mixing two versions) into one preallocated file.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from typing import Callable, List, Optional, Tuple, Union

from s3op.checksum import crc32, crc32_from_b64
from s3op.errors import OpError
from s3op.jobs import GetJob, GetPartJob, PartDone, PartFailed, SplitGet, VerifyJob
from s3op.ops import OpContext, failed, invalid
from s3op.ops.info import describe, head
from s3op.ops.save import CHUNK, Checked, Digest, pwrite_all, save_body, stream, write_turns
from s3op.parts import (
    PartsCheck,
    PartsDigest,
    PieceDigests,
    etag_is_md5,
    file_digest,
    label,
    part_sizes,
    parts_check,
    slice_digests,
)
from s3op.protocol import (
    ByteRange,
    ErrorKind,
    RangeServed,
    Result,
    parse_object_url,
    parse_range,
    parse_url,
)
from s3op.retry import Deadline, Failure, run_with_retries
from s3op.transport import Body, S3Answer

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_PLAIN_MD5 = re.compile(r'^"?([0-9a-f]{32})"?$')

#: A GET's first attempt, made before the retry loop (``s3op.ops.multiget``): it
#: returns what ``get_object`` would, or raises what went wrong.
FirstAttempt = Callable[[], S3Answer]


def run_get(ctx: OpContext, job: GetJob) -> Union[Result, SplitGet]:
    """GET ``job.req`` into ``job.local`` (a large whole object: ``SplitGet``)."""
    return continue_get(ctx, job, None, None)


def continue_get(
    ctx: OpContext, job: GetJob, first: Optional[FirstAttempt], deadline: Optional[Deadline]
) -> Union[Result, SplitGet]:
    """``run_get`` for a GET whose first attempt was made elsewhere, by a batch
    (``s3op.ops.multiget``): ``first`` is that attempt (None: it was never
    made), ``deadline`` the operation's, started when its request went out."""
    req = job.req
    try:
        loc = parse_object_url(req.url)
    except ValueError as exc:
        return invalid(req.idx, req.url, ErrorKind.INVALID_URL, str(exc))
    try:
        rng = parse_range(req.range) if req.range else None
    except ValueError as exc:
        return invalid(req.idx, req.url, ErrorKind.INVALID_RANGE, str(exc))
    given = [first] if first is not None else []

    def attempt(deadline: Deadline) -> Union[Result, SplitGet]:
        if given:
            resp = given.pop()()
        else:
            header = rng.header() if rng is not None else None
            resp = ctx.transport.get_object(Bucket=loc.bucket, Key=loc.key, Range=header)
        return _save(ctx, job, rng, resp, deadline)

    out = run_with_retries(
        attempt, ctx.policy, ctx.on_throttle, deadline=deadline, first_sent=first is not None
    )
    if isinstance(out, Failure):
        if out.kind is ErrorKind.INVALID_RANGE and rng is not None and not rng.start:
            return _empty_object(ctx, req.idx, req.url, job.local, out)
        return failed(req.idx, req.url, out)
    return out


def _save(
    ctx: OpContext, job: GetJob, rng: Optional[ByteRange], resp: S3Answer, deadline: Deadline
) -> Union[Result, SplitGet]:
    """One attempt's answer saved to ``job.local``; a large whole object is split."""
    size = int(resp["ContentLength"])
    if rng is None and size >= ctx.settings.multipart_threshold:
        resp["Body"].close()
        return _split(ctx, job, resp, size)
    if rng is None:
        return save_whole(ctx, job, resp, deadline)
    settings = ctx.settings
    body: Body = resp["Body"]
    save_body(body, size, job.local, deadline, None, None, settings.tmp_tag, settings.file_mode)
    return _result(ctx, job.req.idx, job.req.url, resp, job.local, _served(resp, size))


def _split(ctx: OpContext, job: GetJob, resp: S3Answer, size: int) -> SplitGet:
    """A large whole object: what the parent needs to fetch it in parts."""
    info = describe(job.req.idx, job.req.url, resp, local=job.local)
    crc, md5 = _full_crc32(resp), _expected_md5(resp)
    check = _multipart_check(resp) if ctx.settings.verify else None
    sizes = _part_sizes_retried(ctx, job.req.url, size, resp["ETag"], check) if check else None
    if sizes is None:
        return SplitGet(info, resp["ETag"], crc, md5)
    return SplitGet(info, resp["ETag"], crc, md5, check, tuple(sizes))


def save_whole(
    ctx: OpContext,
    job: GetJob,
    resp: S3Answer,
    deadline: Deadline,
    attempts: Optional[int] = None,
) -> Result:
    """Save ``get_object``'s answer for a whole object under the multipart threshold
    to ``job.local`` by ``deadline``: one attempt of ``run_get``, which raises what
    went wrong. ``s3op.ops.multiget`` calls it as attempt 1 (``attempts``), without
    the retry loop, and hands what it raises to ``continue_get``."""
    size = int(resp["ContentLength"])
    digest, expected = None, None
    if ctx.settings.verify:
        try:
            digest, expected = _whole_check(ctx, job, resp, size)
        except BaseException:
            resp["Body"].close()
            raise
    tag, mode = ctx.settings.tmp_tag, ctx.settings.file_mode
    save_body(resp["Body"], size, job.local, deadline, digest, expected, tag, mode)
    served = RangeServed(0, size - 1, size)
    return _result(ctx, job.req.idx, job.req.url, resp, job.local, served, attempts)


def needs_parts(ctx: OpContext, resp: S3Answer) -> bool:
    """Whether saving this whole-object answer asks S3 for the object's parts first
    (``s3op.parts``): a multipart object with nothing cheaper to check against."""
    return ctx.settings.verify and _multipart_check(resp) is not None


def _multipart_check(resp: S3Answer) -> Optional[PartsCheck]:
    """The parts check of an answer with nothing cheaper to check against (no
    whole-object CRC32, no plain-MD5 ETag), if it allows one."""
    if _full_crc32(resp) is not None or _expected_md5(resp):
        return None
    return parts_check(resp)


def _whole_check(
    ctx: OpContext, job: GetJob, resp: S3Answer, size: int
) -> Tuple[Optional[Checked], Optional[str]]:
    """(digest, what it must give) for a whole object's body; (None, None): nothing
    beyond the byte count (and the server's CRC32, which the body checks itself).

    A server's full-object CRC32, when there is one, is the whole check (the
    body verifies it as it reads): it catches every burst of up to 32 damaged
    bits and all but one damage in 2**32 otherwise, for about 1% of an MD5's
    CPU. The ETag's MD5 is checked only where there is no CRC32 (botocore
    validates the same way: the checksum, not the ETag)."""
    if _full_crc32(resp) is not None:
        return None, None
    md5 = _expected_md5(resp)
    if md5:
        return hashlib.md5(), md5
    check = _multipart_check(resp)
    if check is None:
        return None, None
    sizes = _part_sizes_retried(ctx, job.req.url, size, resp.get("ETag") or "", check)
    if sizes is None:
        return None, None
    return PartsDigest(check.algorithm, sizes), check.expected


def _empty_object(ctx: OpContext, idx: int, url: str, local: str, failure: Failure) -> Result:
    """S3 answers 416 to any range of a 0-byte object; what exists there is b""."""
    loc = parse_url(url)
    found = head(ctx, loc.bucket, loc.key)
    if isinstance(found, Failure) or int(found.get("ContentLength", -1)) != 0:
        return failed(idx, url, failure)
    save_body(
        io.BytesIO(b""),
        0,
        local,
        Deadline(ctx.policy.deadline),
        None,
        None,
        ctx.settings.tmp_tag,
        ctx.settings.file_mode,
    )
    return _result(ctx, idx, url, found, local, RangeServed(0, -1, 0))


def _result(
    ctx: OpContext,
    idx: int,
    url: str,
    resp: S3Answer,
    local: str,
    served: RangeServed,
    attempts: Optional[int] = None,
) -> Result:
    if ctx.settings.info:
        return describe(idx, url, resp, local=local, range=served, attempts=attempts)
    size = served.end - served.start + 1
    return Result(idx=idx, url=url, local=local, size=size, range=served, attempts=attempts)


def _served(resp: S3Answer, size: int) -> RangeServed:
    match = _CONTENT_RANGE.match(resp.get("ContentRange") or "")
    if match is None:  # server ignored the Range header: it sent everything
        return RangeServed(0, size - 1, size)
    start, end, total = (int(g) for g in match.groups())
    return RangeServed(start, end, total)


def _full_crc32(resp: S3Answer) -> Optional[int]:
    """The whole-object CRC32 the server keeps, if any (composite ones don't count)."""
    if resp.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        return None
    return crc32_from_b64(resp.get("ChecksumCRC32"))


def _expected_md5(resp: S3Answer) -> Optional[str]:
    """The MD5 a whole-object body must have, when the ETag tells it."""
    if not etag_is_md5(resp):
        return None
    match = _PLAIN_MD5.match(resp.get("ETag") or "")
    return match.group(1) if match else None


def run_get_part(ctx: OpContext, job: GetPartJob) -> Union[PartDone, PartFailed]:
    """GET one byte range of a large object into its place in ``job.tmp``.

    ``If-Match`` pins the version seen by the first GET: a replaced object
    fails as ``object_changed`` instead of mixing two versions in one file.
    """
    loc = parse_url(job.url)
    header = f"bytes={job.start}-{job.end}"

    def attempt(deadline: Deadline) -> PartDone:
        resp = ctx.transport.get_object(
            Bucket=loc.bucket, Key=loc.key, Range=header, IfMatch=job.etag
        )
        want = job.end - job.start + 1
        pieces = PieceDigests(job.cuts, job.checksum, job.md5) if job.cuts else None
        md5 = hashlib.md5() if job.md5 and pieces is None else None
        checksum = job.checksum and pieces is None
        digest: Optional[Digest] = pieces or md5
        got, crc = _write_at(resp["Body"], job.tmp, job.start, deadline, checksum, digest)
        if got != want:
            raise OpError(ErrorKind.CORRUPT, f"short part {header}: got {got} of {want} bytes")
        if pieces is not None:
            return PartDone(job.number, length=got, pieces=pieces.pieces())
        return PartDone(job.number, crc32=crc, length=got, md5=md5.digest() if md5 else None)

    out = run_with_retries(attempt, ctx.policy, ctx.on_throttle)
    if isinstance(out, Failure):
        if out.kind is ErrorKind.PRECONDITION_FAILED:
            out = Failure(ErrorKind.OBJECT_CHANGED, "object replaced during download", out.attempts)
        return PartFailed(failed(job.idx, job.url, out))
    return out


def _write_at(
    body: Body,
    path: str,
    offset: int,
    deadline: Deadline,
    checksum: bool = True,
    digest: Optional[Digest] = None,
) -> Tuple[int, Optional[int]]:
    """Stream ``body`` into ``path`` at ``offset``; return (bytes, crc32 or None).
    ``digest`` (a hashlib object), if given, is fed the bytes too.

    The parts of one file take turns to write (``save.WriteTurns``); see there why.
    """
    fd = os.open(path, os.O_WRONLY)
    crc = 0
    turns = write_turns()
    turn = turns.acquire(path)

    def sink(chunk: memoryview, at: int) -> None:
        nonlocal crc
        with turn:
            pwrite_all(fd, chunk, offset + at)
        if checksum:
            crc = crc32(chunk, crc)
        if digest is not None:
            digest.update(chunk)

    try:
        return stream(body, deadline, sink), crc if checksum else None
    finally:
        turns.release(path)
        os.close(fd)
        body.close()


def run_verify(ctx: OpContext, job: VerifyJob) -> Union[PartDone, PartFailed]:
    """Digest an assembled file (in a worker, not the parent): its MD5 against a
    plain-MD5 ETag, or its parts against a multipart object's ETag (a composite
    CRC32 needs no second read: the parent combines the parts' CRC32s)."""
    if job.first is not None and job.parts is not None:  # a slice: its parts' digests
        sizes, algorithm = job.part_sizes, job.parts.algorithm
        digests = slice_digests(job.path, job.offset, sizes, algorithm, CHUNK)
        pieces = tuple((None, size, md5) for size, md5 in zip(sizes, digests))
        return PartDone(job.first, length=sum(sizes), pieces=pieces)
    if job.parts is None:
        digest = hashlib.md5()
        with open(job.path, "rb") as f:
            for block in iter(lambda: f.read(CHUNK), b""):
                digest.update(block)
        got, expected, what = digest.hexdigest(), job.md5, "MD5"
    else:
        got = file_digest(job.path, job.part_sizes, job.parts.algorithm, CHUNK)
        expected = job.parts.expected
        what = label(job.parts.algorithm)
    if got == expected:
        return PartDone()
    message = f"{what} mismatch: assembled {got}, object {expected}"
    return PartFailed(Result.failure(job.idx, job.url, ErrorKind.CORRUPT, message))


def _part_sizes_retried(
    ctx: OpContext, url: str, size: int, etag: str, check: PartsCheck
) -> Optional[List[int]]:
    """``part_sizes`` with transient failures retried; None when they cannot be had,
    so the object is checked as it was before parts checks (never failed for it)."""
    loc = parse_object_url(url)

    def attempt(deadline: Deadline) -> Optional[List[int]]:
        return part_sizes(ctx.transport, loc.bucket, loc.key, size, etag, check)

    out = run_with_retries(attempt, ctx.policy, ctx.on_throttle)
    return None if isinstance(out, Failure) else out

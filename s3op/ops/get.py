"""Download one object, or one part of a large one.

Bodies stream in chunks to a temp file beside the target (never one big
``read()``), and the temp file is renamed into place only when complete and
verified: the byte count always; the MD5 against a plain-MD5 ETag when the
whole object was fetched; a server checksum (``ChecksumMode``) where given;
for an object uploaded in parts by another tool, its composite CRC32 or
multipart ETag, part by part (``s3op.parts``).
Large whole-object gets answer ``SplitGet``; the parent then fans out
``GetPartJob``s (``If-Match`` the first ETag, so a replaced object is an
error, never a file mixing two versions) into one preallocated file.
"""

from __future__ import annotations

import errno
import hashlib
import io
import itertools
import os
import re
import threading
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Union

from s3op.checksum import crc32, crc32_from_b64
from s3op.errors import OpError
from s3op.fastpath import early_body
from s3op.jobs import GetJob, GetPartJob, PartDone, PartFailed, SplitGet, VerifyJob
from s3op.ops import OpContext, failed, invalid
from s3op.ops.info import describe, head
from s3op.parts import (
    PartsCheck,
    PartsDigest,
    PieceDigests,
    etag_is_md5,
    file_digest,
    label,
    part_sizes,
    parts_check,
)
from s3op.paths import remove_file
from s3op.protocol import ErrorKind, RangeServed, Result, parse_object_url, parse_range, parse_url
from s3op.retry import Deadline, Failure, run_with_retries

CHUNK = 1024 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_PLAIN_MD5 = re.compile(r'^"?([0-9a-f]{32})"?$')


def run_get(
    ctx: OpContext,
    job: GetJob,
    first: Optional[Callable[[], Dict[str, Any]]] = None,
    deadline: Optional[Deadline] = None,
) -> Union[Result, SplitGet]:
    """GET ``job.req`` into ``job.local``.

    ``first``: the first attempt's answer, for a request already sent
    (``s3op.ops.multiget``); it returns what ``get_object`` would, or raises
    what went wrong, and counts as attempt 1 either way. ``deadline``: the
    operation's, if it started before this call (when that request went out).
    """
    req = job.req
    try:
        loc = parse_object_url(req.url)
        rng = parse_range(req.range) if req.range else None
    except ValueError as exc:
        kind = ErrorKind.INVALID_RANGE if "range" in str(exc) else ErrorKind.INVALID_URL
        return invalid(req.idx, req.url, kind, str(exc))
    kwargs: Dict[str, Any] = {"Bucket": loc.bucket, "Key": loc.key}
    if rng is not None:
        kwargs["Range"] = rng.header()

    given = [first] if first is not None else []

    def attempt(deadline: Deadline) -> Union[Result, SplitGet]:
        resp = given.pop()() if given else ctx.client.get_object(**kwargs)
        size = int(resp["ContentLength"])
        if rng is None and size >= ctx.settings.multipart_threshold:
            resp["Body"].close()
            info = describe(req.idx, req.url, resp, local=job.local)
            crc32, md5 = _full_crc32(resp), _expected_md5(resp)
            check = _multipart_check(resp) if ctx.settings.verify else None
            sizes = _part_sizes_retried(ctx, req.url, size, resp["ETag"], check) if check else None
            if sizes is None:
                return SplitGet(info, resp["ETag"], crc32, md5)
            return SplitGet(info, resp["ETag"], crc32, md5, check, tuple(sizes))
        if rng is None:
            return save_whole(ctx, job, resp, deadline)
        save_body(
            early_body(resp),
            size,
            job.local,
            deadline,
            None,
            None,
            ctx.settings.tmp_tag,
            ctx.settings.file_mode,
        )
        return _result(ctx, req.idx, req.url, resp, job.local, _served(resp, size))

    out = run_with_retries(
        attempt, ctx.policy, ctx.on_throttle, deadline=deadline, first_sent=first is not None
    )
    if isinstance(out, Failure):
        if out.kind is ErrorKind.INVALID_RANGE and rng is not None and not rng.start:
            return _empty_object(ctx, req.idx, req.url, job.local, out)
        return failed(req.idx, req.url, out)
    return out


def save_whole(
    ctx: OpContext,
    job: GetJob,
    resp: Dict[str, Any],
    deadline: Deadline,
    attempts: Optional[int] = None,
) -> Result:
    """Save ``get_object``'s answer for a whole object under the multipart threshold
    to ``job.local`` by ``deadline``: one attempt of ``run_get``, which raises what
    went wrong. ``s3op.ops.multiget`` calls it as attempt 1 (``attempts``), without
    the retry loop, and hands what it raises to ``run_get``."""
    size = int(resp["ContentLength"])
    digest, expected = None, None
    if ctx.settings.verify:
        try:
            digest, expected = _whole_check(ctx, job, resp, size)
        except BaseException:
            resp["Body"].close()
            raise
    tag, mode = ctx.settings.tmp_tag, ctx.settings.file_mode
    save_body(early_body(resp), size, job.local, deadline, digest, expected, tag, mode)
    served = RangeServed(0, size - 1, size)
    return _result(ctx, job.req.idx, job.req.url, resp, job.local, served, attempts)


def needs_parts(ctx: OpContext, resp: Dict[str, Any]) -> bool:
    """Whether saving this whole-object answer asks S3 for the object's parts first
    (``s3op.parts``): a multipart object with nothing cheaper to check against."""
    return ctx.settings.verify and _multipart_check(resp) is not None


def _multipart_check(resp: Dict[str, Any]) -> Optional[PartsCheck]:
    """The parts check of an answer with nothing cheaper to check against (no
    whole-object CRC32, no plain-MD5 ETag), if it allows one."""
    if _full_crc32(resp) is not None or _expected_md5(resp):
        return None
    return parts_check(resp)


def _whole_check(
    ctx: OpContext, job: GetJob, resp: Dict[str, Any], size: int
) -> Tuple[Optional[Any], Optional[str]]:
    """(digest, what it must give) for a whole object's body; (None, None): nothing
    beyond the byte count (and the server's CRC32, which the body checks itself)."""
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
    resp: Dict[str, Any],
    local: str,
    served: RangeServed,
    attempts: Optional[int] = None,
) -> Result:
    if ctx.settings.info:
        return describe(idx, url, resp, local=local, range=served, attempts=attempts)
    size = served.end - served.start + 1
    return Result(idx=idx, url=url, local=local, size=size, range=served, attempts=attempts)


def _served(resp: Dict[str, Any], size: int) -> RangeServed:
    match = _CONTENT_RANGE.match(resp.get("ContentRange") or "")
    if match is None:  # server ignored the Range header: it sent everything
        return RangeServed(0, size - 1, size)
    start, end, total = (int(g) for g in match.groups())
    return RangeServed(start, end, total)


def _full_crc32(resp: Dict[str, Any]) -> Optional[int]:
    """The whole-object CRC32 the server keeps, if any (composite ones don't count)."""
    if resp.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        return None
    return crc32_from_b64(resp.get("ChecksumCRC32"))


def _expected_md5(resp: Dict[str, Any]) -> Optional[str]:
    """The MD5 a whole-object body must have, when the ETag tells it."""
    if not etag_is_md5(resp):
        return None
    match = _PLAIN_MD5.match(resp.get("ETag") or "")
    return match.group(1) if match else None


def save_body(
    body: Any,
    size: int,
    local: str,
    deadline: Deadline,
    digest: Optional[Any],
    expected: Optional[str],
    tag: str,
    mode: int = 0o644,
) -> None:
    """Stream ``body`` to a temp file beside ``local``; rename when verified: the byte
    count, and ``digest.hexdigest() == expected`` when a digest is given.

    Plain ``os`` calls on the descriptor: a small object costs open, write,
    fchmod, close and rename, and nothing more (no buffered file object).
    """
    tmp = temp_path(local, tag)
    try:
        fd = create_private(tmp)
        try:
            got = _copy(body, fd, deadline, digest)
            _verify(got, size, digest, expected)
            os.fchmod(fd, mode)  # verified: its final mode, then its name (never the reverse,
            # or another user could meet the finished file with a mode it was not given)
        finally:
            os.close(fd)
        os.replace(tmp, local)
    except BaseException:
        remove_file(tmp)
        raise
    finally:
        body.close()


_NEW_PRIVATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL  # never reuse or follow an existing name
MAX_KNOWN_DIRS = 4096
_KNOWN_DIRS: Set[str] = set()  # directories this process created or found (saves a mkdir each)


def create_private(tmp: str) -> int:
    """Create ``tmp`` (0600: private until verified), making its directory as needed."""
    directory = os.path.dirname(tmp) or "."
    if directory not in _KNOWN_DIRS:
        os.makedirs(directory, exist_ok=True)
        if len(_KNOWN_DIRS) >= MAX_KNOWN_DIRS:  # a long-lived engine: forget, never grow
            _KNOWN_DIRS.clear()
        _KNOWN_DIRS.add(directory)
    try:
        return os.open(tmp, _NEW_PRIVATE, 0o600)
    except FileNotFoundError:  # removed since we saw it: make it again, once
        _KNOWN_DIRS.discard(directory)
        os.makedirs(directory, exist_ok=True)
        return os.open(tmp, _NEW_PRIVATE, 0o600)


_TEMP_SERIAL = itertools.count()


def temp_path(local: str, tag: str) -> str:
    """A private temp name beside ``local`` (same filesystem, so rename is atomic).

    ``tag`` is the run's: ``TEMP_GLOB`` finds every leftover of one run.
    Process id plus a counter make names unique within the run (and
    ``O_EXCL`` would refuse a clash) without a random-number syscall each.
    """
    directory, tail = os.path.split(local)
    serial = f"{os.getpid():x}{next(_TEMP_SERIAL):06x}"
    return os.path.join(directory, f".{tail[:100]}.s3op-{tag}-{serial}.part")


#: glob pattern (format with tag=...) matching a run's temp files in a directory
TEMP_GLOB = ".*.s3op-{tag}-*.part"


def _copy(body: Any, fd: int, deadline: Deadline, digest: Any) -> int:
    def sink(chunk: memoryview, offset: int) -> None:
        view = chunk
        while view:
            view = view[os.write(fd, view) :]
        if digest is not None:
            digest.update(chunk)

    return stream(body, deadline, sink)


def stream(body: Any, deadline: Deadline, sink: Callable[[memoryview, int], None]) -> int:
    """Feed ``body`` to ``sink(chunk, offset)`` until EOF; the byte count.

    Bodies return data as soon as any arrives (``early_body``), so the
    deadline is checked however slowly the bytes come. Chunks are views of
    this thread's one reusable buffer (``readinto``; the sink must be done
    with a chunk when it returns), so a 512 MiB download allocates nothing
    per chunk: a fresh 1 MiB bytes object per read meant mmap, page faults
    and munmap under the process's memory lock, for every chunk, on every
    thread.
    """
    buf = _chunk_buffer()
    got = 0
    while True:
        n = body.readinto(buf)
        if not n:
            return got
        sink(buf[:n], got)
        got += n
        if deadline.passed():
            raise OpError(ErrorKind.TRANSIENT, f"deadline passed after {got} bytes")


_BUFFERS = threading.local()


def _chunk_buffer() -> memoryview:
    """This thread's CHUNK-byte read buffer (one per thread, kept for its life)."""
    buf = getattr(_BUFFERS, "view", None)
    if buf is None:
        buf = _BUFFERS.view = memoryview(bytearray(CHUNK))
    return buf


def _verify(got: int, size: int, digest: Any, expected: Optional[str]) -> None:
    if got != size:
        raise OpError(ErrorKind.CORRUPT, f"short body: got {got} of {size} bytes")
    if digest is not None and digest.hexdigest() != expected:
        what = digest.label if isinstance(digest, PartsDigest) else "MD5"
        raise OpError(
            ErrorKind.CORRUPT, f"{what} mismatch: body {digest.hexdigest()}, object {expected}"
        )


def run_get_part(ctx: OpContext, job: GetPartJob) -> Union[PartDone, PartFailed]:
    """GET one byte range of a large object into its place in ``job.tmp``.

    ``If-Match`` pins the version seen by the first GET: a replaced object
    fails as ``object_changed`` instead of mixing two versions in one file.
    """
    loc = parse_url(job.url)
    header = f"bytes={job.start}-{job.end}"

    def attempt(deadline: Deadline) -> PartDone:
        resp = ctx.client.get_object(Bucket=loc.bucket, Key=loc.key, Range=header, IfMatch=job.etag)
        want = job.end - job.start + 1
        pieces = PieceDigests(job.cuts, job.checksum, job.md5) if job.cuts else None
        md5 = hashlib.md5() if job.md5 and pieces is None else None
        checksum = job.checksum and pieces is None
        body = early_body(resp)
        got, crc = _write_at(body, job.tmp, job.start, deadline, checksum, pieces or md5)
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
    body: Any,
    path: str,
    offset: int,
    deadline: Deadline,
    checksum: bool = True,
    digest: Optional[Any] = None,
) -> Tuple[int, Optional[int]]:
    """Stream ``body`` into ``path`` at ``offset``; return (bytes, crc32 or None).
    ``digest`` (a hashlib object), if given, is fed the bytes too.

    The parts of one file take turns to write (``_WriteTurns``); see there why.
    """
    fd = os.open(path, os.O_WRONLY)
    crc = 0
    turn = _WRITE_TURNS.acquire(path)

    def sink(chunk: memoryview, at: int) -> None:
        nonlocal crc
        with turn:
            _pwrite_all(fd, chunk, offset + at)
        if checksum:
            crc = crc32(chunk, crc)
        if digest is not None:
            digest.update(chunk)

    try:
        return stream(body, deadline, sink), crc if checksum else None
    finally:
        _WRITE_TURNS.release(path)
        os.close(fd)
        body.close()


class _WriteTurns:
    """One lock per file that this process's threads are writing parts into.

    Linux serialises buffered writes to one file anyway (ext4 and xfs hold
    the inode's lock for each write), and a thread waiting for that lock
    spins while its holder copies: 16 threads writing 512 MiB into one file
    here cost 0.20 s of system CPU against 0.11 s for one thread, with the
    same wall time; when the page cache has to take pages the hypervisor
    reclaimed (each first touch faults in the host), 2.1 s against 1.2 s.
    Waiting on our own lock sleeps instead, and leaves the CPU to the
    threads that are receiving. Checksums are computed outside the lock.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: Dict[str, Tuple[threading.Lock, int]] = {}

    def acquire(self, path: str) -> threading.Lock:
        """The lock for ``path``; pair with ``release(path)``."""
        with self._guard:
            lock, users = self._locks.get(path) or (threading.Lock(), 0)
            self._locks[path] = (lock, users + 1)
            return lock

    def release(self, path: str) -> None:
        """Done with ``path``'s lock; forgotten when nobody else holds it."""
        with self._guard:
            lock, users = self._locks[path]
            if users > 1:
                self._locks[path] = (lock, users - 1)
            else:
                del self._locks[path]


_WRITE_TURNS = _WriteTurns()


def _fresh_write_turns() -> None:
    global _WRITE_TURNS
    _WRITE_TURNS = _WriteTurns()  # a forked worker inherits no thread, so no holder


os.register_at_fork(after_in_child=_fresh_write_turns)


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        written = os.pwrite(fd, data, offset)
        if written <= 0:  # never for a regular file, but never spin on it either
            raise OSError(errno.EIO, f"pwrite wrote nothing at offset {offset}")
        data, offset = data[written:], offset + written


def run_verify(ctx: OpContext, job: VerifyJob) -> Union[PartDone, PartFailed]:
    """Digest an assembled file (in a worker, not the parent): its MD5 against a
    plain-MD5 ETag, or its parts against a multipart object's ETag (a composite
    CRC32 needs no second read: see ``Engine._split_get``)."""
    if job.parts is None:
        digest: Any = hashlib.md5()
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
        return part_sizes(ctx.client, loc.bucket, loc.key, size, etag, check)

    out = run_with_retries(attempt, ctx.policy, ctx.on_throttle)
    return None if isinstance(out, Failure) else out

"""A large download: parallel ranged GETs into one temp file, checked, renamed.

The first GET of a large object answers ``SplitGet`` (its size, ETag and
whatever checksum the server keeps). A ``DownloadAssembly`` then

1. creates a private temp file beside the target, sized up front
   (``paths.make_room``), and asks for its ranges as ``GetPartJob``s, each
   pinned with ``If-Match`` to the ETag the first GET saw;
2. collects each range's digests: CRC32s when a whole-object CRC32 or a
   composite one will be checked, MD5s when a multipart ETag will (ranges
   never cross one of the object's part boundaries then: ``plan_ranges``);
3. when every range is in, checks the size, then the checksum from those
   digests, or, when none can be had from them (a plain-MD5 ETag, a
   multipart ETag of fewer than 4 parts too big for one range), asks for
   ``VerifyJob``s that read the file again (a multipart ETag's parts in
   slices, hashed in parallel);
4. renames the file into place and answers the request's result.

A size or checksum mismatch starts the whole object over (a new ``GetJob``,
its ``attempt`` counted up: ``s3op.retry`` lists this among the layers that
repeat work) until ``max_tries``, then fails as ``corrupt``. A part that
fails for good fails the object and removes the temp file.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Dict, List, Optional, Tuple

from s3op.assembly import NOTHING, Step
from s3op.checksum import crc32_of_parts, spans
from s3op.errors import classify_local
from s3op.jobs import GetJob, GetPartJob, PartDone, Settings, SplitGet, VerifyJob
from s3op.parts import (
    aligned_spans,
    combine,
    composite_crc32,
    group_spans,
    label,
    verify_slices,
)
from s3op.paths import create_private, make_room, remove_file, temp_path
from s3op.protocol import ErrorKind, RangeServed, Result

#: A multipart-ETag object whose parts are all at most this big is fetched with
#: no part split between ranges (small parts share one), each part MD5'd as it
#: streams in, on the thread (and core: hashlib releases the GIL) receiving it.
MD5_PART_MAX = 64 * 1024 * 1024

#: ... and so is one of at least this many parts, whatever their size: one ranged
#: GET a part keeps this many streams (and MD5s) going at once, as many as s5cmd
#: keeps (5) give or take one. An object of fewer, bigger parts would lose its
#: parallelism to one range a part (an MD5 cannot be split: a part's bytes are
#: digested in order), so it is read again once assembled, in slices, instead.
MD5_MIN_PARTS = 4

#: A multipart-ETag object read again (parts bigger than ``MD5_PART_MAX``) is hashed
#: in slices of whole parts of at least this many bytes, one job each, on several
#: threads (and cores: hashlib and reads release the GIL).
VERIFY_SLICE = 64 * 1024 * 1024

#: One ranged GET: (index of its first piece, offset, length, lengths of the
#: pieces it spans when more than one: see ``parts.group_spans``).
Range = Tuple[int, int, int, Tuple[int, ...]]


def composite_sizes(split: SplitGet) -> Tuple[int, ...]:
    """The object's part sizes when its check is a composite CRC32, else ()."""
    if split.parts is None or split.parts.algorithm != "crc32":
        return ()
    return split.part_sizes


def md5_part_sizes(split: SplitGet) -> Tuple[int, ...]:
    """The object's part sizes when its check is a multipart ETag whose parts can
    each be one ranged GET (``MD5_PART_MAX``, ``MD5_MIN_PARTS``), else ()."""
    sizes = split.part_sizes
    if split.parts is None or split.parts.algorithm != "md5" or not sizes:
        return ()
    if sum(sizes) != split.head.size:
        return ()
    if max(sizes) > MD5_PART_MAX and len(sizes) < MD5_MIN_PARTS:
        return ()
    return sizes


def plan_ranges(split: SplitGet, settings: Settings) -> List[Range]:
    """The ranged GETs that fetch the object: ``part_size`` each, or, when it is
    checked part by part, ranges that never cross one of its part boundaries
    (a part's CRC32 combines from its pieces, its MD5 does not: one piece a part)."""
    part_size = settings.part_size
    aligned = composite_sizes(split)
    md5_parts = md5_part_sizes(split) if settings.verify else ()
    if not (aligned or md5_parts):
        assert split.head.size is not None
        return [(i, o, n, ()) for i, (o, n) in enumerate(spans(split.head.size, part_size))]
    limit = part_size if aligned else max(md5_parts)  # MD5: a part is never split
    pieces = [(o, n) for o, n, _ in aligned_spans(aligned or md5_parts, limit)]
    return group_spans(pieces, part_size)  # small pieces share a range


def _checked_from_ranges(split: SplitGet) -> bool:
    """Whether the ranges' own digests make the object's checksum (no second read)."""
    return split.crc32 is not None or bool(composite_sizes(split) or md5_part_sizes(split))


class DownloadAssembly:
    """One large download in progress: its ranges land in the temp file ``tmp``."""

    def __init__(self, job: GetJob, split: SplitGet, settings: Settings, max_tries: int) -> None:
        assert split.head.local is not None and split.head.size is not None
        self.job = job  # the GetJob that answered ``split``: its attempt, for a restart
        self.split = split
        self.settings = settings
        self.max_tries = max_tries  # whole-object attempts before the object is corrupt
        self.tmp = temp_path(split.head.local, settings.tmp_tag)
        self.left = 0  # jobs still to answer
        self.crcs: Dict[int, Tuple[int, int]] = {}  # piece -> (crc32, length)
        self.md5s: Dict[int, bytes] = {}  # piece (= part) -> MD5
        self.verifying = False  # the assembled file is being read again (VerifyJob)
        self.failed = False
        self.attempts = 1  # the most any of its requests needed
        self.sparse_on: Optional[int] = None  # st_dev of the tmpfs its sparse temp file is on

    @property
    def head(self) -> Result:
        """The object's info, from the first GET."""
        return self.split.head

    # ---------------------------------------------------------------- events

    def start(self, promised: Callable[[int], int]) -> Step:
        """Create and size the temp file (``promised(st_dev)``: what the caller's
        other sparse files there may still take); ask for the ranges."""
        try:
            self.sparse_on = _preallocate(self.tmp, self.head.size or 0, promised)
        except OSError as exc:
            remove_file(self.tmp)
            return Step(result=self._local_failure(exc, attempts=1))
        ranges = plan_ranges(self.split, self.settings)
        self.left = len(ranges)
        return Step(parts=self._part_jobs(ranges))

    def part_done(self, done: PartDone) -> Step:
        """A range (or the second read) is in: at the last one, check and commit."""
        if self.failed:
            return NOTHING
        self.left -= 1
        self.attempts = max(self.attempts, done.attempts)
        self._record(done)
        if self.left > 0:
            return NOTHING
        return self._verified() if self.verifying else self._check()

    def part_failed(self, result: Result) -> Step:
        """A range failed for good: so does the object (a failed second read is a
        mismatch: the object starts over)."""
        if self.failed:
            return NOTHING
        if self.verifying:
            return self._restart(result.error.message if result.error else "corrupt")
        self.failed = True
        remove_file(self.tmp)
        return Step(result=result)

    def sparse_bytes(self, device: int) -> int:
        """Bytes its sparse temp file on ``device`` may still take (at most)."""
        if self.failed or self.sparse_on != device:
            return 0
        return self.head.size or 0

    def discard(self) -> None:
        """Remove the temp file (the run is ending before the object is done)."""
        remove_file(self.tmp)

    # ---------------------------------------------------------------- ranges

    def _part_jobs(self, ranges: List[Range]) -> Tuple[GetPartJob, ...]:
        split, verify, head = self.split, self.settings.verify, self.head
        # With no whole-object or composite CRC32 to check, a CRC of the parts would be
        # 4 GB/s of wasted CPU.
        checksum = verify and (split.crc32 is not None or bool(composite_sizes(split)))
        md5 = verify and bool(md5_part_sizes(split))
        return tuple(
            GetPartJob(
                idx=head.idx,
                url=head.url,
                etag=split.etag,  # If-Match: every range from the object the first GET saw
                number=n,
                start=start,
                end=start + length - 1,
                tmp=self.tmp,
                checksum=checksum,
                md5=md5,
                cuts=cuts,
            )
            for n, start, length, cuts in ranges
        )

    def _record(self, done: PartDone) -> None:
        """Keep a range's digests by piece: its own, or each of the pieces it spans."""
        pieces = done.pieces or ((done.crc32, done.length, done.md5),)
        for number, (crc, length, md5) in enumerate(pieces, start=done.number):
            if crc is not None:
                self.crcs[number] = (crc, length)
            if md5 is not None:
                self.md5s[number] = md5

    # ------------------------------------------------------------- the check

    def _check(self) -> Step:
        """Every range is in: check size and checksum, then commit (or read again)."""
        why = self._size_mismatch() or self._digest_mismatch()
        if why is not None:
            return self._restart(why)
        split = self.split
        if self.settings.verify and not _checked_from_ranges(split) and (split.md5 or split.parts):
            self.verifying = True  # the file read again: its MD5, or its parts' MD5s
            checks = self._verify_jobs()
            self.left = len(checks)
            return Step(parts=checks)
        return self._commit()

    def _verify_jobs(self) -> Tuple[VerifyJob, ...]:
        """What reads the file again: one job for a plain MD5; slices of the parts
        (``VERIFY_SLICE`` each) for a multipart ETag, hashed on several threads."""
        split, head = self.split, self.head
        if split.parts is None or split.parts.algorithm != "md5" or not split.part_sizes:
            md5 = split.md5 or ""
            return (VerifyJob(head.idx, head.url, self.tmp, md5, split.parts, split.part_sizes),)
        return tuple(
            VerifyJob(head.idx, head.url, self.tmp, "", split.parts, sizes, first, offset)
            for first, offset, sizes in verify_slices(split.part_sizes, VERIFY_SLICE)
        )

    def _verified(self) -> Step:
        """The file was read again: commit it, unless its slices' part MD5s (when
        it was read in slices) do not make the object's multipart ETag."""
        parts = self.split.parts
        if parts is not None and self.md5s:
            digest = combine("md5", [self.md5s.get(n, b"") for n in range(parts.count)])
            if digest != parts.expected:
                why = f"{label('md5')} mismatch: assembled {digest}, object {parts.expected}"
                return self._restart(why)
        return self._commit()

    def _size_mismatch(self) -> Optional[str]:
        size = os.path.getsize(self.tmp)
        return None if size == self.head.size else f"assembled {size} of {self.head.size} bytes"

    def _digest_mismatch(self) -> Optional[str]:
        """How the ranges' digests differ from the object's checksum (None: they do
        not, or they make none: see ``_checked_from_ranges``)."""
        split = self.split
        if not self.settings.verify:
            return None
        if split.crc32 is not None:
            got = crc32_of_parts(self.crcs[n] for n in sorted(self.crcs))
            return None if got == split.crc32 else f"CRC32 {got:08x}, object has {split.crc32:08x}"
        if split.parts is None or not _checked_from_ranges(split):
            return None
        digest, expected = self._digest_of_parts(), split.parts.expected
        if digest == expected:
            return None
        return f"{label(split.parts.algorithm)} mismatch: assembled {digest}, object {expected}"

    def _digest_of_parts(self) -> str:
        """What the ranges digested to, in the form of ``split.parts.expected``."""
        split = self.split
        if composite_sizes(split):
            crcs = [self.crcs[n] for n in sorted(self.crcs)]
            return composite_crc32(crcs, split.part_sizes, self.settings.part_size)
        return combine("md5", [self.md5s.get(n, b"") for n in range(len(split.part_sizes))])

    # ------------------------------------------------------------------- end

    def _restart(self, why: str) -> Step:
        """Start the object over (a part was damaged), or give up as corrupt."""
        self.failed = True
        remove_file(self.tmp)
        tries = self.job.attempt
        if tries < self.max_tries:
            return Step(jobs=(dataclasses.replace(self.job, attempt=tries + 1),))
        message = f"{why}, after {tries} whole-object attempts"
        head = self.head
        return Step(result=Result.failure(head.idx, head.url, ErrorKind.CORRUPT, message, tries))

    def _commit(self) -> Step:
        """Rename the checked file into place: the request's result."""
        head = self.head
        assert head.local is not None and head.size is not None
        try:
            os.chmod(self.tmp, self.settings.file_mode)
            os.replace(self.tmp, head.local)
        except OSError as exc:  # e.g. the target is a directory (keys 'a' and 'a/x')
            remove_file(self.tmp)
            return Step(result=self._local_failure(exc))
        served = RangeServed(0, head.size - 1, head.size)
        attempts = max(self.attempts, head.attempts or 1)
        if not self.settings.info:
            head = Result(idx=head.idx, url=head.url, local=head.local, size=head.size)
        return Step(result=dataclasses.replace(head, range=served, attempts=attempts))

    def _local_failure(self, exc: OSError, attempts: Optional[int] = None) -> Result:
        head = self.head
        assert head.local is not None
        kind, message = classify_local(exc, head.local)
        return Result.failure(head.idx, head.url, kind, message, attempts)


def _preallocate(path: str, size: int, promised: Callable[[int], int]) -> Optional[int]:
    """Create the private temp file and make room (``make_room``); the device
    it is on if it was left sparse, else None."""
    fd = create_private(path)  # private until verified
    try:
        return make_room(fd, size, promised)
    finally:
        os.close(fd)


__all__ = [
    "MD5_MIN_PARTS",
    "MD5_PART_MAX",
    "DownloadAssembly",
    "Range",
    "composite_sizes",
    "md5_part_sizes",
    "plan_ranges",
]

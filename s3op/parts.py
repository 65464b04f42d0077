"""Checking a download of an object that another tool uploaded in parts.

Such an object has no whole-object checksum to check a download against.
What S3 keeps instead depends on the part boundaries:

- a composite CRC32, ``"<base64>-N"``: the CRC32 of the N parts' CRC32s,
  each as 4 big-endian bytes (``ChecksumType=COMPOSITE``);
- without checksums, a multipart ETag, ``"<hex>-N"``: the MD5 of the N
  parts' MD5 digests (not with SSE-KMS or SSE-C, where the ETag is no MD5).

The boundaries come from the object's attributes (``GetObjectAttributes``
with ``ObjectParts``: one request for up to 1,000 parts). A download is then
digested part by part, and compared. When the attributes cannot be had (the
``s3:GetObjectAttributes`` permission is missing, the server does not
implement it, or they do not describe this object: another part count,
another size or ETag), the download is checked by size (and, when fetched
in parts, ``If-Match``) only, as before this check existed.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Protocol, Sequence, Tuple, Union

from s3op.checksum import crc32, crc32_b64, crc32_combine, spans
from s3op.errors import classify, error_code
from s3op.protocol import ErrorKind
from s3op.transport import S3Answer, Transport

_COMPOSITE_CRC32 = re.compile(r"^([A-Za-z0-9+/]{6}==)-(\d+)$")
_MULTIPART_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})-(\d+)"?$')
#: GetObjectAttributes answers at most this many parts a page (S3's limit).
PARTS_PAGE = 1000
#: Answers meaning "this server does not do GetObjectAttributes": not worth a retry.
_UNSUPPORTED = frozenset({"NotImplemented", "501", "MethodNotAllowed", "405"})


@dataclass(frozen=True)
class PartsCheck:
    """What a download of a multipart object must digest to."""

    algorithm: str  # "crc32" (composite checksum) or "md5" (multipart ETag)
    expected: str  # in the form PartsDigest.hexdigest() gives
    count: int  # number of parts


def etag_is_md5(resp: S3Answer) -> bool:
    """Whether a GET/HEAD answer's ETag is made of MD5s (plain or multipart): not
    under SSE-C or SSE-KMS."""
    return not resp.get("SSECustomerAlgorithm") and not str(
        resp.get("ServerSideEncryption", "")
    ).startswith("aws:kms")


def parts_check(resp: S3Answer) -> Optional[PartsCheck]:
    """The check a GET/HEAD answer allows for a multipart object, if any.

    Call only when the object has neither a whole-object CRC32 nor a plain-MD5
    ETag: those are cheaper and need no part boundaries.
    """
    composite = _COMPOSITE_CRC32.match(resp.get("ChecksumCRC32") or "")
    if composite is not None and int(composite.group(2)) > 0:
        return PartsCheck("crc32", composite.group(0), int(composite.group(2)))
    if not etag_is_md5(resp):
        return None
    etag = _MULTIPART_ETAG.match(resp.get("ETag") or "")
    if etag is not None and int(etag.group(2)) > 0:
        expected = f"{etag.group(1).lower()}-{int(etag.group(2))}"
        return PartsCheck("md5", expected, int(etag.group(2)))
    return None


def part_sizes(
    client: Transport, bucket: str, key: str, size: int, etag: str, check: PartsCheck
) -> Optional[List[int]]:
    """The sizes of the object's parts, in order; None when they cannot be known.

    Raises what a transient failure raised (the caller's retry loop decides).
    A refusal (no permission, not implemented) or an answer without the parts
    (AWS lists them only for objects uploaded with checksums) is None, and is
    remembered for the bucket and kind of check for ``REFUSAL_SECONDS``, so that
    a batch of such objects does not ask once per object.
    """
    if _refused(bucket, check.algorithm):
        return None
    sizes: List[int] = []
    marker = 0
    while True:
        attrs = _attributes(client, bucket, key, check.algorithm, marker)
        if attrs is None or not _same_object(attrs, size, etag):
            return None
        parts = attrs.get("ObjectParts") or {}
        page = parts.get("Parts") or []
        if not page and not sizes:
            _refuse(bucket, check.algorithm)  # parts not listed for such objects here
            return None
        sizes.extend(int(p.get("Size", 0)) for p in page)
        if not parts.get("IsTruncated"):
            break
        following = int(parts.get("NextPartNumberMarker") or 0)
        if not page or following <= marker:
            return None  # a marker that does not move on: no end in sight
        marker = following
    if len(sizes) != check.count or sum(sizes) != size or min(sizes, default=0) <= 0:
        return None
    return sizes


def _attributes(
    client: Transport, bucket: str, key: str, algorithm: str, marker: int
) -> Optional[S3Answer]:
    """One page of the object's attributes from ``marker``; None when refused or
    failed for good (a refusal is remembered). Raises a transient failure."""
    try:
        return client.get_object_attributes(
            Bucket=bucket,
            Key=key,
            ObjectAttributes=["ETag", "ObjectParts", "ObjectSize"],
            MaxParts=PARTS_PAGE,
            PartNumberMarker=marker,
        )
    except Exception as exc:  # any failure: classify (the one table) decides what it is
        kind = classify(exc)[0]
        if error_code(exc) in _UNSUPPORTED or kind is ErrorKind.ACCESS_DENIED:
            _refuse(bucket, algorithm)
            return None
        if kind is not ErrorKind.TRANSIENT:
            return None
        raise


def _same_object(attrs: S3Answer, size: int, etag: str) -> bool:
    """Whether attributes describe the object the download saw (not one replaced since)."""
    if attrs.get("ETag") and attrs["ETag"].strip('"') != etag.strip('"'):
        return False
    return attrs.get("ObjectSize") is None or int(attrs["ObjectSize"]) == size


#: How long a bucket's refusal to list parts is believed (a long-lived shared engine
#: should notice a permission granted since).
REFUSAL_SECONDS = 300.0
_REFUSALS: Dict[Tuple[str, str], float] = {}


def _refused(bucket: str, algorithm: str) -> bool:
    since = _REFUSALS.get((bucket, algorithm))
    return since is not None and time.monotonic() - since < REFUSAL_SECONDS


def _refuse(bucket: str, algorithm: str) -> None:
    _REFUSALS[(bucket, algorithm)] = time.monotonic()


def aligned_spans(sizes: Sequence[int], part: int) -> List[Tuple[int, int, int]]:
    """(offset, length, object part index) of ranges of at most ``part`` bytes that
    never cross one of the object's part boundaries."""
    out: List[Tuple[int, int, int]] = []
    offset = 0
    for index, size in enumerate(sizes):
        for start, length in spans(size, part):
            out.append((offset + start, length, index))
        offset += size
    return out


def group_spans(
    pieces: Sequence[Tuple[int, int]], limit: int
) -> List[Tuple[int, int, int, Tuple[int, ...]]]:
    """Consecutive ``pieces`` ((offset, length), in order, end to end) joined into
    ranges of at most ``limit`` bytes (a longer piece stays alone): (index of its
    first piece, offset, length, lengths of its pieces when it has more than one).

    An object uploaded in 8 MiB parts (boto3's and awscli's default) is then
    fetched in 16 MiB ranges like any other, not in 64 ranges a 512 MiB: fewer
    requests cost the server and the engine less CPU. Measured on such an object
    of 512 MiB (composite CRC32, SeaweedFS, ``s3op get``, 8 interleaved runs):
    0.89 -> 0.69 s, engine CPU 0.76 -> 0.62 s, server CPU 0.65 -> 0.48 s. Each
    piece is still digested on its own (``PieceDigests``).
    """
    out: List[Tuple[int, int, int, Tuple[int, ...]]] = []
    for index, (offset, length) in enumerate(pieces):
        if out and out[-1][2] + length <= limit:
            first, start, total, cuts = out[-1]
            out[-1] = (first, start, total + length, cuts + (length,))
        else:
            out.append((index, offset, length, (length,)))
    return [(first, start, n, cuts if len(cuts) > 1 else ()) for first, start, n, cuts in out]


def composite_crc32(crcs: Sequence[Tuple[int, int]], sizes: Sequence[int], part: int) -> str:
    """S3's composite CRC32 from the (crc32, length) of each ``aligned_spans`` range,
    in range order: each object part's CRC32 is combined from its ranges."""
    per_part = [0] * len(sizes)
    for (crc, length), (_, _, index) in zip(crcs, aligned_spans(sizes, part)):
        per_part[index] = crc32_combine(per_part[index], crc, length)
    return combine("crc32", [c.to_bytes(4, "big") for c in per_part])


def combine(algorithm: str, part_digests: Sequence[bytes]) -> str:
    """S3's form of a multipart object's check from its parts' digests, in order:
    the composite CRC32 (``<b64>-N``) or the multipart ETag (``<md5 hex>-N``)."""
    joined = b"".join(part_digests)
    if algorithm == "crc32":
        return f"{crc32_b64(crc32(joined))}-{len(part_digests)}"
    return f"{hashlib.md5(joined).hexdigest()}-{len(part_digests)}"


def label(algorithm: str) -> str:
    """What a check's result is called in a mismatch message."""
    return "composite CRC32" if algorithm == "crc32" else "multipart ETag"


#: Bytes as the digests take them (hashlib's and zlib's buffers).
Bytes = Union[bytes, bytearray, memoryview]


class _Digest(Protocol):
    def update(self, data: Bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc32:
    """A CRC32 with hashlib's interface (the digest: 4 big-endian bytes)."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: Bytes, /) -> None:
        self.value = crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


class PartsDigest:
    """Digests a byte stream part by part; ``hexdigest()`` is S3's form of the result."""

    def __init__(self, algorithm: str, sizes: Sequence[int]) -> None:
        self.algorithm = algorithm
        self._sizes = list(sizes)
        self._done: List[bytes] = []
        self._part = self._new()
        self._left = self._sizes[0] if self._sizes else 0

    @property
    def label(self) -> str:
        """What its result is called in a mismatch message."""
        return label(self.algorithm)

    def _new(self) -> _Digest:
        return _Crc32() if self.algorithm == "crc32" else hashlib.md5()

    def update(self, data: Bytes) -> None:
        """Digest the next bytes of the stream."""
        view = memoryview(data)
        while len(view):
            if self._left == 0 and len(self._done) + 1 >= len(self._sizes):
                self._part.update(view)  # more bytes than the parts: the result won't match
                return
            if self._left == 0:
                self._done.append(self._part.digest())
                self._part = self._new()
                self._left = self._sizes[len(self._done)]
            take = min(self._left, len(view))
            self._part.update(view[:take])
            self._left -= take
            view = view[take:]

    def digests(self) -> List[bytes]:
        """The digest of each part so far, in order (the last one possibly unfinished)."""
        return [*self._done, self._part.digest()]

    def hexdigest(self) -> str:
        """S3's form of the result (``combine``): ``<b64>-N`` or ``<md5 hex>-N``."""
        return combine(self.algorithm, self.digests())


#: What a ranged GET reports of each piece of the object it fetched:
#: (CRC32 or None, length, MD5 or None).
PieceDigest = Tuple[Optional[int], int, Optional[bytes]]


class PieceDigests:
    """The CRC32 and/or MD5 of each piece of a range that spans several pieces of
    an object (``group_spans``), fed the range's bytes in order, as hashlib is."""

    def __init__(self, cuts: Sequence[int], crc: bool, md5: bool) -> None:
        self.cuts = tuple(cuts)
        self._crc = PartsDigest("crc32", cuts) if crc else None
        self._md5 = PartsDigest("md5", cuts) if md5 else None

    def update(self, data: Bytes) -> None:
        """Digest the range's next bytes, in order."""
        for digest in (self._crc, self._md5):
            if digest is not None:
                digest.update(data)

    def pieces(self) -> Tuple[PieceDigest, ...]:
        """One (CRC32, length, MD5) a piece; call it once every byte is in."""
        none: List[Optional[bytes]] = [None] * len(self.cuts)
        crcs = self._crc.digests() if self._crc else none
        md5s = self._md5.digests() if self._md5 else none
        return tuple(
            (None if crc is None else int.from_bytes(crc, "big"), length, md5)
            for crc, length, md5 in zip(crcs, self.cuts, md5s)
        )


def file_digest(path: str, sizes: Sequence[int], algorithm: str, chunk: int = 1 << 20) -> str:
    """``PartsDigest`` of a whole file."""
    digest = PartsDigest(algorithm, sizes)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def slice_digests(
    path: str, offset: int, sizes: Sequence[int], algorithm: str, chunk: int = 1 << 20
) -> List[bytes]:
    """The digest of each of the parts ``sizes`` that start at ``offset`` in ``path``
    (a slice of a file: slices run on several threads, hashlib and reads release
    the GIL, so the parts of one file are hashed on several cores)."""
    digest = PartsDigest(algorithm, sizes)
    left = sum(sizes)
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        while left > 0:
            block = f.read(min(chunk, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return digest.digests()


def verify_slices(sizes: Sequence[int], at_least: int) -> List[Tuple[int, int, Tuple[int, ...]]]:
    """(first part, offset, part sizes) of consecutive slices of the parts ``sizes``,
    each at least ``at_least`` bytes (but the last) and whole parts only."""
    out: List[Tuple[int, int, Tuple[int, ...]]] = []
    first = offset = total = 0
    for index, size in enumerate(sizes):
        total += size
        if total >= at_least or index == len(sizes) - 1:
            out.append((first, offset, tuple(sizes[first : index + 1])))
            first, offset, total = index + 1, offset + total, 0
    return out

"""CRC32 arithmetic for objects that move in parts.

S3 stores a whole-object CRC32 (``ChecksumType=FULL_OBJECT``) for single
PUTs and for multipart uploads made that way. Parts are fetched or sent
separately, each with its own CRC32; ``crc32_combine`` joins them into the
CRC32 of the concatenation without reading any byte twice.

The CRC register is a vector over GF(2); appending ``n`` zero bytes is a
linear map on it, built here by squaring the one-zero-bit map (a 32x32
bit matrix kept as 32 column words).

``crc32`` is zlib-ng's when it is installed (a dependency): it uses the
CPU's carry-less multiply and runs at ~50 GB/s on this project's bench
machine, against ~4 GB/s for the system zlib CPython links; a 512 MiB
download or upload spends ~10 ms on it instead of ~130 ms of CPU. Both give
the same values (tests/unit/test_checksum.py checks ours against
``zlib.crc32``); without zlib-ng the standard one is used.
"""

from __future__ import annotations

import base64
import functools
import os
from typing import Iterable, Iterator, List, Optional, Tuple

try:
    from zlib_ng.zlib_ng import crc32 as crc32
except ImportError:  # pragma: no cover - a platform with no zlib-ng wheel
    from zlib import crc32 as crc32

#: Bytes read from a file at a time for a checksum.
READ_BLOCK = 1024 * 1024


def read_blocks(path: str, offset: int = 0, length: Optional[int] = None) -> Iterator[memoryview]:
    """``length`` bytes of ``path`` from ``offset`` (to its end when None; less where
    it ends sooner), as views of one buffer that each next block overwrites (no
    1 MiB object a block; none kept after the call: 64 upload threads would hold
    64 MiB)."""
    with open(path, "rb", buffering=0) as f:
        left = os.fstat(f.fileno()).st_size - offset if length is None else length
        buf = memoryview(bytearray(min(READ_BLOCK, max(left, 1))))
        f.seek(offset)
        while left > 0:
            n = f.readinto(buf[: min(READ_BLOCK, left)])
            if not n:
                return
            yield buf[:n]
            left -= n


def file_crc32(path: str, offset: int = 0, length: Optional[int] = None) -> int:
    """CRC32 of ``length`` bytes of ``path`` from ``offset`` (the whole file by
    default): ~0.3 ms a 16 MiB part once read, where its MD5 takes ~40 ms."""
    crc = 0
    for block in read_blocks(path, offset, length):
        crc = crc32(block, crc)
    return crc


_POLY = 0xEDB88320  # CRC-32 (reflected), as zlib and S3 use
Matrix = Tuple[int, ...]


def _apply(mat: Matrix, vec: int) -> int:
    out = 0
    col = 0
    while vec:
        if vec & 1:
            out ^= mat[col]
        vec >>= 1
        col += 1
    return out


def _compose(a: Matrix, b: Matrix) -> Matrix:
    """The map ``a after b``."""
    return tuple(_apply(a, column) for column in b)


def _one_zero_bit() -> Matrix:
    return (_POLY,) + tuple(1 << n for n in range(31))


@functools.lru_cache(maxsize=64)
def _zero_bytes(count: int) -> Matrix:
    """The map 'append ``count`` zero bytes' (binary powering)."""
    step = _one_zero_bit()
    for _ in range(3):  # 1 bit -> 8 bits
        step = _compose(step, step)
    result: Optional[Matrix] = None
    while count:
        if count & 1:
            result = step if result is None else _compose(step, result)
        count >>= 1
        if count:
            step = _compose(step, step)
    assert result is not None
    return result


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC32 of ``A + B`` from crc32(A), crc32(B) and len(B)."""
    if len2 <= 0:
        return crc1
    return _apply(_zero_bytes(len2), crc1) ^ crc2


def crc32_of_parts(parts: Iterable[Tuple[int, int]]) -> int:
    """CRC32 of consecutive parts given as (crc32, length) in order."""
    total = 0
    for crc, length in parts:
        total = crc32_combine(total, crc, length)
    return total


def crc32_b64(crc: int) -> str:
    """S3's header form: base64 of the big-endian 4 bytes."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


def crc32_from_b64(text: Optional[str]) -> Optional[int]:
    """Parse S3's ``ChecksumCRC32``; None for absent or composite ("...-N") values."""
    if not text or "-" in text:
        return None
    raw = base64.b64decode(text)
    return int.from_bytes(raw, "big") if len(raw) == 4 else None


def spans(size: int, part: int) -> List[Tuple[int, int]]:
    """(offset, length) of consecutive parts covering ``size`` bytes."""
    return [(start, min(part, size - start)) for start in range(0, size, part)]

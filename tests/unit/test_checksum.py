"""``s3op.checksum``: the CRC32 every transfer uses, and the arithmetic on it.

The reference is the standard library's ``zlib.crc32`` (the same CRC-32 S3
stores), so the fast one cannot drift from what servers compute.
"""

from __future__ import annotations

import os
import random
import zlib

import pytest

from s3op import checksum
from s3op.checksum import crc32, crc32_b64, crc32_combine, crc32_from_b64, crc32_of_parts, spans


def test_fast_crc32_is_in_use() -> None:
    # zlib-ng is a dependency: the engine must not have fallen back to the
    # ~13x slower standard one on the machines we test and bench on.
    assert checksum.crc32 is not zlib.crc32
    assert crc32.__module__.startswith("zlib_ng")


@pytest.mark.parametrize("size", [0, 1, 15, 16, 63, 64, 65, 4095, 4096, 10_240, (1 << 20) + 7])
def test_crc32_matches_zlib(size: int) -> None:
    data = os.urandom(size)
    assert crc32(data) == zlib.crc32(data)
    assert crc32(memoryview(bytearray(data))) == zlib.crc32(data)


def test_crc32_running_value_matches_zlib_for_any_chunking() -> None:
    data = os.urandom(3 << 20)
    rng = random.Random(7)
    for _ in range(20):
        ours = theirs = rng.getrandbits(32)
        at = 0
        view = memoryview(data)
        while at < len(data):
            n = rng.choice([1, 3, 17, 4096, 65_537, 1 << 20])
            ours = crc32(view[at : at + n], ours)
            theirs = zlib.crc32(data[at : at + n], theirs)
            at += n
        assert ours == theirs


def test_crc32_tells_apart_one_flipped_bit() -> None:
    data = bytearray(os.urandom(1 << 16))
    before = crc32(data)
    data[12_345] ^= 0x10
    assert crc32(data) != before


def test_combine_gives_the_crc32_of_the_concatenation() -> None:
    rng = random.Random(11)
    data = os.urandom(200_000)
    for _ in range(30):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 6)))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
        assert crc32_of_parts((zlib.crc32(p), len(p)) for p in pieces) == zlib.crc32(data)
    a, b = data[:5], data[5:]
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(data)
    assert crc32_combine(zlib.crc32(data), 0, 0) == zlib.crc32(data)


def test_header_form_round_trips_and_composites_are_not_whole_values() -> None:
    for value in (0, 1, 0xB3836B6D, 0xFFFFFFFF):
        assert crc32_from_b64(crc32_b64(value)) == value
    assert crc32_b64(zlib.crc32(b"hello")) == "NhCmhg=="
    assert crc32_from_b64("NhCmhg==-3") is None
    assert crc32_from_b64(None) is None
    assert crc32_from_b64("") is None
    assert crc32_from_b64("AAAAAAA=") is None  # 5 bytes: not a CRC32


def test_spans_cover_the_object_once() -> None:
    assert spans(10, 4) == [(0, 4), (4, 4), (8, 2)]
    assert spans(8, 4) == [(0, 4), (4, 4)]
    assert spans(0, 4) == []

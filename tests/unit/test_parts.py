"""``s3op.parts``: what a multipart object's checksum or ETag says, and digesting to it."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import zlib
from pathlib import Path
from typing import List

import pytest

from s3op.parts import PartsDigest, file_digest, parts_check

SIZES = [5000, 7001, 13]


def split(data: bytes, sizes: List[int]) -> List[bytes]:
    out, at = [], 0
    for size in sizes:
        out.append(data[at : at + size])
        at += size
    return out


def composite_crc32(parts: List[bytes]) -> str:
    joined = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    return base64.b64encode(zlib.crc32(joined).to_bytes(4, "big")).decode() + f"-{len(parts)}"


def multipart_etag(parts: List[bytes]) -> str:
    return hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + (
        f"-{len(parts)}"
    )


@pytest.mark.parametrize("algorithm", ["crc32", "md5"])
def test_digest_matches_s3s_formula_whatever_the_chunks(algorithm: str) -> None:
    data = os.urandom(sum(SIZES))
    want = (composite_crc32 if algorithm == "crc32" else multipart_etag)(split(data, SIZES))
    rng = random.Random(3)
    for _ in range(20):
        digest = PartsDigest(algorithm, SIZES)
        at = 0
        while at < len(data):
            step = rng.choice([1, 7, 4999, 5000, 5001, 20000])
            digest.update(data[at : at + step])
            at += step
        assert digest.hexdigest() == want


@pytest.mark.parametrize("algorithm", ["crc32", "md5"])
def test_damaged_short_or_long_bodies_do_not_match(algorithm: str, tmp_path: Path) -> None:
    data = os.urandom(sum(SIZES))
    want = (composite_crc32 if algorithm == "crc32" else multipart_etag)(split(data, SIZES))
    damaged = bytearray(data)
    damaged[6000] ^= 0x40
    for body in (bytes(damaged), data[:-1], data + b"x"):
        digest = PartsDigest(algorithm, SIZES)
        digest.update(body)
        assert digest.hexdigest() != want
    path = tmp_path / "f"
    path.write_bytes(data)
    assert file_digest(str(path), SIZES, algorithm, chunk=999) == want


def test_what_an_answer_allows() -> None:
    check = parts_check(
        {"ChecksumCRC32": "gFSHxg==-3", "ETag": '"8575ce0cc9690c4c40263336777673c4-3"'}
    )
    assert check is not None and (check.algorithm, check.expected, check.count) == (
        "crc32",
        "gFSHxg==-3",
        3,
    )
    check = parts_check({"ETag": '"8575CE0CC9690C4C40263336777673C4-12"'})
    assert check is not None
    assert (check.algorithm, check.expected, check.count) == (
        "md5",
        "8575ce0cc9690c4c40263336777673c4-12",
        12,
    )
    # An ETag under SSE-KMS or SSE-C is no MD5; a plain one or a full CRC32 is not for us.
    assert parts_check({"ETag": '"8575ce0cc9690c4c40263336777673c4-3"',
                        "ServerSideEncryption": "aws:kms"}) is None  # fmt: skip
    assert parts_check({"ETag": '"8575ce0cc9690c4c40263336777673c4-3"',
                        "SSECustomerAlgorithm": "AES256"}) is None  # fmt: skip
    assert parts_check({"ETag": '"8575ce0cc9690c4c40263336777673c4"'}) is None
    assert parts_check({"ChecksumCRC32": "gFSHxg==", "ETag": '"x"'}) is None
    assert parts_check({"ETag": '"8575ce0cc9690c4c40263336777673c4-0"'}) is None

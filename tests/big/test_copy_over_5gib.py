"""A server-side copy of an object just over 5 GiB (S3's limit for one CopyObject).

The source is written from a block of a prime number of bytes repeated, so
that a part copied to the wrong offset (parts are whole MiB) reads back
different bytes. The copy must be a multipart copy (its ETag has a part
count), keep the size, and hold the right bytes on both sides of every
16 MiB boundary and at both ends: read back with ranged GETs, not by
downloading 5 GiB again.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import List, Tuple

import pytest

from s3client import S3
from tests.backends import Backend

GiB = 1 << 30
MiB = 1 << 20
SIZE = 5 * GiB + 3 * MiB + 17  # over 5 GiB, and not a whole number of parts
BLOCK = random.Random(5).randbytes(1_000_003)  # a prime length
PROBE = 64  # bytes read on each side of an offset


def expected(offset: int, length: int) -> bytes:
    """The source's bytes ``[offset, offset + length)``."""
    start = offset % len(BLOCK)
    out = bytearray()
    while len(out) < length:
        out += BLOCK[start : start + length - len(out)]
        start = 0
    return bytes(out)


def write_source(path: Path) -> None:
    with open(path, "wb") as f:
        written = 0
        while written < SIZE:
            chunk = BLOCK[: SIZE - written]
            f.write(chunk)
            written += len(chunk)


def probes() -> List[Tuple[int, int]]:
    """(offset, length) on both sides of every 16 MiB (and 8 MiB) boundary, and the two ends."""
    step = 8 * MiB
    offsets = [0, SIZE - PROBE] + [k * step - PROBE for k in range(1, SIZE // step + 1)]
    return [(off, min(2 * PROBE, SIZE - off)) for off in offsets]


@pytest.mark.timeout(3600)
def test_a_copy_of_an_object_over_5_gib(s3backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "big"
    write_source(source)
    assert os.path.getsize(source) == SIZE
    client = s3backend.client()
    with S3(s3root=s3backend.root("big")) as s3:
        started = time.monotonic()
        s3.put_files([("src", str(source))])
        source.unlink()  # the copy must not need the local file
        put_done = time.monotonic()
        url = s3.copy("src", "dst")
        print(f"put {put_done - started:.1f} s, copy {time.monotonic() - put_done:.1f} s")
        assert url == s3backend.root("big/dst")
        info = s3.info("dst")
    assert info.size == SIZE
    head = client.head_object(Bucket=s3backend.bucket, Key="big/dst")
    assert "-" in head["ETag"], f"not a multipart copy: ETag {head['ETag']}"
    wrong = []
    for off, length in probes():
        rng = f"bytes={off}-{off + length - 1}"
        got = client.get_object(Bucket=s3backend.bucket, Key="big/dst", Range=rng)["Body"].read()
        if got != expected(off, length):
            wrong.append(off)
    assert wrong == [], f"{len(wrong)} ranges differ from the source, first at {wrong[:5]}"

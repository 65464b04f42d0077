"""``s3op.parts``: what a multipart object's checksum or ETag says, and digesting to it."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import zlib
from pathlib import Path
from typing import Any, Dict, List

import pytest
from botocore.exceptions import ClientError

from s3op.parts import (
    PartsCheck,
    PartsDigest,
    PieceDigests,
    aligned_spans,
    composite_crc32,
    file_digest,
    group_spans,
    part_sizes,
    parts_check,
)
from s3op.responses import parse_attributes

SIZES = [5000, 7001, 13]


def split(data: bytes, sizes: List[int]) -> List[bytes]:
    out, at = [], 0
    for size in sizes:
        out.append(data[at : at + size])
        at += size
    return out


def composite_crc32_of(parts: List[bytes]) -> str:
    joined = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    return base64.b64encode(zlib.crc32(joined).to_bytes(4, "big")).decode() + f"-{len(parts)}"


def multipart_etag(parts: List[bytes]) -> str:
    return hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + (
        f"-{len(parts)}"
    )


@pytest.mark.parametrize("algorithm", ["crc32", "md5"])
def test_digest_matches_s3s_formula_whatever_the_chunks(algorithm: str) -> None:
    data = os.urandom(sum(SIZES))
    want = (composite_crc32_of if algorithm == "crc32" else multipart_etag)(split(data, SIZES))
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
    want = (composite_crc32_of if algorithm == "crc32" else multipart_etag)(split(data, SIZES))
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


class AttributesServer:
    """Stands in for S3's GetObjectAttributes (botocore's side of the boundary)."""

    def __init__(self, sizes: List[int], error: str = "", with_parts: bool = True) -> None:
        self.sizes, self.error, self.with_parts = sizes, error, with_parts
        self.calls = 0

    def get_object_attributes(self, **kwargs: Any) -> Dict[str, Any]:
        self.calls += 1
        if self.error:
            status = {"AccessDenied": 403, "NotImplemented": 501, "SlowDown": 503}[self.error]
            raise ClientError(
                {"Error": {"Code": self.error}, "ResponseMetadata": {"HTTPStatusCode": status}},
                "GetObjectAttributes",
            )
        start, page = kwargs["PartNumberMarker"], kwargs["MaxParts"]
        listed = self.sizes[start : start + page]
        parts: Dict[str, Any] = {"TotalPartsCount": len(self.sizes)}
        if self.with_parts:
            parts["Parts"] = [
                {"PartNumber": start + i + 1, "Size": s} for i, s in enumerate(listed)
            ]
            parts["IsTruncated"] = start + page < len(self.sizes)
            parts["NextPartNumberMarker"] = start + len(listed)
        return {"ObjectParts": parts, "ObjectSize": sum(self.sizes)}


def test_part_sizes_pages_through_many_parts() -> None:
    sizes = [5 * 1024 * 1024 + i for i in range(2500)]
    server = AttributesServer(sizes)
    check = PartsCheck("md5", "x-2500", 2500)
    assert part_sizes(server, "b-pages", "k", sum(sizes), '"e"', check) == sizes
    assert server.calls == 3
    # A count or total that is not this object's: unknown, not a guess.
    assert part_sizes(server, "b-pages", "k", sum(sizes) + 1, '"e"', check) is None
    assert part_sizes(server, "b-pages", "k", sum(sizes), '"e"', PartsCheck("md5", "", 7)) is None


@pytest.mark.parametrize(
    "server",
    [
        AttributesServer([5], error="AccessDenied"),
        AttributesServer([5], error="NotImplemented"),
        AttributesServer([5], with_parts=False),
    ],
)
def test_a_bucket_that_will_not_list_parts_is_asked_once(server: AttributesServer) -> None:
    check = PartsCheck("crc32", "AAAAAA==-1", 1)
    bucket = f"b-{id(server)}"
    for _ in range(3):
        assert part_sizes(server, bucket, "k", 5, '"e"', check) is None
    assert server.calls == 1


def test_a_transient_failure_is_raised_for_the_retry_loop() -> None:
    server = AttributesServer([5], error="SlowDown")
    with pytest.raises(ClientError):
        part_sizes(server, "b-slow", "k", 5, '"e"', PartsCheck("crc32", "AAAAAA==-1", 1))


def test_ranges_within_parts_give_the_composite_crc32() -> None:
    sizes = [5000, 7001, 13]
    data = os.urandom(sum(sizes))
    ranges = aligned_spans(sizes, 3000)
    # No range crosses a part boundary, and together they cover the object in order.
    assert [o for o, _, _ in ranges] == [0, 3000, 5000, 8000, 11000, 12001]
    assert sum(n for _, n, _ in ranges) == len(data)
    crcs = [(zlib.crc32(data[o : o + n]), n) for o, n, _ in ranges]
    assert composite_crc32(crcs, sizes, 3000) == composite_crc32_of(split(data, sizes))
    damaged = [(crcs[0][0] ^ 1, crcs[0][1])] + crcs[1:]
    assert composite_crc32(damaged, sizes, 3000) != composite_crc32_of(split(data, sizes))


def test_attributes_xml_reads_as_botocore_would() -> None:
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<GetObjectAttributesResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <ETag>e895ea5620aee3c681ea4a1c483f71e3-7</ETag>
  <ObjectParts><TotalPartsCount>7</TotalPartsCount><PartNumberMarker>3</PartNumberMarker>
    <NextPartNumberMarker>5</NextPartNumberMarker><MaxParts>2</MaxParts>
    <IsTruncated>true</IsTruncated>
    <Part><PartNumber>4</PartNumber><Size>7340032</Size><ChecksumCRC32>x</ChecksumCRC32></Part>
    <Part><PartNumber>5</PartNumber><Size>123</Size></Part>
  </ObjectParts>
  <ObjectSize>44040315</ObjectSize>
</GetObjectAttributesResponse>"""
    assert parse_attributes(body) == {
        "ETag": "e895ea5620aee3c681ea4a1c483f71e3-7",
        "ObjectSize": 44040315,
        "ObjectParts": {
            "IsTruncated": True,
            "TotalPartsCount": 7,
            "PartNumberMarker": 3,
            "NextPartNumberMarker": 5,
            "MaxParts": 2,
            "Parts": [{"PartNumber": 4, "Size": 7340032}, {"PartNumber": 5, "Size": 123}],
        },
    }


def test_pieces_are_grouped_end_to_end_up_to_the_limit() -> None:
    pieces = [(0, 40), (40, 60), (100, 30), (130, 100), (230, 50), (280, 20), (300, 5)]
    assert group_spans(pieces, 100) == [
        (0, 0, 100, (40, 60)),  # two pieces fill a range exactly
        (2, 100, 30, ()),  # 30 + 100 would be over the limit: alone
        (3, 130, 100, ()),  # a piece as big as the limit stays alone
        (4, 230, 75, (50, 20, 5)),
    ]
    assert group_spans([(0, 500)], 100) == [(0, 0, 500, ())]  # a longer piece: alone, whole
    assert group_spans([], 100) == []


@pytest.mark.parametrize("limit", [1, 7000, 12014, 10**9])
def test_grouped_ranges_cover_the_object_in_order(limit: int) -> None:
    pieces = [(o, n) for o, n, _ in aligned_spans([5000, 7001, 13, 1, 1], 3000)]
    ranges = group_spans(pieces, limit)
    assert [r[1] for r in ranges] == sorted(r[1] for r in ranges)
    assert sum(r[2] for r in ranges) == 12016
    assert all(r[1] + r[2] == nxt[1] for r, nxt in zip(ranges, ranges[1:]))
    assert all(not r[3] or (sum(r[3]) == r[2] and len(r[3]) > 1) for r in ranges)
    firsts = [r[0] for r in ranges]
    counts = [max(1, len(r[3])) for r in ranges]
    assert firsts == [sum(counts[:i]) for i in range(len(ranges))]  # every piece once


@pytest.mark.parametrize("crc,md5", [(True, False), (False, True), (True, True)])
def test_piece_digests_are_each_pieces_own_whatever_the_chunks(crc: bool, md5: bool) -> None:
    rng = random.Random(5)
    cuts = [300, 1, 4096, 77]
    data = bytes(rng.getrandbits(8) for _ in range(sum(cuts)))
    digests = PieceDigests(cuts, crc, md5)
    at = 0
    while at < len(data):
        step = rng.randint(1, 900)
        digests.update(memoryview(data)[at : at + step])
        at += step
    want = [
        (zlib.crc32(p) if crc else None, len(p), hashlib.md5(p).digest() if md5 else None)
        for p in split(data, cuts)
    ]
    assert list(digests.pieces()) == want


def test_a_damaged_byte_changes_only_its_pieces_digest() -> None:
    cuts = [10, 10, 10]
    data = bytearray(os.urandom(30))
    good = PieceDigests(cuts, True, True)
    good.update(bytes(data))
    data[15] ^= 1
    bad = PieceDigests(cuts, True, True)
    bad.update(bytes(data))
    changed = [g != b for g, b in zip(good.pieces(), bad.pieces())]
    assert changed == [False, True, False]

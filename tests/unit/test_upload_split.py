"""How a multipart upload's file is cut into parts (s3op/upload_split.py)."""

from __future__ import annotations

import pytest

from s3op.options import DEFAULT_PART_SIZE
from s3op.upload_split import (
    MAX_UPLOAD_PARTS,
    MIN_PART,
    PARTS_PER_SLOT,
    UPLOAD_SLOTS,
    upload_part_size,
    upload_spans,
)

MiB = 1024 * 1024


def test_a_128_mib_file_goes_in_more_parts_than_slots() -> None:
    # W4's file: 8 parts of 16 MiB would be one a slot, all answered at once.
    part = upload_part_size(128 * MiB, DEFAULT_PART_SIZE)
    assert part == 6 * MiB
    assert len(upload_spans(128 * MiB, DEFAULT_PART_SIZE)) == 22
    assert len(upload_spans(128 * MiB, DEFAULT_PART_SIZE)) >= 2 * UPLOAD_SLOTS


def test_a_big_file_keeps_the_configured_part_size() -> None:
    big = UPLOAD_SLOTS * PARTS_PER_SLOT * DEFAULT_PART_SIZE
    assert upload_part_size(big, DEFAULT_PART_SIZE) == DEFAULT_PART_SIZE
    assert upload_part_size(10 * big, DEFAULT_PART_SIZE) == DEFAULT_PART_SIZE


def test_parts_are_never_below_s3s_minimum_for_a_small_multipart_file() -> None:
    assert upload_part_size(32 * MiB, DEFAULT_PART_SIZE) == MIN_PART
    assert [n for _, n in upload_spans(32 * MiB, DEFAULT_PART_SIZE)] == [MIN_PART] * 6 + [2 * MiB]


def test_a_configured_part_size_below_the_minimum_is_kept() -> None:
    # Tests (and stores without S3's minimum) may ask for tiny parts.
    assert upload_part_size(1000, 100) == 100


def test_never_more_parts_than_s3_allows() -> None:
    size = MAX_UPLOAD_PARTS * 7 + 3
    spans = upload_spans(size, 5)
    assert len(spans) <= MAX_UPLOAD_PARTS
    assert sum(n for _, n in spans) == size


@pytest.mark.parametrize(
    "size", [1, MIN_PART - 1, 32 * MiB, 128 * MiB + 1, 400 * MiB + 12345, 3 * 1024 * MiB]
)
def test_the_spans_cover_the_file_once_in_order(size: int) -> None:
    spans = upload_spans(size, DEFAULT_PART_SIZE)
    part = upload_part_size(size, DEFAULT_PART_SIZE)
    assert spans[0][0] == 0
    assert all(a + n == b for (a, n), (b, _) in zip(spans, spans[1:]))
    assert sum(n for _, n in spans) == size
    assert all(n == part for _, n in spans[:-1])
    assert 0 < spans[-1][1] <= part <= DEFAULT_PART_SIZE
    assert part % MiB == 0

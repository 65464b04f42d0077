"""S3GetObject -> HTTP Range, and RangeInfo from what the engine served."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from s3client import RangeInfo, S3GetObject, S3InvalidRange
from s3client.urls import range_header
from s3op.protocol import RangeServed, parse_range

URL = "s3://bkt/key"


@pytest.mark.parametrize(
    "offset, length, header",
    [
        (0, -1, None),  # the defaults: whole object, no Range header at all
        (0, None, None),
        (None, None, None),
        (100, -1, "bytes=100-"),
        (100, -5, "bytes=100-"),  # a negative length with an offset: to the end
        (0, 10, "bytes=0-9"),
        (500, 100, "bytes=500-599"),
        (7, 1, "bytes=7-7"),
        (None, -1, "bytes=-1"),  # metaflow's convention: the last N bytes
        (None, -250, "bytes=-250"),
        (None, 10, "bytes=0-9"),
    ],
)
def test_range_header(offset: Optional[int], length: Optional[int], header: Optional[str]) -> None:
    assert range_header(URL, offset, length) == header


@pytest.mark.parametrize("offset, length", [(0, 10), (100, -1), (None, -3), (5, 1)])
def test_every_header_is_one_the_engine_accepts(offset: Optional[int], length: int) -> None:
    header = range_header(URL, offset, length)
    assert header is not None
    assert parse_range(header).header() == header


def test_default_s3getobject_is_a_whole_object_get() -> None:
    obj = S3GetObject("k")
    assert (obj.offset, obj.length) == (0, -1)
    assert range_header(URL, obj.offset, obj.length) is None


@pytest.mark.parametrize(
    "offset, length, reason",
    [
        (0, 0, "length 0"),
        (None, 0, "length 0"),
        (-1, 10, "negative offset"),
        (-5, -1, "negative offset"),
        ("0", 10, "integer"),
        (0, 1.5, "integer"),
        (True, 3, "integer"),
    ],
)
def test_invalid_ranges_raise_naming_the_url(offset: Any, length: Any, reason: str) -> None:
    with pytest.raises(S3InvalidRange, match=reason) as info:
        range_header(URL, offset, length)
    assert info.value.url == URL
    assert URL in str(info.value)


def test_range_info_from_served_range() -> None:
    info = RangeInfo.from_served(RangeServed(start=500, end=599, total=1000))
    assert info == RangeInfo(total_size=1000, request_offset=500, request_length=100)


def test_range_info_when_the_end_was_past_the_object() -> None:
    # bytes=90-199 of a 100-byte object serves 90..99: ten bytes.
    info = RangeInfo.from_served(RangeServed(start=90, end=99, total=100))
    assert (info.request_offset, info.request_length) == (90, 10)


def test_range_info_of_suffix_range() -> None:
    info = RangeInfo.from_served(RangeServed(start=750, end=999, total=1000))
    assert info == (1000, 750, 250)


def test_range_info_whole_object() -> None:
    assert RangeInfo.whole(42) == RangeInfo(42, 0, 42)
    assert RangeInfo.whole(0) == (0, 0, 0)

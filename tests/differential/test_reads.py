"""get, get_many, info and info_many: ranges, missing keys and buckets, return_info.

Every range form goes through ``get`` (metaflow: one boto3 call in process)
and ``get_many`` (metaflow: its s3op subprocess), which are two different code
paths in metaflow. A range that fails goes alone into its ``get_many``, so the
failure cannot hide the other ranges. Ranged cases carry the facts ``ranges``
(the (offset, length) forms, in order) and ``body`` (the object's contents).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from tests.differential.conftest import Differential
from tests.differential.harness import Pair, Range, get_object, ranged
from tests.differential.layout import LAYOUT

#: (offset, length) forms that read something from a 1,024-byte object.
RANGES: List[Range] = [
    (None, -10),  # the last 10 bytes
    (100, 50),  # offset and length
    (0, 1),
    (1023, 1),  # the last byte
    (1000, 100),  # length past the end (clamped)
    (None, -2000),  # a suffix longer than the object
    (None, None),
    (0, None),
    (5, None),
    (None, 5),
]
#: An offset with a negative length: "from the offset to the end" in s3client,
#: "the last -length bytes" in metaflow (documented, ``range-to-the-end``).
#: Kept apart from RANGES so that a get_many holds one kind or the other.
TO_THE_END: List[Range] = [
    (0, -1),  # the whole object
    (100, -1),  # from an offset to the end
]
#: Forms that are refused or fail on a 1,024-byte object.
BAD_RANGES: List[Range] = [
    (2000, -1),  # offset past the end
    (1024, 10),  # offset at the end
    (10, 0),  # length 0
    (-1, 10),  # negative offset
    (-5, -1),
]
#: Of these, the ones also sent through get_many, one call each (a failing
#: metaflow s3op call costs ~3 s).
BAD_RANGES_MANY: List[Range] = [(2000, -1), (10, 0), (-1, 10)]
#: Forms sent through get_many on the 0-byte object, one call each.
EMPTY_RANGES: List[Range] = [(0, -1), (None, None)]


GET_FLAGS: List[Dict[str, Any]] = [
    {},
    {"return_missing": True},
    {"return_missing": True, "return_info": False},
]
INFO_FLAGS: List[Dict[str, Any]] = [{}, {"return_missing": True}]
INFO_ON_OFF: List[Dict[str, Any]] = [{"return_info": True}, {"return_info": False}]


def seeded(differential: Differential) -> Pair:
    """LAYOUT under ``d/`` and a pair rooted there."""
    differential.store.seed(LAYOUT, under="d/")
    return differential.pair(s3root=differential.store.url("d"))


def one_range(key: str, offset: Optional[int], length: Optional[int]) -> Callable[[Any], Any]:
    """``fn(s3)``: get of ``key`` with one range."""
    return lambda s3: s3.get(get_object(s3, key, offset, length))


def body(key: str) -> bytes:
    """The contents of LAYOUT's ``key``."""
    value = LAYOUT[key]
    return value if isinstance(value, bytes) else value.body


def test_every_range_form(differential: Differential) -> None:
    both = seeded(differential)
    for key in ("bin", "a", "empty"):
        for offset, length in RANGES + TO_THE_END + BAD_RANGES:
            label = f"get(S3GetObject({key!r}, {offset}, {length}))"
            both.run_both(
                label, one_range(key, offset, length), ranges=[(offset, length)], body=body(key)
            )
    # RANGES on "a" (13 bytes) would fail on both sides at its first offset past the end,
    # and a failing metaflow s3op call costs ~3 s: the get() cases above cover them.
    for key, forms in [("bin", RANGES), ("bin", TO_THE_END), ("a", TO_THE_END)]:
        label = f"get_many(S3GetObject({key!r}, ...) x {forms})"
        both.run_both(label, ranged(key, forms), ranges=forms, body=body(key))
    both.run_both(
        f"get_many(S3GetObject('bin', ...) x {RANGES}, return_info=False)",
        ranged("bin", RANGES, return_info=False),
        ranges=RANGES,
        body=body("bin"),
    )
    for key, forms in [("bin", BAD_RANGES_MANY), ("empty", EMPTY_RANGES)]:
        for form in forms:
            label = f"get_many([S3GetObject({key!r}, *{form})])"
            both.run_both(label, ranged(key, [form]), ranges=[form], body=body(key))
    differential.assert_same()


def test_missing_keys(differential: Differential) -> None:
    both = seeded(differential)
    for flags in GET_FLAGS:
        both.call("get", "nope", **flags)
        both.call("get_many", ["a", "nope", "x/nope"], **flags)
    both.run_both(
        "get_many([S3GetObject('nope', 0, 5), S3GetObject('a', 0, 5)], return_missing=True)",
        lambda s3: s3.get_many(
            [get_object(s3, "nope", 0, 5), get_object(s3, "a", 0, 5)], return_missing=True
        ),
    )
    for flags in INFO_FLAGS:
        both.call("info", "nope", **flags)
        both.call("info_many", ["a", "nope"], **flags)
    differential.assert_same()


def test_missing_bucket(differential: Differential) -> None:
    differential.store.seed(LAYOUT, under="d/")
    url = "s3://no-such-bucket-for-differential-tests/k"
    both = differential.pair()
    missing = {"bucket": "missing"}
    for flags in INFO_FLAGS:
        both.call("get", url, facts=missing, **flags)
        both.call("get_many", [url], facts=missing, **flags)
        both.call("info", url, facts=missing, **flags)
        both.call("info_many", [url], facts=missing, **flags)
    both.call("get_many", [differential.store.url("d/a"), url], return_missing=True, facts=missing)
    prefix = "s3://no-such-bucket-for-differential-tests/p"
    for method in ("list_paths", "list_recursive", "get_recursive"):
        both.call(method, [prefix], facts=missing)
    both.call("put", url, "v", facts=missing)
    both.call("put_many", [(url, "v")], facts=missing)
    differential.assert_same()


def test_return_info_and_object_kinds(differential: Differential) -> None:
    both = seeded(differential)
    keys = ["a", "empty", "bin", "enc", "x/y/z", "same", "x/"]
    for flags in INFO_ON_OFF:
        both.call("get_many", keys, **flags)
        for key in keys:
            both.call("get", key, **flags)
    both.call("info_many", keys)
    both.call("get_many", ["a", "a", "/a"])  # the same object three times
    both.call("get_many", [])
    both.call("info_many", [])
    differential.assert_same()

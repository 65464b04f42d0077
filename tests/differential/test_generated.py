"""Generated key sets and call sequences: what listings and batch gets return, in order.

Hypothesis draws a set of keys (segments that sort around ``/``: ``a-``
and ``a.b`` sort before ``a/``, ``a0`` after; nested up to 4 deep; an object
may also be a prefix) and a short sequence of calls (list_paths,
list_recursive, get_recursive, get_many) whose prefixes are cut from those
keys, with or without a leading or trailing ``/``. Each example gets a fresh
prefix. Differences are recorded, not raised, so Hypothesis never shrinks
(each shrink step would hit the server); runs are derandomized so the same
examples come back every time.
"""

from __future__ import annotations

import itertools
from typing import Any, List, Optional, Tuple

import pytest

from tests.differential.conftest import Differential

# hypothesis is a test dependency; without it this module alone is skipped (the
# skip shows in -ra), instead of failing the collection of the whole directory.
pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install hypothesis)")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SEGMENTS = ["a", "b", "a-", "a.b", "a0", "ab", "B", "\u00e9"]
KEY = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4).map("/".join)
KEY_SETS = st.lists(KEY, min_size=1, max_size=8, unique=True)
LISTINGS = ["list_paths", "list_recursive", "get_recursive"]

Call = Tuple[str, List[Optional[str]]]


@st.composite
def prefix_of(draw: st.DrawFn, keys: List[str]) -> Optional[str]:
    """A prefix cut from one of ``keys`` (or the root), dressed with ``/``."""
    key = draw(st.sampled_from(keys))
    cut = key[: draw(st.integers(0, len(key)))]
    if not cut:
        return draw(st.sampled_from(["", None, "/"]))
    lead = draw(st.sampled_from(["", "/"]))
    trail = draw(st.sampled_from(["", "/"]))
    return lead + cut.strip("/") + trail


@st.composite
def scenario(draw: st.DrawFn) -> Tuple[List[str], List[Call]]:
    """Keys to store and 1-3 calls on them."""
    keys = draw(KEY_SETS)
    calls: List[Call] = []
    for _ in range(draw(st.integers(1, 3))):
        method = draw(st.sampled_from(LISTINGS + ["get_many"]))
        if method == "get_many":
            extra = st.sampled_from(keys + [keys[0] + "/missing", "missing"])
            args: List[Optional[str]] = draw(st.lists(extra, min_size=1, max_size=6))
        else:
            args = draw(st.lists(prefix_of(keys), min_size=1, max_size=3))
        calls.append((method, args))
    return keys, calls


def test_generated_listings(differential: Differential) -> None:
    store = differential.store
    fresh = itertools.count()

    @settings(max_examples=15, deadline=None, derandomize=True, database=None)
    @given(scenario())
    def example(drawn: Tuple[List[str], List[Call]]) -> None:
        keys, calls = drawn
        root = f"g{next(fresh)}"
        # Shorter keys first: an object "a" is written before "a/b" (see store.py).
        store.seed({key: key.encode() for key in sorted(keys)}, under=root + "/")
        both = differential.pair(s3root=store.url(root))
        for method, args in calls:
            flags: Any = {"return_missing": True} if method == "get_many" else {}
            both.call(method, args, note=f" on keys {sorted(keys)}", **flags)

    example()
    differential.assert_same()

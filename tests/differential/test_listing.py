"""list_paths, list_recursive, get_recursive and get_all: prefixes one at a time.

``test_addressing`` lists all prefixes in one call per mode; here the
interesting prefixes go alone, so a difference names its prefix: siblings
(``s/b`` next to ``s/bb`` and ``s/b-c``), an object that is also a prefix
(``same``), an empty "directory" (``hollow/``, a 0-byte marker object),
a missing prefix, and the default (no keys) and empty-list forms.
"""

from __future__ import annotations

from tests.differential.conftest import Differential
from tests.differential.layout import LAYOUT


def test_prefixes_one_at_a_time(differential: Differential) -> None:
    store = differential.store
    store.seed(LAYOUT, under="d/")
    store.seed({"d/hollow/": b""})
    both = differential.pair(s3root=store.url("d"))
    for prefix in ("s/b", "same", "hollow"):
        both.call("list_paths", [prefix])
        both.call("get_recursive", [prefix])
    both.call("list_recursive", ["s/b"])
    both.call("list_paths", ["x", "x"])
    differential.assert_same()


def test_default_and_empty_key_lists(differential: Differential) -> None:
    store = differential.store
    store.seed(LAYOUT, under="d/")
    both = differential.pair(s3root=store.url("d"))
    both.call("list_paths")
    both.call("list_recursive")
    for method in ("list_paths", "list_recursive", "get_recursive"):
        both.call(method, [])
    both.call("get_recursive", ["x", "s"], return_info=True)
    both.call("get_all", return_info=True)
    differential.assert_same()

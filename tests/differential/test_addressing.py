"""Every public method in every addressing mode, on the same objects.

Modes: ``s3root=`` a prefix (with and without a trailing ``/``), full URLs
(``S3()``), and ``run=`` a Run-like object on the configured root, with and
without ``bucket=``/``prefix=``. Each mode reads :data:`LAYOUT` through all
methods with keys with and without a leading ``/``, with a trailing ``/``,
``""`` and ``None``, then writes through put, put_many and put_files (the
bucket is reset before each side and compared after it). Also: ``s3root=``
an object URL with ``get()``, the bucket root, and what the constructors do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from tests.differential.conftest import Differential, run_like
from tests.differential.harness import Pair
from tests.differential.layout import LAYOUT, ROOT_KEYS, ROOT_PREFIXES, TEXT, full_urls
from tests.differential.store import Store

RUN = run_like("DiffFlow", "17")


@dataclass
class Mode:
    """A client configuration and where it sees :data:`LAYOUT`."""

    kwargs: Dict[str, Any]
    store: Store  # the bucket LAYOUT is in
    base: str  # LAYOUT's prefix in that bucket (no trailing "/")
    keys: List[Optional[str]]  # keys to get and info
    prefixes: List[Optional[str]]  # prefixes to list
    write_keys: List[Optional[str]]  # keys to put (each a different URL)
    lone_keys: List[Optional[str]]  # keys to put one by one only (not in the batches)
    bad_keys: List[Optional[str]]  # keys to be refused (one call each)
    full: bool = True  # every batch method; else only get_many and list_recursive

    @property
    def root(self) -> Optional[str]:
        """Where keys resolve: LAYOUT's prefix (None with full URLs)."""
        return self.store.url(self.base) if self.kwargs else None


def make_mode(name: str, diff: Differential) -> Mode:
    """Configure ``diff`` for the mode ``name``; seed LAYOUT where it will look."""
    store, base, kwargs = diff.store, "d", {"s3root": diff.store.url("d")}
    if name == "s3root/":
        kwargs = {"s3root": store.url(base) + "/"}
    elif name.startswith("run"):
        diff.use_root(store.url("cfg/root"))
        kwargs = {"run": RUN}
        if "bucket" in name:
            store = diff.extra_bucket()
            kwargs["bucket"] = store.bucket
        if "prefix" in name:
            kwargs["prefix"] = "/alt/p/"
        base = ("alt/p/" if "prefix" in name else "cfg/root/") + RUN.pathspec
    store.seed(LAYOUT, under=base + "/")
    if name == "urls":
        return urls_mode(store, base)
    bad: List[Optional[str]] = [store.url(base + "/a")]  # a full URL with a root
    full = name in FULL_MODES
    return Mode(kwargs, store, base, ROOT_KEYS, ROOT_PREFIXES, WRITE_KEYS, LONE_KEYS, bad, full)


def urls_mode(store: Store, base: str) -> Mode:
    """Full URLs for every key of the root modes, plus the bucket and its root."""
    root, bucket = store.url(base), store.url("")
    keys = full_urls(root, ROOT_KEYS) + [root, root + "/", root + "//a"]
    prefixes = full_urls(root, ROOT_PREFIXES) + [root, root + "/", bucket]
    writes = full_urls(root, WRITE_KEYS) + [root]
    bad = ["", None, "a", "/a", bucket, bucket[:-1]]
    return Mode({}, store, base, keys, prefixes, writes, full_urls(root, LONE_KEYS), bad)


#: Keys to put: existing and new, a leading "/", nested, the root.
WRITE_KEYS: List[Optional[str]] = ["a", "/new", "x/y/z", "same", "empty", None, "nope"]
#: Keys to put one by one: a trailing "/" (s3client refuses it; in a batch
#: that would hide the rest of the batch).
LONE_KEYS: List[Optional[str]] = ["new/", "a/"]
MODES = ["s3root", "s3root/", "urls", "run", "run+bucket", "run+prefix", "run+bucket+prefix"]
#: Modes run through every batch method. Each metaflow batch call is a child
#: process (~0.7 s); in the other modes the batch methods resolve keys as
#: get/info/put do, so get_many and list_recursive stand for them.
FULL_MODES = ("s3root", "urls", "run+bucket+prefix")


@pytest.mark.parametrize("name", MODES)
def test_every_method(differential: Differential, tmp_path: Path, name: str) -> None:
    mode = make_mode(name, differential)
    reads(differential.pair(root=mode.root, **mode.kwargs), mode)
    writer = differential.pair(
        reset=lambda: mode.store.reset(mode.base, LAYOUT),
        snapshot=lambda: mode.store.snapshot(mode.base),
        root=mode.root,
        **mode.kwargs,
    )
    writes(writer, mode, tmp_path)
    differential.assert_same()


def reads(both: Pair, mode: Mode) -> None:
    """get/info one by one; then each batch method once over all keys or prefixes."""
    for key in mode.keys + mode.bad_keys:
        both.call("get", key)
        both.call("get", key, return_missing=True, return_info=False)
        both.call("info", key, return_missing=True)
    both.call("get_many", mode.keys, return_missing=True)
    both.call("list_recursive", mode.prefixes)
    for key in mode.bad_keys:
        both.call("get_many", [key])
        both.call("list_paths", [key])
    if not mode.full:
        return
    both.call("get_many", mode.keys, return_missing=True, return_info=False)
    both.call("info_many", mode.keys, return_missing=True)
    both.call("list_paths", mode.prefixes)
    both.call("get_recursive", mode.prefixes)
    both.call("get_all")


def writes(both: Pair, mode: Mode, tmp_path: Path) -> None:
    """put one by one; put_many and put_files once over all keys (values differ per key)."""
    for key in mode.write_keys + mode.lone_keys + mode.bad_keys:
        both.call("put", key, "value")
    for key in mode.bad_keys:  # a bad key, and a bad key with a bad value: which wins
        both.call("put_many", [(key, "v")])
        both.call("put_many", [(key, 1)])
        both.call("put", key, 1)
    if not mode.full:
        return
    both.call("put_many", [(key, f"value {i}") for i, key in enumerate(mode.write_keys)])
    files = [(key, str(write_file(tmp_path, i))) for i, key in enumerate(mode.write_keys)]
    both.call("put_files", files)


def write_file(directory: Path, n: int) -> Path:
    """A local file ``directory/file-<n>`` holding ``file <n>``."""
    path = directory / f"file-{n}"
    path.write_text(f"file {n}")
    return path


# --------------------------------------------------------------- other roots


def test_s3root_an_object_url(differential: Differential) -> None:
    differential.store.seed(LAYOUT, under="d/")
    both = differential.pair(s3root=differential.store.url("d/a"))
    both.call("get_many", [None, ""])
    both.call("info_many", [None])
    both.call("list_paths")
    both.call("get_all")
    for root in (differential.store.url("d/a"), differential.store.url("d/a/")):
        both = differential.pair(s3root=root)
        both.call("get", note=f" [s3root={root}]")
        both.call("get", None, return_info=False, note=f" [s3root={root}]")
        both.call("get", "", note=f" [s3root={root}]")
        both.call("info", note=f" [s3root={root}]")
    differential.assert_same()


def test_the_bucket_root(differential: Differential) -> None:
    store = differential.store
    store.seed({"top": b"at the bucket root"})
    store.seed(LAYOUT, under="d/")
    for root in (store.url(""), store.url("")[:-1]):
        both = differential.pair(s3root=root)
        both.call("list_paths", note=f" [s3root={root}]")
        both.call("get", "top", note=f" [s3root={root}]")
        both.call("get", "/d/a", note=f" [s3root={root}]")
    both.call("list_recursive", note=f" [s3root={root}]")
    both.call("get_all", note=f" [s3root={root}]")
    urls = differential.pair()
    for root in (store.url(""), store.url("")[:-1]):
        urls.call("list_paths", [root])
        urls.call("get_recursive", [root])
    differential.assert_same()


def test_constructors(differential: Differential) -> None:
    store = differential.store
    differential.construct("S3(run=Run, no root configured)", run=RUN)
    differential.construct("S3(run=Run, bucket='b', no root configured)", run=RUN, bucket="b")
    differential.construct("S3(s3root='http://host/x')", s3root="http://host/x")
    differential.construct("S3(s3root='bucket/x')", s3root=f"{store.bucket}/x")
    differential.construct("S3(s3root='')", s3root="")
    differential.use_root(store.url("cfg"))
    differential.construct("S3(run='Flow/RunId')", run=RUN.pathspec)
    both = differential.pair(run=RUN, s3root=store.url("elsewhere"))
    both.call("put", "k", "v", note=" [run= and s3root= both given]")
    differential.use_root(store.url("")[:-1])
    both = differential.pair(run=RUN)
    both.call("put", "k", "v", note=" [root without a path]")
    both.call("get", "k", note=" [root without a path]")
    both.call("list_recursive", note=" [root without a path]")
    differential.assert_same()


def test_client_params(differential: Differential) -> None:
    """The same ``client_params`` to both (each its own copy); s3client then takes
    its botocore path. metaflow stores a botocore Config in the dict at its
    first in-process call, and its later s3op calls cannot serialise it."""
    differential.store.seed(LAYOUT, under="d/")
    both = differential.pair(
        s3root=differential.store.url("d"), client_params=differential.client_params()
    )
    both.call("get_many", ["a", "bin", "nope"], return_missing=True)
    both.call("list_recursive", ["x"])
    both.call("put_many", [("new", "v")])
    both.call("get", "a")
    after = {"client_params": "after a single-key call", "body": TEXT}
    both.call("get_many", ["a"], facts=after)
    differential.assert_same()

"""Run by tests/functional/test_sync_memory.py in a fresh process: plan a sync of
N keys and print the planning's peak RSS.

The source is a real directory tree of N empty files (1,000 a directory),
walked by ``localtree.walk``; the destination is an S3 listing of N keys
served page by page (1,000 a page, as S3 does) by a generator behind the
transport interface, read by ``remote.list_entries``: half the keys match
the tree, the rest sort between them, so the plan has puts, skips and
deletes. Every action is consumed and counted, none kept.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from typing import Any, Dict, Optional

from s3op.retry import RetryPolicy
from s3op.sync.compare import Comparer
from s3op.sync.localtree import walk
from s3op.sync.merge import merge
from s3op.sync.plan import PUT, plan
from s3op.sync.remote import list_entries

PER_DIR = 1000
PAGE = 1000


def key(i: int) -> str:
    return f"d{i // PER_DIR:05d}/f{i % PER_DIR:04d}"


def make_tree(root: str, count: int) -> None:
    for i in range(count):
        path = os.path.join(root, *key(i).split("/"))
        if i % PER_DIR == 0:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb"):
            pass


class Pages:
    """ListObjectsV2 pages of ``count`` keys: every even file's key, plus one between
    each pair (``...f0001x``), generated as asked for (the listing under test)."""

    def __init__(self, count: int) -> None:
        self.count = count

    def list_objects_v2(self, *, Bucket: str, Prefix: str = "", Delimiter: str = "",
                        ContinuationToken: Optional[str] = None) -> Dict[str, Any]:  # fmt: skip
        start = int(ContinuationToken or 0)
        end = min(start + PAGE, self.count)
        contents = []
        for i in range(start, end):
            name = key(i) if i % 2 == 0 else key(i) + "x"
            contents.append({"Key": Prefix + name, "Size": 0, "ETag": '"e"'})
        more = end < self.count
        return {"Contents": contents, "IsTruncated": more, "NextContinuationToken": str(end)}


def peak_kib() -> int:
    """This process's peak RSS: ``VmHWM`` (per address space, so not a parent's from
    before exec, as ``ru_maxrss`` may be), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(root: str, count: int) -> None:
    make_tree(root, count)
    base = peak_kib()
    listing = list_entries(Pages(count), RetryPolicy(), "bucket", "p/")  # type: ignore[arg-type]
    local = (e for e in walk(root) if not isinstance(e, str))
    kinds: Dict[str, int] = {}
    for action in plan(merge(local, listing), Comparer("size", None, None), PUT, delete=True):
        kinds[action.kind] = kinds.get(action.kind, 0) + 1
    peak = peak_kib()
    print(json.dumps({"base_kib": base, "peak_kib": peak, "kinds": kinds}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

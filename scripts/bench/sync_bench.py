"""W11: sync a local tree of 1,000 files where 100 changed (peers ``s5cmd sync``,
``aws s3 sync``).

Before each run, untimed: a tree of ``count`` files of ``size`` bytes is
written under the run's ``Job.dest`` and uploaded to the run's own prefix
(boto3), then 10% of the files are rewritten with new bytes of the same
size. The unchanged files are dated an hour back and the changed ones a
minute ahead, so size-and-time peers see what changed too. A run is right
when the prefix holds ``count`` objects and each changed file's object has
its MD5. The tools' side is :mod:`.sync_tools`.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List

from .dataset import bucket_outcome, check
from .model import BUCKET, KIB, Sizes, Workload
from .sync_tools import OPS, tree
from .tools import Job, Outcome, key_name

#: One file in this many is changed before a run.
CHANGED_EVERY = 10


def sync_workloads(s: Sizes) -> List[Workload]:
    """W11 at the sizes of ``s`` (``source`` set: each run gets a fresh prefix)."""
    n, size = s.small_count, s.small_size
    changed = n // CHANGED_EVERY
    title = f"sync {n:,} x {size // KIB} KiB, {changed:,} changed"
    tools = ("s3client", "s5cmd", "awscli")
    return [Workload("W11", title, "sync_tree", "sync/", changed, n, size, "tree", tools)]


def changed_keys(total: int) -> List[str]:
    """The keys W11 changes before each run."""
    return [key_name(i) for i in range(0, total, CHANGED_EVERY)]


def prepare(client: Any, job: Job) -> None:
    """The run's tree, its copy under the prefix, then 10% of the files changed."""
    root = tree(job)
    os.makedirs(root, exist_ok=True)
    rng = random.Random(job.prefix)
    keys = [key_name(i) for i in range(job.total)]
    for key in keys:
        with open(os.path.join(root, key), "wb") as f:
            f.write(rng.randbytes(job.size))

    def put(key: str) -> None:
        with open(os.path.join(root, key), "rb") as f:
            client.put_object(Bucket=BUCKET, Key=job.prefix + key, Body=f.read())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, keys))
    past, future = time.time() - 3600, time.time() + 60
    changed = set(changed_keys(job.total))
    for key in keys:
        path = os.path.join(root, key)
        if key in changed:
            with open(path, "wb") as f:
                f.write(rng.randbytes(job.size))
        os.utime(path, (future, future) if key in changed else (past, past))


def check_run(client: Any, job: Job) -> None:
    """RuntimeError unless the prefix holds the tree, changed files included."""
    check(
        "sync in the bucket",
        bucket_outcome(client, job.prefix),
        Outcome(job.total, job.total * job.size),
    )
    for key in changed_keys(job.total):
        with open(os.path.join(tree(job), key), "rb") as f:
            want = hashlib.md5(f.read()).hexdigest()
        etag = client.head_object(Bucket=BUCKET, Key=job.prefix + key)["ETag"].strip('"')
        if etag != want:
            raise RuntimeError(f"sync: {job.prefix + key} holds MD5 {etag}, the file {want}")


__all__ = ["OPS", "changed_keys", "check_run", "prepare", "sync_workloads"]

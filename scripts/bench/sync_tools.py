"""The tools' side of W11 (sync a local tree of which 100 files changed).

Imported by the Python tools' child (run by its path: a sibling module, only
the standard library at module level) through :mod:`.serverside_tools`, and
by :mod:`.clis` for the CLI peers' argv. The job's tree is ``Job.dest`` +
``/tree`` (made by :mod:`.sync_bench` before the run); the destination is
``Job.prefix``. s3client syncs with its default compare (``checksum``: the
900 unchanged files are read and their MD5 matched with the listing's
ETags); ``s5cmd sync`` and ``aws s3 sync`` compare size and time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, List, Tuple

if TYPE_CHECKING:
    from .tools import Job

OPS = ("sync_tree",)
Counted = Tuple[int, int]  # objects and bytes a run moved


def tree(job: Job) -> str:
    """The local tree a W11 run syncs."""
    return os.path.join(job.dest, "tree")


def run_s3client(job: Job) -> Counted:
    """``S3.sync(tree, prefix)``: the objects it put."""
    from s3client import S3

    with S3(tmproot=job.dest) as s3:
        summary = s3.sync(tree(job), f"s3://{job.bucket}/{job.prefix}")
    summary.raise_for_failures()
    return len(summary.copied), len(summary.copied) * job.size


def cli_args(tool: str, job: Job) -> List[str]:
    """A CLI peer's arguments (after the endpoint) for W11."""
    url = f"s3://{job.bucket}/{job.prefix}"
    if tool == "s5cmd":
        return ["sync", tree(job) + "/", url]
    return ["s3", "sync", "--quiet", tree(job), url]

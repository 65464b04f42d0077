"""A dry-run download: what ``get`` would write, and where, with nothing written.

``--dry-run`` (``BatchOptions.dry_run``, ``Settings.dry_run``) is one
mechanism for every op: each op makes the reads it needs to say what
would happen, and no write. Puts stat their file (``ops/put.py``), copies
HEAD their source (``ops/copy.py``), deletes send nothing
(``ops/delete.py``), and downloads HEAD their object, here: the result
line names the local path the object would be written to, and its size.
Every such line carries ``"dry": true``.
"""

from __future__ import annotations

from s3op.jobs import DryGetJob, InfoJob
from s3op.ops import OpContext
from s3op.ops.info import run_info
from s3op.protocol import InfoRequest, Result


def run_dry_get(ctx: OpContext, job: DryGetJob) -> Result:
    """HEAD the object (as ``info`` does); answer where it would land."""
    req = job.req
    found = run_info(ctx, InfoJob(InfoRequest(req.idx, req.url)))
    if not found.ok:
        return found
    return Result(idx=req.idx, url=req.url, local=job.local, size=found.size, dry=True)

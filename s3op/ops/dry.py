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

from s3op.jobs import DryGetJob
from s3op.ops import OpContext, failed, invalid
from s3op.ops.info import describe, head
from s3op.protocol import ErrorKind, Result, parse_object_url
from s3op.retry import Failure


def run_dry_get(ctx: OpContext, job: DryGetJob) -> Result:
    """HEAD the object; answer where it would land."""
    req = job.req
    try:
        loc = parse_object_url(req.url)
    except ValueError as exc:
        return invalid(req.idx, req.url, ErrorKind.INVALID_URL, str(exc))
    out = head(ctx, loc.bucket, loc.key)
    if isinstance(out, Failure):
        return failed(req.idx, req.url, out)
    result = describe(req.idx, req.url, out, local=job.local)
    return Result(idx=req.idx, url=req.url, local=job.local, size=result.size, dry=True)

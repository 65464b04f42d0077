"""HEAD one object."""

from __future__ import annotations

from typing import Any, Dict, Union

from s3op.jobs import InfoJob
from s3op.ops import OpContext, failed, invalid
from s3op.protocol import ErrorKind, Result, decode_metadata, parse_object_url
from s3op.retry import Deadline, Failure, run_with_retries


def run_info(ctx: OpContext, job: InfoJob) -> Result:
    """HEAD ``job.req.url`` and describe the object."""
    req = job.req
    try:
        loc = parse_object_url(req.url)
    except ValueError as exc:
        return invalid(req.idx, req.url, ErrorKind.INVALID_URL, str(exc))

    out = head(ctx, loc.bucket, loc.key)
    if isinstance(out, Failure):
        return failed(req.idx, req.url, out)
    return describe(req.idx, req.url, out)


def head(ctx: OpContext, bucket: str, key: str) -> Union[Dict[str, Any], Failure]:
    """HEAD an object under the retry policy: its response, or why it failed."""

    def attempt(deadline: Deadline) -> Dict[str, Any]:
        return ctx.client.head_object(Bucket=bucket, Key=key)

    return run_with_retries(attempt, ctx.policy, ctx.on_throttle)


def describe(idx: int, url: str, resp: Dict[str, Any], **extra: Any) -> Result:
    """A result carrying the info fields of a HEAD or GET response."""
    modified = resp.get("LastModified")
    return Result(
        idx=idx,
        url=url,
        size=int(resp.get("ContentLength", 0)),
        content_type=resp.get("ContentType"),
        metadata=decode_metadata(resp.get("Metadata")),
        encryption=resp.get("ServerSideEncryption"),
        last_modified=int(modified.timestamp()) if modified is not None else None,
        etag=resp.get("ETag"),
        **extra,
    )

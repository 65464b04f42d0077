"""List a prefix, recursively or one level deep.

The prefix always gets a trailing ``/`` (unless it is a bucket root), so
listing ``a/b`` never returns the sibling ``a/bb``; an object ``a/b`` and
the prefix ``a/b/`` are different things and both show up in the parent's
listing.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union

from s3op.jobs import Listed, ListJob
from s3op.ops import OpContext, failed, invalid
from s3op.protocol import ErrorKind, Result, parse_url
from s3op.retry import Deadline, Failure, run_with_retries


def list_prefix(key: str) -> str:
    """The S3 prefix to list for ``key``: a directory, never a sibling match."""
    return key if key == "" or key.endswith("/") else key + "/"


def run_list(ctx: OpContext, job: ListJob) -> Union[List[Result], Listed]:
    """List ``job.req.url``; one result per object (and per common prefix)."""
    req = job.req
    try:
        loc = parse_url(req.url)
    except ValueError as exc:
        return [invalid(req.idx, req.url, ErrorKind.INVALID_URL, str(exc))]
    prefix = list_prefix(loc.key)
    delimiter = "" if job.recursive else "/"
    objects: List[Tuple[str, int, Optional[int], Optional[str]]] = []
    prefixes: List[str] = []
    token: Optional[str] = None
    while True:
        page = _page(ctx, loc.bucket, prefix, delimiter, token)
        if isinstance(page, Failure):
            return [failed(req.idx, req.url, page)]
        for item in page.get("Contents", []):
            modified = item.get("LastModified")
            stamp = int(modified.timestamp()) if modified is not None else None
            objects.append((item["Key"], int(item["Size"]), stamp, item.get("ETag")))
        prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            break
    base = f"s3://{loc.bucket}/"
    if job.for_get:
        return Listed(req.idx, tuple((base + key, size) for key, size, _, _ in objects))
    results = [
        Result(idx=req.idx, url=base + key, size=size, last_modified=stamp, etag=etag)
        for key, size, stamp, etag in objects
    ]
    results.extend(Result(idx=req.idx, url=base + p, is_prefix=True) for p in prefixes)
    return results


def _page(
    ctx: OpContext, bucket: str, prefix: str, delimiter: str, token: Optional[str]
) -> Union[Dict[str, Any], Failure]:
    kwargs: Dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": delimiter}
    if token:
        kwargs["ContinuationToken"] = token

    def attempt(deadline: Deadline) -> Dict[str, Any]:
        return ctx.client.list_objects_v2(**kwargs)

    return run_with_retries(attempt, ctx.policy, ctx.on_throttle)

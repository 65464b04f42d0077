"""List a prefix, recursively or one level deep.

The prefix always gets a trailing ``/`` (unless it is a bucket root), so
listing ``a/b`` never returns the sibling ``a/bb``; an object ``a/b`` and
the prefix ``a/b/`` are different things and both show up in the parent's
listing. Each job lists one page and hands back the job for the next, so
the parent streams results out page by page.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Union

from s3op.jobs import Found, Listed, ListJob, Page
from s3op.listpage import ListPage
from s3op.ops import OpContext, failed, invalid
from s3op.protocol import ErrorKind, Result, parse_url
from s3op.retry import Deadline, Failure, run_with_retries


def list_prefix(key: str) -> str:
    """The S3 prefix to list for ``key``: a directory, never a sibling match."""
    return key if key == "" or key.endswith("/") else key + "/"


def run_list(ctx: OpContext, job: ListJob) -> Union[List[Result], Page]:
    """List one page of ``job.req.url``: one result per object (and per common prefix)."""
    req = job.req
    try:
        loc = parse_url(req.url)
    except ValueError as exc:
        return [invalid(req.idx, req.url, ErrorKind.INVALID_URL, str(exc))]
    delimiter = "" if job.recursive else "/"
    page = _page(ctx, loc.bucket, list_prefix(loc.key), delimiter, job.token)
    if isinstance(page, Failure):
        return [failed(req.idx, req.url, page)]
    more = dataclasses.replace(job, token=page.token) if page.truncated and page.token else None
    base = f"s3://{loc.bucket}/"
    urls = [base + key for key in page.keys]
    if job.for_get or job.for_delete:
        found = tuple(zip(urls, page.sizes))
        return Page(Listed(req.idx, found, "delete" if job.for_delete else "get"), more)
    objects = tuple(zip(urls, page.sizes, page.modified, page.etags))
    prefixes = tuple(base + prefix for prefix in page.prefixes)
    return Page(Found(req.idx, objects, prefixes), more)


def _page(
    ctx: OpContext, bucket: str, prefix: str, delimiter: str, token: Optional[str]
) -> Union[ListPage, Failure]:
    def attempt(deadline: Deadline) -> ListPage:
        return ctx.transport.list_page(bucket, prefix, delimiter, token or None)

    return run_with_retries(attempt, ctx.policy, ctx.on_throttle)

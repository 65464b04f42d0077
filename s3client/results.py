"""Turning the engine's result lines into ``S3Object``s, as metaflow.S3 would.

Every rule here is metaflow's observable behaviour, checked side by side by
``tests/differential``:

=====================  ===============================  ========================
method                 ``prefix`` of each object         order
=====================  ===============================  ========================
get, get_many, info    the client's root                 the keys' order
list_paths             the requested prefix + ``/``      per prefix, in request
                                                         order: a page's objects,
                                                         then its sub-prefixes
list_recursive         the requested prefix, as given    per prefix, in the
                                                         server's listing order
get_recursive          the requested prefix, as given    as list_recursive (it
                                                         lists, then downloads)
                       (the client's root with
                       ``return_info=True``, as in
                       metaflow)
=====================  ===============================  ========================

``key`` is always the URL relative to ``prefix`` (``S3Object``). Info
(content type, metadata, encryption, range info, last-modified) is given
only when asked for, so ``has_info`` matches too.
"""

from __future__ import annotations

import os
from typing import Iterable, List, Optional, Sequence

from s3op.protocol import GetRequest, Result

from .errors import S3EngineError, raise_for_result
from .objects import RangeInfo, S3Object, found_under


def downloaded(
    prefix: Optional[str], url: str, local: str, res: Result, return_info: bool, whole: bool
) -> S3Object:
    """The S3Object of a downloaded file; info only with ``return_info``."""
    if not return_info:
        return S3Object(prefix, url, local)
    range_info = RangeInfo.from_served(res.range) if res.range else None
    if range_info is None and whole:
        range_info = RangeInfo.whole(os.path.getsize(local))
    return S3Object(
        prefix,
        url,
        local,
        content_type=res.content_type,
        metadata=res.metadata,
        range_info=range_info,
        last_modified=res.last_modified,
        encryption=res.encryption,
    )


def described(prefix: Optional[str], url: str, res: Result) -> S3Object:
    """The S3Object of an ``info`` (HEAD) result."""
    return S3Object(
        prefix,
        url,
        None,
        size=res.size,
        content_type=res.content_type,
        metadata=res.metadata,
        last_modified=res.last_modified,
        encryption=res.encryption,
    )


def grouped(results: Iterable[Result], count: int) -> List[List[Result]]:
    """Results split by request ``idx`` (0..count-1), each keeping the engine's order.

    Raises the error of the first failed result in request order.
    """
    groups: List[List[Result]] = [[] for _ in range(count)]
    for res in results:
        groups[res.idx].append(res)
    for group in groups:
        for res in group:
            raise_for_result(res)
    return groups


def listed(groups: Sequence[Sequence[Result]], prefixes: Sequence[str]) -> List[S3Object]:
    """``list_paths`` / ``list_recursive`` objects, per requested prefix in order.

    ``groups[i]`` is request ``i``'s listing in the server's order (S3's key
    order; objects, then sub-prefixes, page by page, for one level), and
    ``prefixes[i]`` what it is reported under, as in metaflow.
    """
    objects: List[S3Object] = []
    for prefix, group in zip(prefixes, groups):
        make = found_under(prefix)
        for res in group:
            if res.is_prefix:
                objects.append(S3Object(prefix, res.url.rstrip("/") + "/", None))
            else:
                objects.append(make(res.url, res.size, res.last_modified))
    return objects


def recursive_download(
    prefix: Optional[str], req: GetRequest, res: Result, return_info: bool
) -> S3Object:
    """One ``get_recursive`` object: downloaded whole, reported under ``prefix``."""
    raise_for_result(res, req.url)
    local = res.local or req.local
    if local is None:
        raise S3EngineError.about(req.url, "the engine reported no local file")
    return downloaded(prefix, req.url, local, res, return_info, whole=True)


__all__ = ["described", "downloaded", "grouped", "listed", "recursive_download"]

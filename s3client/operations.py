"""Delete and server-side copy: the ``S3`` methods beyond metaflow's, mixed into ``S3``.

``DataOps`` holds ``delete``, ``delete_many``, ``delete_recursive``,
``copy`` and ``copy_many``; ``S3`` (``client.py``) inherits them. Keys
resolve as everywhere else (``s3client.urls``: a root's suffixes, or full
URLs without one), and the whole input is checked before anything runs:

- ``delete_recursive`` refuses the root itself (a ``None`` or empty key)
  and any prefix that is a whole bucket, unless ``allow_root=True``
  (``S3RefusedError``).
- ``copy``/``copy_many`` refuse a copy onto itself that changes nothing, and
  two copies to one destination (``S3RefusedError``); bad metadata
  (``S3InvalidMetadata``); a missing source (``S3NotFound`` naming it: the
  sources are HEADed in one batch first, so nothing is copied at all).

What they return: the URLs deleted (``delete``: the one URL), and the
destination URLs copied to, in request order. A key that was not there is
deleted all the same, as S3 says. ``dry_run=True`` returns the same lists
as if it had run, having deleted or copied nothing (missing sources still
raise). Copies keep the source's content type, metadata and encryption
unless ``content_type``/``metadata`` are given (``copy``); the client's
``encryption=`` applies to uploads, not to copies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple

from s3op.protocol import InfoRequest, Request, Result, parse_url

from .batching import key_list, names_all_failures
from .client_parts import ClientParts
from .errors import S3NotFound, S3RefusedError, is_not_found, raise_for_result
from .outcome import results_by_request
from .progress import ProgressOption, takes_progress
from .results import grouped
from .urls import as_prefix

if TYPE_CHECKING:  # the requests that write are imported by the first write
    from s3op.protocol import CopyRequest, DeleteRequest


class DataOps(ClientParts):
    """Delete and copy, as methods of ``S3``."""

    # ---------------------------------------------------------------- delete

    @takes_progress
    def delete(
        self, key: Optional[str] = None, dry_run: bool = False,
        *, progress: ProgressOption = None,
    ) -> str:  # fmt: skip
        """Delete one object; return its URL (also when it was not there)."""
        return self.delete_many([key], dry_run=dry_run)[0]

    @names_all_failures
    @takes_progress
    def delete_many(
        self, keys: Iterable[Optional[str]], dry_run: bool = False,
        *, progress: ProgressOption = None,
    ) -> List[str]:  # fmt: skip
        """Delete objects (up to 1,000 per request, in parallel); return their URLs, in
        order. A missing key is not an error."""
        urls = [self._object_url(key) for key in key_list(keys, "delete_many")]
        requests = _delete_requests(urls)
        _raise_first(requests, self._run_op("delete", requests, dry_run))
        return urls

    @names_all_failures
    @takes_progress
    def delete_recursive(
        self, prefixes: Iterable[Optional[str]], allow_root: bool = False, dry_run: bool = False,
        *, progress: ProgressOption = None,
    ) -> List[str]:  # fmt: skip
        """Delete every object under each prefix (``a/b`` is ``a/b/``: never ``a/bb``);
        return the URLs deleted, by prefix in order, then in key order.

        The root itself (a ``None`` or empty key) and a prefix that is a whole
        bucket are refused unless ``allow_root=True`` (``S3RefusedError``).
        """
        keys = key_list(prefixes, "delete_recursive")
        urls = [_deletable_prefix(self._url(key), key, allow_root) for key in keys]
        requests = _delete_requests(urls)
        results = self._run_op("delete", requests, dry_run, ["--recursive"])
        return [res.url for group in grouped(results, len(requests)) for res in group]

    # ------------------------------------------------------------------ copy

    @takes_progress
    def copy(
        self,
        src: str,
        dst: str,
        content_type: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
        dry_run: bool = False,
        *, progress: ProgressOption = None,
    ) -> str:  # fmt: skip
        """Copy one object server-side; return the destination URL. ``content_type``
        and ``metadata`` replace the source's (else the copy keeps them)."""
        from .uploads import check_metadata  # here: a client that only reads never loads it

        url = self._object_url(dst)
        checked = check_metadata(url, metadata)
        spec = (self._object_url(src), url, content_type, checked)
        return self._copy([spec], dry_run)[0]

    @names_all_failures
    @takes_progress
    def copy_many(
        self, pairs: Iterable[Tuple[str, str]], dry_run: bool = False,
        *, progress: ProgressOption = None,
    ) -> List[str]:  # fmt: skip
        """Copy objects server-side, in parallel: ``(src, dst)`` pairs; return the
        destination URLs, in order. Objects over the multipart threshold (32 MiB)
        are copied in parts, in parallel; over 5 GiB they must be."""
        specs = []
        for pair in key_list(pairs, "copy_many"):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"copy_many takes (src, dst) pairs, not {pair!r}")
            specs.append((self._object_url(pair[0]), self._object_url(pair[1]), None, None))
        return self._copy(specs, dry_run)

    def _copy(self, specs: Sequence[_CopySpec], dry_run: bool) -> List[str]:
        _refuse_copies(specs)
        if not specs:
            return []
        heads = self._sources_exist(sorted({spec[0] for spec in specs}))
        requests = [
            _copy_request(i, dst, src, content_type, metadata, heads[src])
            for i, (src, dst, content_type, metadata) in enumerate(specs)
        ]
        _raise_first(requests, self._run_op("copy", requests, dry_run))
        return [req.url for req in requests]

    def _sources_exist(self, sources: Sequence[str]) -> Dict[str, Result]:
        """Each source's HEAD, by URL; S3NotFound naming the first missing source
        (nothing is copied then). A big batch of HEADs runs on more threads than a
        small one (``s3op.options.INFO_THREADS``)."""
        requests = [InfoRequest(i, url) for i, url in enumerate(sources)]
        by_idx = results_by_request(requests, self._run("info", requests, ["--allow-missing"]))
        for req in requests:
            res = by_idx[req.idx]
            if is_not_found(res):
                raise S3NotFound.about(req.url, "the copy's source does not exist; nothing copied")
            raise_for_result(res, req.url)
        return {req.url: by_idx[req.idx] for req in requests}

    def _run_op(
        self, op: str, requests: Sequence[Request], dry_run: bool, flags: Sequence[str] = ()
    ) -> List[Result]:
        if not requests:
            return []
        self._new_batch()  # refuses once the client is closed
        return self._run(op, requests, [*flags, *(["--dry-run"] if dry_run else [])])


#: (source URL, destination URL, new content type, new metadata) of one copy.
_CopySpec = Tuple[str, str, Optional[str], Optional[Dict[str, Any]]]


def _copy_request(
    idx: int,
    dst: str,
    src: str,
    content_type: Optional[str],
    metadata: Optional[Dict[str, Any]],
    head: Result,
) -> CopyRequest:
    """The copy's request, carrying what the source's HEAD said, so the engine need
    not HEAD it again (the copy stays pinned to that ETag: a source replaced
    since fails, never copies another version)."""
    from s3op.protocol import CopyRequest

    known = head.etag is not None and head.size is not None
    return CopyRequest(
        idx,
        dst,
        src,
        content_type,
        metadata,
        source_size=head.size if known else None,
        source_etag=head.etag if known else None,
        source_crc32=head.crc32 if known else None,
        source_encryption=head.encryption if known else None,
    )


def _delete_requests(urls: Sequence[str]) -> List[DeleteRequest]:
    from s3op.protocol import DeleteRequest

    return [DeleteRequest(i, url) for i, url in enumerate(urls)]


def _deletable_prefix(url: str, key: Any, allow_root: bool) -> str:
    """The prefix URL to delete under; S3RefusedError for a root not allowed."""
    if not allow_root:
        if key is None or key == "":
            raise S3RefusedError.about(url, "that is the client's whole root; pass allow_root=True")
        if not parse_url(url).key.strip("/"):
            raise S3RefusedError.about(url, "that is a whole bucket; pass allow_root=True")
    return as_prefix(url)


def _refuse_copies(specs: Sequence[_CopySpec]) -> None:
    """A copy onto itself that changes nothing, or one destination given twice."""
    seen = set()
    for src, dst, content_type, metadata in specs:
        if src == dst and content_type is None and metadata is None:
            raise S3RefusedError.about(dst, "source and destination are the same object")
        if dst in seen:
            raise S3RefusedError.about(dst, "destination given twice in one batch")
        seen.add(dst)


def _raise_first(requests: Sequence[Request], results: Sequence[Result]) -> None:
    """Raise the error of the first failed request, in request order."""
    by_idx = results_by_request(requests, results)
    for req in requests:
        raise_for_result(by_idx[req.idx], req.url)


__all__ = ["DataOps"]

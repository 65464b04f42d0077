"""The ``S3`` client: resolve keys, own a temp dir, run batches, build S3Objects.

Each public method checks its whole input first (URLs, ranges, values,
metadata, local files), so a mistake raises before anything is done. It
then builds one ``s3op.protocol`` request per key, runs them as one batch
through the engine (``runner.Engine``), and maps the results back in
request order: the first failed request, in request order, raises the
exception ``errors.KIND_TO_ERROR`` names for its kind.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
import weakref
from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union

from s3op.protocol import GetRequest, InfoRequest, ListRequest, Request, Result

from .batching import download_names, key_list, make_engine, names_all_failures, remove_tmpdir
from .config import Config, EngineOptions
from .errors import S3Error, S3URLError, is_not_found, raise_for_result
from .iterators import IteratorForms
from .objects import S3GetObject, S3Object
from .operations import DataOps
from .progress import ProgressOption, batch_progress, takes_progress
from .puts import PutForms
from .results import described, downloaded, grouped, listed, recursive_download
from .runner import Engine, results_by_request, sigterm_as_interrupt
from .sync_form import SyncForm
from .urls import as_prefix, choose_root, range_header, resolve_object_url, resolve_url

GetKey = Union[str, S3GetObject, None]


class S3(PutForms, DataOps, IteratorForms, SyncForm):
    """A client for batches of S3 operations, each run by the s3op engine.

    Use it as a context manager (or call ``close()``): it owns a temp dir
    ``s3client.*`` under ``tmproot`` holding downloads, manifests and staged
    uploads, removed on close, at interpreter exit, and after Ctrl-C when
    used with ``with``.

    Addressing (see ``s3client.urls``): ``run=`` ("Flow/RunId", a metaflow
    Run, or ``self`` in a running flow) roots keys at the configured root
    (``S3CLIENT_S3ROOT``, else ``METAFLOW_DATATOOLS_S3ROOT``, with
    ``bucket=``/``prefix=`` replacing its parts) plus ``/Flow/RunId``;
    ``s3root=`` roots them at a given ``s3://`` prefix; with neither, keys
    must be full ``s3://`` URLs. ``run`` wins over ``s3root``; ``bucket``
    and ``prefix`` only matter with ``run``.

    ``encryption`` is the server-side encryption for uploads (an
    ``S3PutObject.encryption`` overrides it). Keyword options: ``role`` (an
    IAM role ARN to assume), ``session_vars`` (dict for ``boto3.Session``),
    ``client_params`` (dict for the boto3 S3 client, e.g. ``endpoint_url``;
    ``config`` as a dict of botocore Config options), ``num_workers``
    (engine processes; default ``S3CLIENT_NUM_WORKERS``) ``threads``
    (threads per process), ``journal`` (a directory: each put batch keeps
    a journal there and resumes from it when run again; gets land in a new
    temp dir each time, so they keep none; see
    docs/long-jobs.md), ``max_bandwidth`` (``"50MB/s"``: a cap on the
    engine's traffic each way). Secrets in ``session_vars``/``client_params``
    reach the engine only through its environment. Methods that run batches
    take ``progress=`` (True: a bar on a terminal; or a callable: see
    ``s3client.progress``).

    Every listing and batch method that can be huge has an iterator form,
    ``iter_list_paths``, ``iter_list_recursive``, ``iter_info_many``,
    ``iter_get_many`` and ``iter_get_recursive`` (``s3client.iterators``).
    """

    def __init__(
        self,
        tmproot: Optional[str] = None,
        bucket: Optional[str] = None,
        prefix: Optional[str] = None,
        run: Any = None,
        s3root: Optional[str] = None,
        encryption: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        config = Config.from_env()
        options = EngineOptions.from_kwargs(kwargs, config)
        self._s3root = choose_root(config, run, s3root, bucket, prefix)
        self._encryption = encryption if encryption is not None else config.encryption
        tmpdir = tempfile.mkdtemp(prefix="s3client.", dir=tmproot or config.tmproot)
        self._tmpdir = os.path.abspath(tmpdir)
        self._finalizer = weakref.finalize(self, remove_tmpdir, self._tmpdir, config.debug)
        self._flags = options.flags()
        self._journal = options.journal
        self._batches = itertools.count()
        self._failures = threading.local()  # failed URLs of this thread's last batch
        self._engine: Engine = make_engine(config.engine, self._tmpdir, options.env(), config.debug)

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> S3:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Delete the temp dir and every file downloaded through this client.

        Safe to call more than once. With ``S3CLIENT_DEBUG`` set the
        directory is kept. A closed client refuses further operations.
        """
        self._finalizer()

    def __repr__(self) -> str:
        state = "closed" if not self._finalizer.alive else self._tmpdir
        return f"<S3 root={self._s3root!r} tmpdir={state}>"

    # ------------------------------------------------------------ downloads

    @takes_progress
    def get(
        self, key: GetKey = None, return_missing: bool = False, return_info: bool = True,
        *, progress: ProgressOption = None,
    ) -> S3Object:  # fmt: skip
        """Download one object (``None``: the root itself); see ``get_many``."""
        return self.get_many([key], return_missing=return_missing, return_info=return_info)[0]

    @names_all_failures
    @takes_progress
    def get_many(
        self,
        keys: Iterable[GetKey],
        return_missing: bool = False,
        return_info: bool = True,
        *, progress: ProgressOption = None,
    ) -> List[S3Object]:  # fmt: skip
        """Download objects in parallel; one S3Object per key, in order.

        A key is a URL, a suffix under the root, or an ``S3GetObject`` for a
        byte range. A missing object raises S3NotFound, or with
        ``return_missing`` comes back with ``exists == False``. With
        ``return_info`` the content type, metadata, encryption, last-modified
        time and ``range_info`` come along at no extra cost.
        """
        targets = [self._get_target(key) for key in key_list(keys, "get_many")]
        requests, results = self._fetch(targets, return_info, return_missing)
        by_idx = results_by_request(requests, results)
        return [
            self._downloaded(req, by_idx[req.idx], return_missing, return_info) for req in requests
        ]

    def _get_target(self, key: GetKey) -> Tuple[str, Optional[str]]:
        """(URL, HTTP range or None) of one ``get_many`` key."""
        if isinstance(key, S3GetObject):
            url = resolve_object_url(self._s3root, key.key)
            return url, range_header(url, key.offset, key.length)
        return resolve_object_url(self._s3root, key), None

    def _fetch(
        self, targets: Sequence[Tuple[str, Optional[str]]], return_info: bool, missing_ok: bool
    ) -> Tuple[List[GetRequest], List[Result]]:
        """Download ``(url, range)`` targets as one batch, each into a file of its own."""
        if not targets:
            return [], []
        batch = self._new_batch()
        name = download_names(self._tmpdir, batch, len(targets))
        requests = [GetRequest(i, url, rng, name(i)) for i, (url, rng) in enumerate(targets)]
        flags = ["--info" if return_info else "--no-info"]
        flags += ["--allow-missing"] if missing_ok else []
        return requests, self._run("get", requests, flags)

    def _downloaded(
        self, req: GetRequest, res: Result, return_missing: bool, return_info: bool
    ) -> S3Object:
        if return_missing and is_not_found(res):
            return S3Object(self._s3root, req.url, None)
        raise_for_result(res, req.url)
        local = res.local or req.local
        assert local is not None  # every GetRequest we build names its file
        whole = req.range is None
        return downloaded(self._s3root, req.url, local, res, return_info, whole)

    @names_all_failures
    @takes_progress
    def get_recursive(
        self, keys: Iterable[Optional[str]], return_info: bool = False,
        *, progress: ProgressOption = None,
    ) -> List[S3Object]:  # fmt: skip
        """Download every object under the given prefixes, in parallel.

        Each key names a prefix (a "directory": a trailing ``/`` is implied,
        so ``data`` does not match ``data2/x``; metaflow would match it).
        Objects come back grouped by prefix, in request order, and by key
        within a prefix. ``prefix`` is the requested prefix and ``key`` the
        path under it; with ``return_info=True`` (as in metaflow) ``prefix``
        is the client's root instead.
        """
        keys = key_list(keys, "get_recursive")
        urls = [self._url(k) for k in keys]
        found = self._list_urls(urls, recursive=True)
        targets = [(res.url, None) for group in found for res in group]
        requests, results = self._fetch(targets, return_info, missing_ok=False)
        by_idx = results_by_request(requests, results)
        prefixes = [self._s3root] * len(urls) if return_info else urls
        owners = [prefixes[i] for i, group in enumerate(found) for _ in group]
        return [
            recursive_download(owner, req, by_idx[req.idx], return_info)
            for owner, req in zip(owners, requests)
        ]

    @takes_progress
    def get_all(
        self, return_info: bool = False, *, progress: ProgressOption = None
    ) -> List[S3Object]:
        """Download every object under the root; needs ``s3root=`` or ``run=``."""
        if self._s3root is None:
            raise S3URLError("get_all() needs a root: create S3 with s3root= or run=")
        return self.get_recursive([None], return_info=return_info)

    # ------------------------------------------------------------ metadata

    @takes_progress
    def info(
        self, key: Optional[str] = None, return_missing: bool = False,
        *, progress: ProgressOption = None,
    ) -> S3Object:  # fmt: skip
        """Metadata of one object (one HEAD request, nothing downloaded)."""
        return self.info_many([key], return_missing=return_missing)[0]

    @names_all_failures
    @takes_progress
    def info_many(
        self, keys: Iterable[Optional[str]], return_missing: bool = False,
        *, progress: ProgressOption = None,
    ) -> List[S3Object]:  # fmt: skip
        """Metadata of many objects in parallel; one S3Object per key, in order.

        The objects have ``downloaded == False`` and ``has_info == True``. A
        missing key raises S3NotFound, or with ``return_missing`` comes back
        with ``exists == False``.
        """
        keys = key_list(keys, "info_many")
        requests = [InfoRequest(i, self._object_url(key)) for i, key in enumerate(keys)]
        if not requests:
            return []
        flags = ["--allow-missing"] if return_missing else []
        by_idx = results_by_request(requests, self._run("info", requests, flags))
        return [self._described(req.url, by_idx[req.idx], return_missing) for req in requests]

    def _described(self, url: str, res: Result, return_missing: bool) -> S3Object:
        if return_missing and is_not_found(res):
            return S3Object(self._s3root, url, None)
        raise_for_result(res, url)
        return described(self._s3root, url, res)

    # ------------------------------------------------------------- listing

    @names_all_failures
    @takes_progress
    def list_paths(
        self, keys: Optional[Iterable[Optional[str]]] = None, *, progress: ProgressOption = None
    ) -> List[S3Object]:
        """List the next level under each prefix (default: the root), in parallel.

        Objects have ``exists == True`` (0-byte ones too); sub-prefixes come
        back with ``exists == False`` and a URL ending in ``/``. A missing
        bucket raises S3NotFound; an empty prefix gives nothing.
        """
        return self._list(keys, recursive=False)

    @names_all_failures
    @takes_progress
    def list_recursive(
        self, keys: Optional[Iterable[Optional[str]]] = None, *, progress: ProgressOption = None
    ) -> List[S3Object]:
        """List every object under each prefix (default: the root), in parallel.

        Only objects come back (all with ``exists == True``).
        """
        return self._list(keys, recursive=True)

    def _list(self, keys: Optional[Iterable[Optional[str]]], recursive: bool) -> List[S3Object]:
        keys = [None] if keys is None else key_list(keys, "list")
        urls = [self._url(key) for key in keys]
        # metaflow reports a one-level listing under "prefix/", a recursive one as given.
        prefixes = urls if recursive else [as_prefix(url) for url in urls]
        return listed(self._list_urls(urls, recursive), prefixes)

    def _list_urls(self, urls: Sequence[str], recursive: bool) -> List[List[Result]]:
        """The listing of each prefix URL, in the server's order (objects only if recursive)."""
        requests = [ListRequest(i, as_prefix(url)) for i, url in enumerate(urls)]
        if not requests:
            return []
        results = self._run("list", requests, ["--recursive"] if recursive else [])
        groups = grouped(results, len(requests))
        return [[r for r in g if not r.is_prefix] for g in groups] if recursive else groups

    # -------------------------------------------------------------- helpers

    def _url(self, key: Any) -> str:
        return resolve_url(self._s3root, key)

    def _object_url(self, key: Any) -> str:
        return resolve_object_url(self._s3root, key)

    def _new_batch(self) -> int:
        """A number naming a batch's files; refuses once the client is closed."""
        if not self._finalizer.alive:
            raise S3Error("this S3 client is closed; create a new one")
        return next(self._batches)

    def _run(self, op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
        if not self._finalizer.alive:
            raise S3Error("this S3 client is closed; create a new one")
        if self._journal and op == "put":  # gets land in a new temp dir: nothing to resume
            flags = [*flags, "--journal", self._journal]  # resumable (docs/long-jobs.md)
        recursive = "--recursive" in flags
        with sigterm_as_interrupt(), batch_progress(op, requests, recursive):
            results = self._engine.run(op, requests, [*flags, *self._flags])
        self._failures.urls = [res.url for res in results if res.error is not None]
        return results


__all__ = ["S3"]

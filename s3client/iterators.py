"""Iterator forms of ``S3``'s listing and batch methods: objects as they arrive,
in memory that does not grow with the batch.

=============================================  ======================================
method (a mixin of ``S3``)                     yields, in which order
=============================================  ======================================
``iter_list_paths(keys=None)``                 as ``list_paths``, in the same order:
``iter_list_recursive(keys=None)``             as ``list_recursive``; one prefix after
                                               another, each in the server's order
``iter_info_many(keys, return_missing)``       as ``info_many``, in completion order
``iter_get_many(keys, return_missing,          as ``get_many``, in completion order
return_info, keep=False)``
``iter_get_recursive(keys, return_info,        as ``get_recursive``, in completion
keep=False)``                                  order (listing and downloads overlap)
=============================================  ======================================

Why completion order for gets and infos: request order would hold every
object that arrives before a slow one (memory growing with the batch);
each object names its key (``.key``, ``.url``). Listings keep the list
forms' order: each prefix is one batch, read page by page.

Downloaded files: with ``keep=False`` (the default) an object's file is
removed when the iterator is advanced past it, so disk use stays flat too:
read it (``.blob``, ``.path``) before asking for the next one. With
``keep=True`` files stay until the client is closed, as with ``get_many``.

How it streams: the keys are written to the manifest as they are resolved
(a bad key raises ``S3URLError`` before anything is sent, as in the list
forms), then the batch runs on a thread of its own under the client's
engine policy, which hands each result line on as it is read
(``s3client.linestream``) through a bounded queue: a consumer slower than
the engine holds the engine back, never memory. The first failure raises
when it arrives (objects that arrived before it were yielded). Leaving the
loop early (``break``, an exception) stops the engine at its next line, as
Ctrl-C does.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Union

from s3op.protocol import ExitCode, GetRequest, InfoRequest, ListRequest, Request, Result

from .batching import SHARD_MIN, download_names, key_list
from .client_parts import ClientParts
from .errors import is_not_found, raise_for_result
from .linestream import Abandoned, LineStream, streaming_to
from .objects import S3Object
from .outcome import RESULT_EXIT_CODES, Line, engine_error, is_listing, parse_results
from .results import described, downloaded, listed
from .runner import (
    Policy,
    ProcessEngine,
    announce_kept_manifest,
    build_argv,
    remove_file,
    write_manifest,
)
from .urls import as_prefix

#: Result lines that may wait between the engine's reader and the consumer.
QUEUE_LINES = 4096


class _End:
    """The batch's end: its exit code and stderr, or the exception its thread met."""

    def __init__(self, exit_code: int = 0, stderr: str = "", error: Optional[BaseException] = None):
        self.exit_code, self.stderr, self.error = exit_code, stderr, error


class _Counted:
    """The requests, counted as they are written to the manifest."""

    def __init__(self, requests: Iterable[Request]) -> None:
        self.requests = requests
        self.count = 0
        self.first: Optional[Request] = None

    def __iter__(self) -> Iterator[Request]:
        for req in self.requests:
            self.count += 1
            self.first = self.first or req
            yield req


class _BatchThread(threading.Thread):
    """Runs one engine command under ``policy``, its lines into a bounded queue."""

    def __init__(self, policy: Policy, argv: Sequence[str]) -> None:
        import queue  # here: only the iterator forms need it

        super().__init__(daemon=True, name="s3client-iterator")
        self.policy, self.argv = policy, argv
        self.lines: queue.Queue[Union[Line, _End]] = queue.Queue(QUEUE_LINES)
        self.abandoned = threading.Event()

    def run(self) -> None:
        try:
            end = self._answer()
            self._hand_on(end)
        except Abandoned:
            return  # the policy stopped the engine, if it ran; nobody reads any more

    def _answer(self) -> _End:
        """Run the command, its lines handed on; how it ended."""
        try:
            with streaming_to(LineStream(self._hand_on)):
                answer = self.policy.run(self.argv)
        except Abandoned:
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, who raises it
            return _End(error=exc)
        return _End(answer.exit_code, answer.stderr)

    def _hand_on(self, item: Union[Line, _End]) -> None:
        import queue  # loaded by __init__

        while True:
            if self.abandoned.is_set():
                raise Abandoned()
            try:
                self.lines.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


def stream_batch(
    client: Any, op: str, requests: Iterable[Request], flags: Sequence[str]
) -> Iterator[Result]:
    """The results of one ``op`` batch, as the engine writes them. ``requests``
    are read (and the manifest written) before anything is sent."""
    engine = client._engine
    if not isinstance(engine, ProcessEngine):  # an engine of another kind: its list form
        yield from engine.run(op, list(requests), [*flags, *client._flags])
        return
    counted = _Counted(requests)
    manifest = write_manifest(counted, engine.workdir)
    if counted.count == 0:
        remove_file(manifest)
        return
    batch = _BatchThread(engine.policy, build_argv([], op, manifest, [*flags, *client._flags]))
    batch.start()
    try:
        yield from _read(batch, op, flags, counted)
    finally:
        batch.abandoned.set()
        batch.join()
        if engine.keep_files:  # S3CLIENT_DEBUG, as the list forms
            announce_kept_manifest(op, manifest)
        else:
            remove_file(manifest)


def _read(
    batch: _BatchThread, op: str, flags: Sequence[str], counted: _Counted
) -> Iterator[Result]:
    """Each result as it comes; at the end, the batch judged as the list forms judge it."""
    first: List[Request] = [counted.first] if counted.first is not None else []
    answered = 0
    while True:
        item = batch.lines.get()
        if isinstance(item, _End):
            break
        (result,) = parse_results(op, first, [item], "")
        answered += 1
        yield result
    if item.error is not None:
        raise item.error
    code = item.exit_code
    listing = is_listing(op, flags)
    if code == ExitCode.USAGE or (listing and code not in RESULT_EXIT_CODES):
        raise engine_error(op, first, f"exit {code}", item.stderr)
    if not listing and answered < counted.count:
        missing = counted.count - answered
        raise engine_error(
            op, first, f"exit {code}, no result for {missing} request(s)", item.stderr
        )


class IteratorForms(ClientParts):
    """The ``iter_*`` methods of ``S3`` (see the module docstring); ``S3`` gives
    the attributes and helpers ``ClientParts`` declares."""

    def iter_list_paths(self, keys: Optional[Iterable[Optional[str]]] = None) -> Iterator[S3Object]:
        """``list_paths``, one object at a time (same objects, same order)."""
        return self._iter_list(keys, recursive=False)

    def iter_list_recursive(
        self, keys: Optional[Iterable[Optional[str]]] = None
    ) -> Iterator[S3Object]:
        """``list_recursive``, one object at a time (same objects, same order)."""
        return self._iter_list(keys, recursive=True)

    def _iter_list(
        self, keys: Optional[Iterable[Optional[str]]], recursive: bool
    ) -> Iterator[S3Object]:
        keys = [None] if keys is None else key_list(keys, "list")
        urls = [self._url(key) for key in keys]
        flags = ["--recursive"] if recursive else []
        for url in urls:
            shown = url if recursive else as_prefix(url)
            for res in stream_batch(self, "list", [ListRequest(0, as_prefix(url))], flags):
                raise_for_result(res)
                if not (recursive and res.is_prefix):
                    yield from listed([[res]], [shown])

    def iter_info_many(
        self, keys: Iterable[Optional[str]], return_missing: bool = False
    ) -> Iterator[S3Object]:
        """``info_many``, one object at a time, in completion order."""
        resolve = self._object_url
        requests = (InfoRequest(i, resolve(key)) for i, key in enumerate(_keys(keys, "info")))
        flags = ["--allow-missing"] if return_missing else []
        for res in stream_batch(self, "info", requests, flags):
            if return_missing and is_not_found(res):
                yield S3Object(self._s3root, res.url, None)
                continue
            raise_for_result(res, res.url)
            yield described(self._s3root, res.url, res)

    def iter_get_many(
        self,
        keys: Iterable[Any],
        return_missing: bool = False,
        return_info: bool = True,
        keep: bool = False,
    ) -> Iterator[S3Object]:
        """``get_many``, one object at a time, in completion order; a file is
        removed once the iterator moves past it unless ``keep``."""
        name = download_names(self._tmpdir, self._new_batch(), SHARD_MIN)
        target = self._get_target
        requests = (
            GetRequest(i, *target(key), name(i)) for i, key in enumerate(_keys(keys, "get_many"))
        )
        flags = ["--info" if return_info else "--no-info"]
        flags += ["--allow-missing"] if return_missing else []
        for res in _kept(stream_batch(self, "get", requests, flags), keep):
            if return_missing and is_not_found(res):
                yield S3Object(self._s3root, res.url, None)
                continue
            raise_for_result(res, res.url)
            assert res.local is not None
            yield downloaded(self._s3root, res.url, res.local, res, return_info, res.range is None)

    def iter_get_recursive(
        self, keys: Iterable[Optional[str]], return_info: bool = False, keep: bool = False
    ) -> Iterator[S3Object]:
        """``get_recursive``, one object at a time, in completion order (the engine
        downloads while it lists); files as in ``iter_get_many``."""
        urls = [self._url(k) for k in key_list(keys, "get_recursive")]
        directory = os.path.join(self._tmpdir, f"get-{self._new_batch()}")
        os.mkdir(directory, 0o700)
        flags = ["--recursive", "--destination", directory, "--layout", "hashed"]
        flags += ["--info" if return_info else "--no-info"]
        requests = [GetRequest(i, as_prefix(url)) for i, url in enumerate(urls)]
        for res in _kept(stream_batch(self, "get", requests, flags), keep):
            raise_for_result(res, res.url)
            assert res.local is not None
            prefix = self._s3root if return_info else urls[res.idx]
            yield downloaded(prefix, res.url, res.local, res, return_info, whole=True)


def _keys(keys: Iterable[Any], method: str) -> Iterator[Any]:
    """``keys`` one at a time; a lone string is refused as by the list forms."""
    if isinstance(keys, (str, bytes)):
        key_list(keys, method)  # raises TypeError, naming the method
    return iter(keys)


def _kept(results: Iterator[Result], keep: bool) -> Iterator[Result]:
    """``results``; unless ``keep``, each one's file is removed on the next step."""
    previous: Optional[str] = None
    try:
        for res in results:
            if previous is not None and not keep:
                remove_file(previous)
            previous = res.local
            yield res
    finally:
        if previous is not None and not keep:
            remove_file(previous)


__all__ = ["IteratorForms", "QUEUE_LINES", "stream_batch"]

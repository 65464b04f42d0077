"""Checking and staging put requests before the engine runs.

A put batch is checked whole before anything is uploaded: every key
resolves to a URL, no URL appears twice, every value is text, bytes-like
or a readable and seekable file object, every local file exists and is
readable, and all metadata encodes (``protocol.encode_metadata``). Values
are then written to temp files (``stage_value``) for the engine to upload.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from s3op.protocol import PutRequest, encode_metadata

from .errors import (
    S3InsufficientDiskSpace,
    S3InvalidMetadata,
    S3InvalidObject,
    S3LocalFileError,
    S3LocalFileNotFound,
    S3URLError,
)
from .objects import PutValue, S3PutObject

#: How much of a file object is copied at a time when staging it.
CHUNK_SIZE = 1 << 20

_BYTES_LIKE = (bytes, bytearray, memoryview)


@dataclass(frozen=True)
class PutItem:
    """One checked upload: contents come from ``value`` or the file ``path``."""

    key: str  # as the caller gave it; returned in (key, url) pairs
    url: str  # resolved and checked
    value: Any = None  # contents to stage (None when path is set)
    path: Optional[str] = None  # absolute path of a local file to upload
    content_type: Optional[str] = None
    metadata: Optional[Dict[str, Any]] = None  # checked to encode within 2 KB
    encryption: Optional[str] = None

    def request(self, idx: int, local: str) -> PutRequest:
        """The engine request uploading ``local`` (the path or a staged copy)."""
        return PutRequest(
            idx=idx,
            url=self.url,
            local=local,
            content_type=self.content_type,
            metadata=self.metadata,
            encryption=self.encryption,
        )


Resolve = Callable[[Any], str]


def items_from_values(
    key_objs: Iterable[Any], resolve: Resolve, encryption: Optional[str]
) -> List[PutItem]:
    """Check ``put_many`` input: ``(key, value)`` pairs or ``S3PutObject``s."""
    specs = [_spec(entry, as_path=False) for entry in key_objs]
    return _check_batch([_item(spec, resolve, encryption) for spec in specs])


def items_from_files(
    key_paths: Iterable[Any], resolve: Resolve, encryption: Optional[str]
) -> List[PutItem]:
    """Check ``put_files`` input: ``(key, local_path)`` pairs or ``S3PutObject``s."""
    specs = [_spec(entry, as_path=True) for entry in key_paths]
    return _check_batch([_item(spec, resolve, encryption) for spec in specs])


def put_spec(
    key: Union[str, S3PutObject],
    obj: Optional[PutValue],
    content_type: Optional[str],
    metadata: Optional[Dict[str, Any]],
) -> S3PutObject:
    """The S3PutObject for ``put``'s arguments (explicit arguments win)."""
    if not isinstance(key, S3PutObject):
        return S3PutObject(key, value=obj, content_type=content_type, metadata=metadata)
    spec = key
    if obj is not None:
        spec = spec._replace(value=obj, path=None)
    if content_type is not None:
        spec = spec._replace(content_type=content_type)
    if metadata is not None:
        spec = spec._replace(metadata=metadata)
    return spec


def _spec(entry: Any, as_path: bool) -> S3PutObject:
    """An ``S3PutObject`` for one input entry; pairs give a value or a path."""
    if isinstance(entry, S3PutObject):
        return entry
    if not isinstance(entry, Sequence) or isinstance(entry, (str, bytes)) or len(entry) != 2:
        raise S3InvalidObject.about(
            repr(entry)[:80], "expected a (key, value) pair or an S3PutObject"
        )
    key, source = entry
    return S3PutObject(key, path=source) if as_path else S3PutObject(key, value=source)


def _item(spec: S3PutObject, resolve: Resolve, encryption: Optional[str]) -> PutItem:
    """Check one upload. As in metaflow, a bad value or a missing file is reported
    before a bad key: the key's error is raised only once the rest is sound."""
    url, url_error = _resolve_put_url(spec.key, resolve)
    if (spec.value is None) == (spec.path is None):
        raise S3InvalidObject.about(url, "give exactly one of value and path")
    if spec.content_type is not None and not isinstance(spec.content_type, str):
        raise S3InvalidObject.about(url, "content_type must be a string")
    if spec.value is not None:
        check_value(url, spec.value)
    path = None if spec.path is None else check_local_file(url, spec.path)
    metadata = check_metadata(url, spec.metadata)
    if url_error is not None:
        raise url_error
    return PutItem(
        key=spec.key,
        url=url,
        value=spec.value,
        path=path,
        content_type=spec.content_type,
        metadata=metadata,
        encryption=spec.encryption or encryption,
    )


def _resolve_put_url(key: Any, resolve: Resolve) -> Tuple[str, Optional[S3URLError]]:
    """The URL for ``key``, or (its repr, the error) when it cannot be one.

    A key ending in ``/`` names a "directory", not an object: S3 would store
    an object under it, but many S3-compatible stores drop its data. It is
    refused here, before anything is sent (metaflow sends it).
    """
    try:
        url = resolve(key)
    except S3URLError as exc:
        return repr(key), exc
    if url.endswith("/"):
        return url, S3URLError.about(url, "a key ending in / names a directory, not an object")
    return url, None


def _check_batch(items: List[PutItem]) -> List[PutItem]:
    """Refuse a batch that writes one URL twice (which copy would win is unclear)."""
    seen = set()
    for item in items:
        if item.url in seen:
            raise S3InvalidObject.about(item.url, "the same key appears twice in one batch")
        seen.add(item.url)
    return items


def check_value(url: str, value: Any) -> None:
    """Raise S3InvalidObject unless ``value`` is text, bytes-like or a usable file."""
    if isinstance(value, (str,) + _BYTES_LIKE):
        return
    if not (callable(getattr(value, "read", None)) and callable(getattr(value, "seek", None))):
        raise S3InvalidObject.about(
            url, f"{type(value).__name__} is not str, bytes or a file object"
        )
    try:
        usable = _flag(value, "readable") and _flag(value, "seekable")
    except ValueError as exc:  # io raises ValueError on a closed file
        raise S3InvalidObject.about(url, str(exc)) from None
    if not usable:
        raise S3InvalidObject.about(url, "the file object is not readable and seekable")


def _flag(value: Any, name: str) -> bool:
    method = getattr(value, name, None)
    return True if method is None else bool(method())


def check_metadata(url: str, metadata: Any) -> Optional[Dict[str, Any]]:
    """The metadata to send (None when empty); S3InvalidMetadata if unusable."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise S3InvalidMetadata.about(
            url, f"metadata must be a dict, not {type(metadata).__name__}"
        )
    try:
        encode_metadata(metadata)
    except ValueError as exc:
        raise S3InvalidMetadata.about(url, str(exc)) from None
    return metadata or None


def check_local_file(key: str, path: Any) -> str:
    """The absolute path of a readable regular file; S3LocalFileError otherwise.

    A stat first, so nothing but a regular file is ever opened (opening a
    device or a FIFO can have effects of its own); then one open (non-blocking,
    no controlling terminal) and an fstat of what opened. A batch of 1,000
    files costs ~6.5 ms, against ~10 for the stat, stat and buffered open before.
    """
    try:
        local = os.path.abspath(os.fspath(path))
    except TypeError:
        raise S3LocalFileError.about(key, f"not a path: {path!r}", path=repr(path)) from None
    try:
        regular = stat.S_ISREG(os.stat(local).st_mode)
        if regular:
            fd = os.open(local, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
            try:
                regular = stat.S_ISREG(os.fstat(fd).st_mode)  # what opened, if it changed
            finally:
                os.close(fd)
    except (FileNotFoundError, NotADirectoryError, ValueError):  # ValueError: a NUL byte
        raise S3LocalFileNotFound.about(key, f"no such file: {local}", path=local) from None
    except OSError as exc:
        raise S3LocalFileError.about(
            key, f"cannot read {local}: {exc.strerror}", path=local
        ) from None
    if not regular:
        raise S3LocalFileError.about(key, f"not a regular file: {local}", path=local)
    return local


def stage_value(url: str, value: Any, dest: str, rewind: bool = True) -> None:
    """Write ``value`` to the new file ``dest`` (mode 0600).

    Text is encoded as UTF-8; a file object is copied in ``CHUNK_SIZE``
    pieces (text-mode chunks are encoded as UTF-8), from its start when
    ``rewind`` (``put``), else from where it stands (``put_many``, as in
    metaflow).
    A full disk raises S3InsufficientDiskSpace naming ``url``.
    """
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            _copy_value(value, out, rewind)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise S3InsufficientDiskSpace.about(url, f"staging the upload in {dest}") from None
        raise


def _copy_value(value: Any, out: Any, rewind: bool) -> None:
    if isinstance(value, str):
        out.write(value.encode("utf-8"))
        return
    if isinstance(value, _BYTES_LIKE):
        out.write(value)
        return
    if rewind:
        value.seek(0)
    while True:
        chunk = value.read(CHUNK_SIZE)
        if not chunk:
            return
        out.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)


__all__ = [
    "CHUNK_SIZE",
    "PutItem",
    "check_local_file",
    "check_metadata",
    "check_value",
    "items_from_files",
    "items_from_values",
    "put_spec",
    "stage_value",
]

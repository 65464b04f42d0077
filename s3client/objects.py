"""The value types of the public API: S3Object and the request helpers.

``S3GetObject``, ``S3PutObject`` and ``RangeInfo`` are named tuples, as in
metaflow, so they unpack and compare like tuples. ``S3Object`` is what every
``S3`` method returns: an S3 location, and for downloads a local copy.
Keys are never used as local paths; ``path`` is a file in the client's
temp dir named by the client.
"""

from __future__ import annotations

import os
from io import BufferedIOBase, RawIOBase, TextIOBase
from typing import IO, Any, Callable, Dict, NamedTuple, Optional, Tuple, Union

from s3op.protocol import RangeServed

#: What ``put`` accepts as an object's contents: text (stored as UTF-8),
#: bytes-like, or a readable and seekable file object.
PutValue = Union[str, bytes, bytearray, memoryview, RawIOBase, BufferedIOBase, TextIOBase, IO[Any]]


class RangeInfo(NamedTuple):
    """What part of an object a download holds.

    ``total_size`` is the object's size in S3, ``request_offset`` the first
    byte downloaded, ``request_length`` how many bytes were downloaded.
    """

    total_size: int
    request_offset: int = 0
    request_length: int = -1

    @classmethod
    def from_served(cls, served: RangeServed) -> RangeInfo:
        """Build from the engine's inclusive ``start``..``end`` of ``total``."""
        return cls(served.total, served.start, served.end - served.start + 1)

    @classmethod
    def whole(cls, size: int) -> RangeInfo:
        """The range info of a whole-object download of ``size`` bytes."""
        return cls(size, 0, size)


class S3GetObject(NamedTuple):
    """A download request for part of an object.

    ``offset`` is the first byte, ``length`` the number of bytes. A negative
    ``length`` means "to the end" (the whole object when ``offset`` is 0).
    With ``offset=None`` a negative ``length`` asks for the *last*
    ``-length`` bytes, as in metaflow. ``length == 0`` or a negative
    ``offset`` raise ``S3InvalidRange`` before anything is downloaded.
    """

    key: Optional[str]
    offset: Optional[int] = 0
    length: Optional[int] = -1


class S3PutObject(NamedTuple):
    """An upload with its options. Give exactly one of ``value`` and ``path``.

    ``value`` is contents (see ``PutValue``); ``path`` a local file.
    ``encryption`` overrides the client's ``encryption`` for this object.
    ``metadata`` is any JSON-encodable dict (at most 2 KB as JSON).
    """

    key: str
    value: Optional[PutValue] = None
    path: Optional[str] = None
    content_type: Optional[str] = None
    encryption: Optional[str] = None
    metadata: Optional[Dict[str, Any]] = None


class S3Object:
    """A path or object in S3, with a local copy when it was downloaded.

    Returned by the ``S3`` client's methods; not meant to be built by users.
    ``size`` None means the object does not exist (a missing key, or a
    prefix from ``list_paths``); a 0-byte object exists. When ``path`` is
    given, the size is that of the local file.

    ``prefix`` and ``key`` follow metaflow's ``S3Object`` to the letter:
    ``prefix`` is what the object was found under and ``key`` the URL
    relative to it, with any trailing ``/`` removed. Which prefix that is
    depends on the method (the client's root for ``get``/``info``; the
    requested prefix for listings; see ``S3``'s methods). With no prefix,
    or when the URL *is* the prefix, ``prefix`` is None and ``key`` is the
    whole URL.
    """

    def __init__(
        self,
        prefix: Optional[str],
        url: str,
        path: Optional[str],
        size: Optional[int] = None,
        content_type: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
        range_info: Optional[RangeInfo] = None,
        last_modified: Optional[float] = None,
        encryption: Optional[str] = None,
    ) -> None:
        if path is not None:
            size = os.path.getsize(path)
        self._prefix, self._key = _prefix_and_key(prefix, url)
        self._url = url
        self._path = path
        self._size = size
        self._content_type = content_type
        self._metadata = metadata
        self._range_info = range_info
        self._last_modified = None if last_modified is None else float(last_modified)
        self._encryption = encryption

    @property
    def exists(self) -> bool:
        """True if this is an existing object (False for missing keys and prefixes)."""
        return self._size is not None

    @property
    def downloaded(self) -> bool:
        """True if the contents were downloaded (``path``, ``blob``, ``text`` work)."""
        return self._path is not None

    @property
    def url(self) -> str:
        """The S3 URL of this object or prefix."""
        return self._url

    @property
    def prefix(self) -> Optional[str]:
        """The prefix this object was found under (see the class docstring), or None."""
        return self._prefix

    @property
    def key(self) -> str:
        """The URL relative to ``prefix`` (no trailing ``/``), or the URL without one."""
        return self._key

    @property
    def path(self) -> Optional[str]:
        """The local file holding the contents; None if not downloaded.

        The file lives in the client's temp dir and is deleted on ``close()``.
        """
        return self._path

    @property
    def blob(self) -> Optional[bytes]:
        """The contents as bytes, read from ``path``; None if not downloaded."""
        if self._path is None:
            return None
        with open(self._path, "rb") as f:
            return f.read()

    @property
    def text(self) -> Optional[str]:
        """The contents decoded as UTF-8 (bad bytes replaced); None if not downloaded."""
        blob = self.blob
        return None if blob is None else blob.decode("utf-8", errors="replace")

    @property
    def size(self) -> Optional[int]:
        """Size in bytes (of the downloaded part for a range); None if missing."""
        return self._size

    @property
    def content_type(self) -> Optional[str]:
        """The object's MIME type, or None."""
        return self._content_type

    @property
    def metadata(self) -> Optional[Dict[str, Any]]:
        """User metadata (a decoded dict), or None when the object has none."""
        return self._metadata

    @property
    def encryption(self) -> Optional[str]:
        """The server-side encryption in use (e.g. ``AES256``), or None."""
        return self._encryption

    @property
    def range_info(self) -> Optional[RangeInfo]:
        """What part of the object was downloaded, or None if unknown."""
        return self._range_info

    @property
    def last_modified(self) -> Optional[float]:
        """Last-modified time as a Unix timestamp (a float, as in metaflow), or None."""
        return self._last_modified

    @property
    def has_info(self) -> bool:
        """True if any of content type, metadata, range info or encryption is known.

        As in metaflow: a download or ``info`` with info asked for has it; a
        listing, or a download with ``return_info=False``, does not.
        """
        return any(
            v is not None
            for v in (self._content_type, self._metadata, self._range_info, self._encryption)
        )

    def __repr__(self) -> str:
        if self._path is not None:
            where = f"{self._size} bytes, local"
        elif self._size is not None:
            where = f"{self._size} bytes, in S3"
        elif self._url.endswith("/"):
            where = "prefix"
        else:
            where = "does not exist"
        return f"<S3Object {self._url} ({where})>"

    __str__ = __repr__


def found_under(prefix: Optional[str]) -> Callable[[str, Optional[int], Optional[int]], S3Object]:
    """A maker of the S3Objects a listing of ``prefix`` found: ``make(url, size,
    last_modified)`` is ``S3Object(prefix, url, None, size=size, last_modified=...)``,
    made ~3 times faster (``prefix``'s part of the key rule is worked out once; a
    listing of 10,000 keys makes 10,000 objects)."""
    base = None if prefix is None else prefix.rstrip("/") + "/"
    cut = 0 if base is None else len(base)
    new = S3Object.__new__

    def make(url: str, size: Optional[int], last_modified: Optional[int]) -> S3Object:
        if base is None or url == prefix or not url.startswith(base):
            where, key = _prefix_and_key(prefix, url)
        else:
            where, key = prefix, url[cut:].rstrip("/")
        obj = new(S3Object)  # the fields as __init__ sets them, in its order
        obj._prefix, obj._key, obj._url, obj._path, obj._size = where, key, url, None, size
        obj._content_type, obj._metadata, obj._range_info = None, None, None
        obj._last_modified = None if last_modified is None else float(last_modified)
        obj._encryption = None
        return obj

    return make


def _prefix_and_key(prefix: Optional[str], url: str) -> Tuple[Optional[str], str]:
    """metaflow's rule: no prefix (or the URL itself) -> (None, url); else the relative key.

    A URL that is not under the prefix keeps its whole URL as key (metaflow
    would slice it blindly; no method here ever produces that case).
    """
    if prefix is None or prefix == url:
        return None, url
    base = prefix.rstrip("/")
    if not url.startswith(base + "/"):
        return prefix, url
    return prefix, url[len(base) + 1 :].rstrip("/")


__all__ = ["PutValue", "RangeInfo", "S3GetObject", "S3Object", "S3PutObject", "found_under"]

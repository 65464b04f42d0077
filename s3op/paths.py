"""Where downloads land: safe local paths derived from keys.

A key is data, never a path to trust: with the ``keys`` layout it is split
on ``/`` and refused if any part is empty, ``.`` or ``..``, or holds a NUL,
so no key can write outside the destination directory. The ``hashed``
layout names files by a hash of the URL, in 16 subdirectories named by the
hash's first hex digit (what ``s3client`` uses).
``remove_file`` is the one quiet unlink of the engine's temp files and sockets.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Optional

from s3op.protocol import parse_url

LAYOUTS = ("keys", "hashed")


def local_path(destination: str, layout: str, url: str, byte_range: Optional[str] = None) -> str:
    """The file a download of ``url`` is written to. ValueError if unsafe.

    A ranged download gets the range as a suffix (``k.bytes=0-99``), so two
    ranges of one key in one batch never land on the same file.
    """
    # Only [A-Za-z0-9=-] survive: a range string can never add a path part.
    suffix = "." + re.sub(r"[^A-Za-z0-9=\-]", "_", byte_range) if byte_range else ""
    if layout == "hashed":
        name = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        # Spread over 16 directories by the first hex digit: creating and renaming a
        # file takes its directory's lock, and the engine's threads would all want one.
        return os.path.join(destination, name[0], name + suffix)
    key = parse_url(url).key
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise ValueError(f"key {key!r} cannot be a file name under {destination}")
    if any(len(p.encode("utf-8", "surrogatepass")) > 255 for p in parts):
        raise ValueError(f"key {key[:60]!r}... has a path part longer than 255 bytes")
    path = os.path.join(destination, *parts) + suffix
    root = os.path.realpath(destination)
    if not os.path.realpath(path).startswith(root + os.sep):
        raise ValueError(f"key {key!r} leads outside {destination}")
    return path


def remove_file(path: str) -> None:
    """Remove ``path``; a file already gone is fine."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

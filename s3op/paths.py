"""Where downloads land: safe local paths derived from keys.

A key is data, never a path to trust: with the ``keys`` layout it is split
on ``/`` and refused if any part is empty, ``.`` or ``..``, or holds a NUL,
so no key can write outside the destination directory. The ``hashed``
layout names files by a hash of the URL, in 16 subdirectories named by the
hash's first hex digit (what ``s3client`` uses).
``temp_path`` names a download's temp file beside its target (``TEMP_GLOB``
finds a run's leftovers, ``sweep_temp_files`` removes them) and
``create_private`` creates it 0600;
``remove_file`` is the one quiet unlink of the engine's temp files and sockets;
``make_room`` sizes a large download's temp file before its parts arrive.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import re
import sys
from typing import Callable, Iterable, Optional, Set

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


_NEW_PRIVATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL  # never reuse or follow an existing name
MAX_KNOWN_DIRS = 4096
_KNOWN_DIRS: Set[str] = set()  # directories this process created or found (saves a mkdir each)


def create_private(tmp: str) -> int:
    """Create ``tmp`` (0600: private until verified), making its directory as needed."""
    directory = os.path.dirname(tmp) or "."
    if directory not in _KNOWN_DIRS:
        os.makedirs(directory, exist_ok=True)
        if len(_KNOWN_DIRS) >= MAX_KNOWN_DIRS:  # a long-lived engine: forget, never grow
            _KNOWN_DIRS.clear()
        _KNOWN_DIRS.add(directory)
    try:
        return os.open(tmp, _NEW_PRIVATE, 0o600)
    except FileNotFoundError:  # removed since we saw it: make it again, once
        _KNOWN_DIRS.discard(directory)
        os.makedirs(directory, exist_ok=True)
        return os.open(tmp, _NEW_PRIVATE, 0o600)


_TEMP_SERIAL = itertools.count()


def temp_path(local: str, tag: str) -> str:
    """A private temp name beside ``local`` (same filesystem, so rename is atomic).

    ``tag`` is the run's: ``TEMP_GLOB`` finds every leftover of one run.
    Process id plus a counter make names unique within the run (and
    ``O_EXCL`` would refuse a clash) without a random-number syscall each.
    """
    directory, tail = os.path.split(local)
    serial = f"{os.getpid():x}{next(_TEMP_SERIAL):06x}"
    return os.path.join(directory, f".{tail[:100]}.s3op-{tag}-{serial}.part")


#: glob pattern (format with tag=...) matching a run's temp files in a directory
TEMP_GLOB = ".*.s3op-{tag}-*.part"


def sweep_temp_files(directories: Iterable[str], tag: str) -> None:
    """Remove every temp file of the run ``tag`` in ``directories`` (what a dead
    worker or Ctrl-C left behind)."""
    import glob  # here: only a run's end sweeps

    pattern = TEMP_GLOB.format(tag=tag)
    for directory in directories:
        for path in glob.glob(os.path.join(glob.escape(directory), pattern)):
            remove_file(path)


#: statfs ``f_type`` of filesystems whose files live in memory (linux/magic.h)
_MEMORY_FS = {0x01021994: "tmpfs", 0x858458F6: "ramfs"}


def memory_backed(fd: int) -> bool:
    """True when ``fd``'s file lives on tmpfs or ramfs (Linux); False if unknown.

    Only a speed hint (see ``make_room``): any doubt answers False.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct statfs is 120 bytes on 64-bit Linux
        if libc.fstatfs(fd, buf) != 0:
            return False
        f_type = ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF  # its first field
    except (ImportError, OSError, AttributeError):
        return False
    return f_type in _MEMORY_FS


def make_room(fd: int, size: int, promised: Callable[[int], int] = lambda dev: 0) -> Optional[int]:
    """Size a new download's temp file to ``size`` bytes, or fail now with ENOSPC.

    On a disk filesystem ``posix_fallocate`` reserves the blocks up front
    (ext4: 2 ms for 512 MiB, and the writes after it are faster). On tmpfs
    it allocates and zeroes every page, in the engine's one thread, before
    any range is asked for: 110 ms for 512 MiB on the bench machine, saving
    only 100 ms of the writes, which the receiving threads do while the
    network is busy anyway. So on tmpfs and ramfs the file is only given its
    size (sparse), when the free space holds it plus ``promised(st_dev)``,
    what the caller's other sparse files there may still take; when space is
    tight it is reserved as on disk, so a nearly full tmpfs admits
    downloads as before. A file larger than the free space fails at once:
    ``posix_fallocate`` on tmpfs takes pages (RAM) until it runs out before
    it fails, and a tmpfs may be as large as the machine's memory. Space
    taken by others afterwards fails the parts' writes with ENOSPC: the same
    named error (``out_of_disk``), and the temp file is removed as for any
    failure.

    Returns the device of a file left sparse, else None.
    """
    if not size:
        return None
    if memory_backed(fd):
        st = os.fstat(fd)
        stats = os.fstatvfs(fd)
        free = stats.f_bavail * stats.f_frsize
        if free < size:  # never ask tmpfs to fill itself: it takes the RAM, then fails
            raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({free} bytes free)")
        if free >= size + promised(st.st_dev):
            os.ftruncate(fd, size)
            return st.st_dev
    os.posix_fallocate(fd, 0, size)
    return None

"""A local directory walked in the byte order of its keys, as S3 lists keys.

S3 lists keys in ascending order of their UTF-8 bytes. A file's key is its
path under the root with ``/`` between the parts, so a directory ``a``
must come where ``a/`` sorts among its siblings: after ``a-b`` and
``a.txt`` (``-`` and ``.`` sort before ``/``), before ``a0``. Each
directory's entries are therefore sorted by their encoded name, plus
``b"/"`` for a directory, and walked depth first; every key under ``a/``
then comes between ``a/``'s neighbours.

Stores that list a tree depth first (SeaweedFS: ``/`` sorts lowest) are
matched with ``path_order``: a directory then sorts by its bare name.

Memory: one sorted list of names per directory on the current path (the
walk is depth first), so it grows with the widest directory, never with
the whole tree.

What is walked: regular files, and symbolic links to regular files (their
target's content and size). Not followed: symbolic links to directories
(no cycles), sockets, FIFOs, devices, broken links. Names that are not
UTF-8 cannot be keys: ``walk`` yields them as ``Unnamed`` so the caller
can say so, and they are never compared, copied or deleted. This run's
own download temp files (``s3op.paths.TEMP_GLOB``) are never listed. A
directory that cannot be read stops the sync (``SyncAborted``): its files
would otherwise look absent, and be deleted at the destination.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass
from typing import Iterator, List, Tuple, Union

from s3op.sync.entries import Entry, SyncAborted

#: A download's temp file, whatever the run (``s3op.paths.temp_path``).
_TEMP_PATTERN = ".*.s3op-*-*.part"


@dataclass(frozen=True)
class Unnamed:
    """A file whose name is not UTF-8: it has no key."""

    path: str


def walk(root: str, path_order: bool = False) -> Iterator[Union[Entry, Unnamed]]:
    """Every file under ``root``, in ascending byte order of its key (``path_order``:
    ``/`` lowest, as ``entries.path_order``: a directory sorts by its bare name)."""
    mark = b"" if path_order else b"/"
    base = os.fsencode(root)
    stack: List[Tuple[bytes, Iterator[Tuple[bytes, bool]]]] = [(b"", _sorted(base, mark))]
    while stack:
        rel, names = stack[-1]
        step = next(names, None)
        if step is None:
            stack.pop()
            continue
        name, is_dir = step
        key = rel + name
        if is_dir:
            stack.append((key + b"/", _sorted(os.path.join(base, key), mark)))
            continue
        entry = _file(base, key)
        if entry is not None:
            yield entry


def _sorted(directory: bytes, mark: bytes) -> Iterator[Tuple[bytes, bool]]:
    """(name, is a directory) of ``directory``'s entries, by name (+ ``mark`` for a directory)."""
    try:
        with os.scandir(directory) as found:
            names = [(e.name, e.is_dir(follow_symlinks=False)) for e in found]
    except FileNotFoundError:  # removed since its parent was read
        return iter(())
    except OSError as exc:  # unreadable: its keys would look absent (and be deleted)
        what = os.fsdecode(directory)
        raise SyncAborted("local_file_error", f"cannot list {what!r}: {exc.strerror}") from None
    names.sort(key=lambda item: item[0] + mark if item[1] else item[0])
    return iter(names)


def _file(base: bytes, key: bytes) -> Union[Entry, Unnamed, None]:
    """The entry of a regular file (or a link to one); None for anything else."""
    path = os.path.join(base, key)
    try:
        st = os.stat(path)
    except OSError:  # a broken link, or gone since its directory was read
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        return Unnamed(os.fsdecode(path))
    if fnmatch.fnmatchcase(text.rpartition("/")[2], _TEMP_PATTERN):
        return None
    return Entry(text, st.st_size, st.st_mtime, path=os.fsdecode(path))


__all__ = ["Unnamed", "walk"]

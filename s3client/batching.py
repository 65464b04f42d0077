"""Pieces of ``S3``'s batch methods that are not the methods themselves.

Where a batch's downloads go (``download_names``), how a batch method
reports every failed URL (``names_all_failures``), how an iterable of keys
is taken (``key_list``), and which engine runs batches (``make_engine``).
"""

from __future__ import annotations

import functools
import os
import shutil
from typing import Any, Callable, Dict, List, TypeVar

from .errors import S3Error
from .runner import Engine, engine_for

#: A get_many of at least ``SHARD_MIN`` keys spreads its files over ``SHARDS``
#: directories. Creating and renaming a file takes its directory's lock; with
#: the engine's 16 threads in one directory the kernel spins on that lock
#: (1,000 x 10 KiB on ext4: 0.97 s of system time in one directory, 0.76 s in
#: 16; wall 1.30 -> 1.16 s). Smaller batches keep one flat directory: a
#: directory costs an inode of its own. The directories are made here, 0700.
SHARDS = 16
SHARD_MIN = 64
_M = TypeVar("_M", bound=Callable[..., Any])


def remove_tmpdir(path: str, keep: bool) -> None:
    """Delete a client's temp dir (unless debugging asks to keep it)."""
    if not keep:
        shutil.rmtree(path, ignore_errors=True)


def names_all_failures(method: _M) -> _M:
    """An S3Error from a batch method lists in ``failed_urls`` every URL the
    engine reported an error for in that batch (request order; missing keys
    included), not only the first one the message names."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        self._failures.urls = []
        try:
            return method(self, *args, **kwargs)
        except S3Error as exc:
            batch = list(getattr(self._failures, "urls", []))
            if batch:
                exc.failed_urls = batch
            raise

    return wrapper  # type: ignore[return-value]


def download_names(tmpdir: str, batch: int, count: int) -> Callable[[int], str]:
    """The local file for request ``idx`` of a download batch of ``count``.

    Batches of ``SHARD_MIN`` or more get their ``SHARDS`` directories made
    here (0700) and spread their files over them.
    """
    shards = SHARDS if count >= SHARD_MIN else 0
    for shard in range(shards):
        os.mkdir(os.path.join(tmpdir, f"get-{batch}-shard{shard}"), 0o700)

    def name(idx: int) -> str:
        if shards:
            return os.path.join(tmpdir, f"get-{batch}-shard{idx % shards}", str(idx))
        return os.path.join(tmpdir, f"get-{batch}-{idx}")

    return name


def key_list(keys: Any, method: str) -> List[Any]:
    """``keys`` as a list; TypeError for one ``str``/``bytes`` given as the iterable.

    ``get_many("abc")`` would otherwise fetch the keys ``a``, ``b`` and ``c``.
    """
    if isinstance(keys, (str, bytes, bytearray)):
        raise TypeError(
            f"{method}() takes an iterable of keys, not a single {type(keys).__name__} "
            f"({keys!r:.60}); wrap it in a list"
        )
    return list(keys)


def make_engine(kind: str, workdir: str, env: Dict[str, str], debug: bool) -> Engine:
    """The engine for ``S3CLIENT_ENGINE``: a policy of ``runner.POLICIES`` ("shared",
    the default; "private" or "persistent"; "one-shot" or "subprocess")."""
    return engine_for(kind, workdir, env, keep_files=debug)


__all__ = [
    "SHARDS",
    "SHARD_MIN",
    "download_names",
    "key_list",
    "make_engine",
    "names_all_failures",
    "remove_tmpdir",
]

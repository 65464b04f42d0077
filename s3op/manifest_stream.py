"""A manifest of any length as a stream of requests: checked whole first, then run.

``s3op --inputs MANIFEST`` must keep two promises at once: a bad line stops
the batch before anything is sent (exit 2, the line named), and memory is
bounded by the work in flight, not by the manifest's length. So a manifest
is read twice, and held never:

1. ``ManifestSource.checked(op, stream)`` reads every line through
   ``s3op.manifest.iter_manifest`` (which holds one line: idx must ascend),
   counts the requests and, for a put, refuses two lines with one key.
   A stream that cannot seek (stdin, a pipe) is copied as it is read into an
   unlinked private temp file, which the run reads back.
2. Iterating the source reads the lines again from where they started and
   yields the requests one at a time: ``run_batch`` pulls them as the pool
   has room (``Scheduler.feed``).

The second pass parses each line again (about 10 us a line here): cheaper
than holding a million requests (250 MiB). If the file changes between the
passes so that a line turns bad, the run stops taking requests at that line,
finishes what is in flight and ``run_batch`` raises ``BatchUsageError``.

A put's keys are the one thing that cannot be checked holding one line:
the first pass keeps an 8-byte digest of each put's URL (about 70 bytes of
memory a put line while the check runs, freed before the first request).
"""

from __future__ import annotations

import hashlib
import weakref
from typing import Iterator, Optional, Set, TextIO

from s3op.manifest import iter_manifest
from s3op.options import BatchUsageError
from s3op.protocol import ProtocolError, Request


class ManifestSource:
    """The requests of one checked manifest, re-read from its stream on each iteration."""

    def __init__(self, op: str, stream: TextIO, start: int, count: int) -> None:
        self.op = op
        self.count = count  # requests in the manifest
        self._stream = stream
        self._start = start  # where its first line begins (a ``tell()`` cookie)

    @classmethod
    def checked(cls, op: str, stream: TextIO, owned: bool = False) -> ManifestSource:
        """Check every line of ``stream`` (``BatchUsageError`` naming the first bad
        one); the source that yields its requests. ``owned``: the source closes
        ``stream`` when it is closed or collected (a spool, always)."""
        if stream.seekable():
            start = stream.tell()
            source = cls(op, stream, start, _check(op, stream))
        else:
            import tempfile  # here: only a manifest on a pipe is spooled

            spool = tempfile.TemporaryFile("w+", encoding="utf-8")
            try:
                count = _check(op, _copied(stream, spool))
            except BaseException:
                spool.close()
                raise
            spool.flush()
            source, stream, owned = cls(op, spool, 0, count), spool, True
        if owned:
            weakref.finalize(source, stream.close)
        return source

    def __iter__(self) -> Iterator[Request]:
        self._stream.seek(self._start)
        try:
            yield from iter_manifest(self.op, self._stream)
        except ProtocolError as exc:
            raise BatchUsageError(f"{exc} (the manifest changed while it ran)") from None

    def __len__(self) -> int:
        return self.count

    def close(self) -> None:
        """Close the stream this source reads (a spool is removed with it)."""
        self._stream.close()


def _check(op: str, lines: Iterator[str]) -> int:
    """How many requests ``lines`` hold; ``BatchUsageError`` for the first bad line."""
    count = 0
    keys: Optional[Set[bytes]] = set() if op in ("put", "copy") else None
    try:
        for req in iter_manifest(op, lines):
            count += 1
            if keys is not None:
                _note_key(keys, req.url)
    except ProtocolError as exc:
        raise BatchUsageError(str(exc), param_hint="--inputs") from None
    return count


def _note_key(keys: Set[bytes], url: str) -> None:
    """Refuse a put's key seen before in the batch (which would win is a race)."""
    digest = hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    if digest in keys:
        raise BatchUsageError(f"duplicate key in one batch: {url}", param_hint="--inputs")
    keys.add(digest)


def _copied(stream: TextIO, spool: TextIO) -> Iterator[str]:
    """The lines of ``stream``, each written to ``spool`` as it is read."""
    for line in stream:
        spool.write(line)
        yield line


__all__ = ["ManifestSource"]

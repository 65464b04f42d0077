"""Whether a source entry and a destination entry hold the same thing.

Three modes (``spec.COMPARE_MODES``); in each, a different size moves the
object:

- ``size``: equal sizes are equal.
- ``size_and_time``: equal sizes are equal unless the source is newer
  (local: the file's modification time; S3: LastModified).
- ``checksum``: content is compared where both sides have a digest:
  a plain MD5 ETag (32 hex digits, no ``-N``) against the local file's MD5
  (two S3 sides: the two ETags); else the whole-object CRC32 S3 keeps
  (asked for with one HEAD, ``x-amz-checksum-mode``) against the local
  file's CRC32 (or the other object's); else, two S3 objects with the same
  multipart ETag are equal. Where neither digest is known on both sides
  (an object uploaded in parts without a whole-object CRC32, by another
  tool), it falls back to ``size_and_time``.

A local file is read once, for the digest compared (its MD5 against a plain
MD5 ETag, else its CRC32: ``checksum.file_crc32``, no MD5 taken), only when
the sizes are equal. HEADs are made only for objects whose ETag
is not a plain MD5 and whose size matches.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Optional

from s3op.checksum import file_crc32
from s3op.ops.put import file_digests
from s3op.sync.entries import Entry

_PLAIN_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")

#: The whole-object CRC32 S3 keeps for an entry of an S3 side (one HEAD), or None.
RemoteCrc = Callable[[Entry], Optional[int]]


def plain_md5(etag: Optional[str]) -> Optional[str]:
    """The MD5 an ETag is, when it is a plain one (lower-case hex), else None."""
    return etag.lower() if etag and _PLAIN_MD5.match(etag) else None


class Comparer:
    """Judges pairs of one sync: ``src_crc`` / ``dst_crc`` are None for a local side."""

    def __init__(self, mode: str, src_crc: Optional[RemoteCrc], dst_crc: Optional[RemoteCrc]):
        self.mode = mode
        self.src_crc = src_crc
        self.dst_crc = dst_crc

    def equal(self, src: Entry, dst: Entry) -> bool:
        """True when ``dst`` need not be replaced by ``src``."""
        if src.size != dst.size:
            return False
        if self.mode == "size":
            return True
        if self.mode == "checksum":
            verdict = self._by_content(src, dst)
            if verdict is not None:
                return verdict
        return not newer(src, dst)

    def _by_content(self, src: Entry, dst: Entry) -> Optional[bool]:
        """True/False by digests, None when no digest is known on both sides."""
        if src.path is not None:
            assert self.dst_crc is not None
            return _local_vs_remote(src, dst, self.dst_crc)
        if dst.path is not None:
            assert self.src_crc is not None
            return _local_vs_remote(dst, src, self.src_crc)
        assert self.src_crc is not None and self.dst_crc is not None
        return _remote_vs_remote(src, dst, self.src_crc, self.dst_crc)


def newer(src: Entry, dst: Entry) -> bool:
    """True when the source is newer than the destination (an unknown time counts as
    newer), in whole seconds: listings give ``LastModified`` to the second (SeaweedFS
    truncates), so a file uploaded within the second it was written must not look
    newer than its object ever after."""
    if src.mtime is None or dst.mtime is None:
        return True
    return math.floor(src.mtime) > math.floor(dst.mtime)


def _local_vs_remote(local: Entry, remote: Entry, crc_of: RemoteCrc) -> Optional[bool]:
    assert local.path is not None
    md5 = plain_md5(remote.etag)
    if md5 is not None:
        digest, _ = file_digests(local.path, 0, local.size)
        return digest.hexdigest() == md5
    crc = crc_of(remote)
    if crc is None:
        return None
    return file_crc32(local.path, 0, local.size) == crc


def _remote_vs_remote(
    src: Entry, dst: Entry, src_crc: RemoteCrc, dst_crc: RemoteCrc
) -> Optional[bool]:
    a, b = plain_md5(src.etag), plain_md5(dst.etag)
    if a is not None and b is not None:
        return a == b
    if src.etag and src.etag == dst.etag:
        return True  # the same multipart ETag: the same parts' MD5s
    first = src_crc(src)
    second = dst_crc(dst) if first is not None else None
    if first is None or second is None:
        return None
    return first == second


__all__ = ["Comparer", "RemoteCrc", "newer", "plain_md5"]

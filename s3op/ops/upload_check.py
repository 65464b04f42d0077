"""How an upload's body is checked: its CRC32 sent, the server's echo compared,
and the MD5 of the ETag where a server echoes nothing.

A body goes with its CRC32 (``x-amz-checksum-crc32``) and no ``Content-MD5``:
S3 and SeaweedFS check that header and refuse a body damaged on the way
(400 ``BadDigest``), and answer with the CRC32 they computed, which must be
ours (``Digests.verify``; a different one is ``corrupt``, retried by the one
retry loop). A CRC32 costs ~0.3 ms a 16 MiB part with zlib-ng, an MD5 ~40 ms.

A server that echoes no CRC32 (moto) may not check it either. Then the
answer's ETag, the MD5 of what it stored, is the check: the body is read
again to MD5 it. Such a server is remembered per bucket, in this process
(``wants_md5``), and later bodies to that bucket go with ``Content-MD5`` too,
taken in the same read as their CRC32, so the server refuses damage itself
and the ETag is checked without a second read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Optional, Set

from s3op.checksum import crc32, crc32_from_b64
from s3op.errors import OpError
from s3op.protocol import ErrorKind
from s3op.transport import S3Answer

#: Buckets whose server answered an upload without echoing its CRC32 (this process).
_SILENT: Set[str] = set()


def wants_md5(bucket: str) -> bool:
    """Whether uploads to ``bucket`` send ``Content-MD5`` (its server echoes no CRC32)."""
    return bucket in _SILENT


@dataclass(frozen=True)
class Digests:
    """What an upload body's answer is checked against (``verify``)."""

    bucket: str
    crc: int  # the body's CRC32, sent
    md5: Optional[hashlib._Hash]  # taken in the same read, for a silent bucket (then sent)
    md5_later: Callable[[], hashlib._Hash]  # the MD5, read again, when ``md5`` is None

    def verify(self, answer: S3Answer, encryption: Optional[str] = None) -> None:
        """Raise ``OpError`` (corrupt) unless ``answer`` shows the server stored this
        body: by its echoed CRC32, or else by its ETag against our MD5 (and then
        the bucket is remembered as silent: ``wants_md5``)."""
        echoed = crc32_from_b64(answer.get("ChecksumCRC32"))
        if echoed is not None:
            if echoed != self.crc:
                message = f"server stored CRC32 {echoed:08x}, we sent {self.crc:08x}"
                raise OpError(ErrorKind.CORRUPT, message)
            return
        _SILENT.add(self.bucket)
        md5 = self.md5 if self.md5 is not None else self.md5_later()
        check_etag(answer.get("ETag"), md5.hexdigest(), encryption)


def memory_digests(bucket: str, data: bytes) -> Digests:
    """``Digests`` of a body held in memory (its MD5 at once only for a silent bucket)."""
    md5 = hashlib.md5(data) if bucket in _SILENT else None
    return Digests(bucket, crc32(data), md5, lambda: hashlib.md5(data))


def check_etag(etag: Optional[str], md5_hex: str, encryption: Optional[str]) -> None:
    """A plain-MD5 ETag that differs from our MD5 means the body was damaged."""
    if encryption and str(encryption).startswith("aws:kms"):
        return
    value = str(etag or "").strip('"')
    if len(value) == 32 and "-" not in value and value != md5_hex:
        raise OpError(ErrorKind.CORRUPT, f"server stored MD5 {value}, we sent {md5_hex}")


def forget() -> None:
    """Forget every silent bucket (tests)."""
    _SILENT.clear()


__all__ = ["Digests", "check_etag", "forget", "memory_digests", "wants_md5"]

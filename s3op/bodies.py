"""GET bodies that return data as soon as any arrives and check a CRC32 at EOF.

Both transports hand out a ``FastBody`` (``s3op.transport.Body``): the
fast path's over an ``http1`` response, which reads into the caller's
buffer; botocore's over its raw urllib3 stream read with ``read1``
(``StreamingBody.read(n)`` blocks until ``n`` bytes came, so a server
dripping bytes would outlast any deadline). The whole-object CRC32 a
server returns (``x-amz-checksum-crc32``) is checked as the body is read,
as botocore would: a mismatch raises ``OpError(corrupt)`` at the end.
"""

from __future__ import annotations

from typing import Callable, Optional, Protocol

from s3op.checksum import crc32
from s3op.errors import OpError
from s3op.protocol import ErrorKind


class Stream(Protocol):
    """What a body reads from: an ``http1`` response or a urllib3 stream."""

    def read(self, amt: int = -1) -> bytes:
        """Up to ``amt`` bytes (all for -1)."""

    def close(self) -> None:
        """Drop the connection (it cannot be reused before the body was read)."""


class FastBody:
    """A streaming body: returns data early, checks a whole-object CRC32 at EOF."""

    def __init__(
        self,
        response: Stream,
        expect_crc: Optional[int],
        read: Optional[Callable[[int], bytes]] = None,
    ) -> None:
        """Read ``response`` with ``read`` (``read1`` semantics: whatever has
        arrived, all of it for -1); none given: the response's own ``read`` and
        ``readinto`` (an ``http1.Response``: both return early)."""
        self._response = response
        self._read = read or response.read
        # Only our own responses read into a buffer with read1 semantics.
        self._readinto: Optional[Callable[[memoryview], int]] = (
            getattr(response, "readinto", None) if read is None else None
        )
        self._expect = expect_crc
        self._crc = 0

    def read(self, amt: Optional[int] = None) -> bytes:
        """Up to ``amt`` bytes, as soon as any arrive; b"" at the end (checksum passed).

        Returning early (``read1``) lets the caller check its deadline even
        when a server drips bytes slower than any socket timeout would catch.
        """
        data = self._read(amt if amt else -1)
        if data:
            if self._expect is not None:
                self._crc = crc32(data, self._crc)
            return bytes(data)
        self._end()
        return b""

    def readinto(self, buf: memoryview) -> int:
        """``read`` into ``buf`` (reused by the caller); 0 at the end (checksum passed)."""
        if self._readinto is None:
            data = self.read(len(buf))
            buf[: len(data)] = data
            return len(data)  # read() checked the CRC32 already
        got = self._readinto(buf)
        if got:
            if self._expect is not None:
                self._crc = crc32(buf[:got], self._crc)
            return int(got)
        self._end()
        return 0

    def _end(self) -> None:
        """The body is complete: it must match the whole-object CRC32, if one came."""
        if self._expect is not None and self._crc != self._expect:
            raise OpError(
                ErrorKind.CORRUPT,
                f"CRC32 mismatch: body {self._crc:08x}, server {self._expect:08x}",
            )

    def close(self) -> None:
        """Drop the connection if the body was not read (it can't be reused then)."""
        self._response.close()

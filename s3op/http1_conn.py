"""One HTTP/1.1 connection of the fast path, and the responses read from it.

``Connection`` is a TCP (and TLS) socket with a buffered reader;
``Response`` reads a status line, headers and a body framed by
Content-Length or chunked encoding, as a stream, and hands its connection
back (``release``) once the body was read to the end. Pooling, and the
one rule for sending a request again, are ``s3op.http1``'s.

Errors are ``TransportError`` (a ``ConnectionError``: the connection
broke, or the server's framing was wrong), ``TimeoutError``, or
``UnresolvedHost`` for a host name that does not resolve.
"""

from __future__ import annotations

import io
import socket
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple, Union, cast

from s3op import bandwidth

if TYPE_CHECKING:
    import ssl

READ_BUFFER = 64 * 1024


class TransportError(ConnectionError):
    """The connection broke, or the server's framing was wrong."""


class UnresolvedHost(socket.gaierror):
    """DNS could not resolve ``host`` (a ``socket.gaierror`` that names it)."""

    def __init__(self, host: str, cause: socket.gaierror) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.host = host

    def __reduce__(self) -> Tuple[type, Tuple[str, socket.gaierror]]:
        return (type(self), (self.host, socket.gaierror(self.errno, self.strerror)))


def _connect(address: Union[str, bytes], port: int, host: str, timeout: float) -> socket.socket:
    """A TCP connection to ``address``; a failed name lookup raises ``UnresolvedHost``."""
    try:
        # bytes: see Connection; typeshed wants a str host, the socket module takes both
        return socket.create_connection((address, port), timeout=timeout)  # type: ignore[arg-type]
    except socket.gaierror as exc:
        raise UnresolvedHost(host, exc) from exc


class Connection:
    """One keep-alive connection."""

    def __init__(
        self, host: str, port: int, tls: Optional[ssl.SSLContext], timeouts: Tuple[float, float]
    ) -> None:
        # An ASCII host goes as bytes: a str makes getaddrinfo import the idna codec
        # (with stringprep and unicodedata, ~3 ms of the first request of a run).
        address = host.encode("ascii") if host.isascii() else host
        sock = _connect(address, port, host, timeouts[0])
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=host)
        sock.settimeout(timeouts[1])
        self.sock = sock
        self.reader = cast(io.BufferedReader, sock.makefile("rb", buffering=READ_BUFFER))
        self.reused = False

    def close(self) -> None:
        """Close the socket (never reused afterwards)."""
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass


class Response:
    """Status, headers (lower-case names) and a streaming body."""

    def __init__(
        self,
        conn: Connection,
        release: Callable[[Connection, bool], None],
        status: int,
        reason: str,
        headers: Dict[str, str],
        head_only: bool,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self._conn: Optional[Connection] = conn
        self._release = release  # hands a connection back (keep it or not) when done
        self._keep = headers.get("connection", "").lower() != "close"
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._left = 0 if head_only or status in (204, 304) else _length(headers, self._chunked)
        self._chunk_left = 0
        self.length: Optional[int] = None if self._chunked else self._left  # announced
        if self._left == 0 and not self._chunked:
            self._finish()

    @property
    def done(self) -> bool:
        """True once the whole body was read (the connection went back to the pool)."""
        return self._conn is None

    def read(self, amt: int = -1) -> bytes:
        """Up to ``amt`` bytes, as soon as any arrive; b"" at the end of the body."""
        if self._conn is None:
            return b""
        if self._chunked:
            return self._read_chunked(amt)
        want = self._left if amt < 0 else min(amt, self._left)
        data = self._conn.reader.read1(want) if amt >= 0 else self._conn.reader.read(want)
        self._took(len(data))
        return data

    def readinto(self, buf: memoryview) -> int:
        """``read(len(buf))`` into ``buf``: as soon as any bytes arrive; 0 at the end.

        No new bytes object per call: a large download reuses one buffer
        instead of allocating (and page-faulting in) a fresh one per chunk.
        """
        if self._conn is None:
            return 0
        if self._chunked:
            data = self._read_chunked(len(buf))
            buf[: len(data)] = data
            return len(data)
        want = min(len(buf), self._left)
        got = int(self._conn.reader.readinto1(buf[:want]))
        self._took(got)
        return got

    def _took(self, n: int) -> None:
        """Count ``n`` body bytes just read; none means the server hung up early."""
        if not n:
            self.close()
            raise TransportError(f"connection closed with {self._left} body bytes unread")
        if bandwidth.LIMITER is not None:
            bandwidth.received(n)
        self._left -= n
        if self._left == 0:
            self._finish()

    def read_all(self) -> bytes:
        """The whole (rest of the) body."""
        parts: List[bytes] = []
        while not self.done:
            parts.append(self.read(1 << 20))
        return b"".join(parts)

    def _read_chunked(self, amt: int) -> bytes:
        assert self._conn is not None
        reader = self._conn.reader
        if self._chunk_left == 0:
            size_line = reader.readline(1024)
            try:
                self._chunk_left = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close()
                raise TransportError(f"bad chunk size line {size_line[:40]!r}") from None
            if self._chunk_left == 0:
                while reader.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._finish()
                return b""
        want = self._chunk_left if amt < 0 else min(amt, self._chunk_left)
        data = reader.read1(want)
        if not data:
            self.close()
            raise TransportError("connection closed inside a chunk")
        self._chunk_left -= len(data)
        if bandwidth.LIMITER is not None:
            bandwidth.received(len(data))
        if self._chunk_left == 0 and reader.readline(8) not in (b"\r\n", b"\n"):
            self.close()
            raise TransportError("chunk not followed by CRLF")
        return data

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._release(conn, self._keep)

    def close(self) -> None:
        """Drop the connection if the body was not read to the end."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _length(headers: Dict[str, str], chunked: bool) -> int:
    if chunked:
        return -1
    value = headers.get("content-length")
    if value is None:
        raise TransportError("response has neither Content-Length nor chunked encoding")
    return int(value)


def read_head(reader: io.BufferedReader) -> Tuple[int, str, Dict[str, str]]:
    status_line = reader.readline(8192)
    if not status_line:
        raise TransportError("connection closed before the response")
    parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        err = TransportError(f"bad status line {status_line[:60]!r}")
        err.before_response = False  # type: ignore[attr-defined]
        raise err
    headers: Dict[str, str] = {}
    while True:
        line = reader.readline(65536)
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise TransportError("connection closed inside the response headers")
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(parts[1])
    if status == 100:  # a stray "100 Continue": the real response follows
        return read_head(reader)
    return status, parts[2] if len(parts) > 2 else "", headers

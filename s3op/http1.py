"""A minimal HTTP/1.1 client for the fast path: keep-alive sockets, no frills.

urllib3 plus http.client cost ~300 us of CPU per small request here (header
parsing through ``email.parser``, pool bookkeeping); this client costs a
fraction of that. It does exactly what S3 object calls need: one request
with a bytes or file-like body, a status line, headers, and a body framed
by Content-Length or chunked encoding, read as a stream. Connections are
kept per (scheme, host, port) and reused. A GET or HEAD on a reused
connection that the server closed while idle is resent once on a fresh
one. Nothing else is ever resent here: a server may apply a PUT and close
without answering, so a write that got no answer goes back to the retry
loop, which counts it and resolves a later 412 (see ops/put.py).

Errors are ``ConnectionError`` (``TransportError``), ``TimeoutError`` or,
for a host name that does not resolve, ``UnresolvedHost`` (a
``socket.gaierror`` naming the host), all of which the error table in
``s3op.errors`` maps to ``transient``.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any, Dict, List, Optional, Tuple

SEND_BLOCK = 256 * 1024
READ_BUFFER = 64 * 1024


class TransportError(ConnectionError):
    """The connection broke, or the server's framing was wrong."""


class UnresolvedHost(socket.gaierror):
    """DNS could not resolve ``host`` (a ``socket.gaierror`` that names it)."""

    def __init__(self, host: str, cause: socket.gaierror) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.host = host

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.host, socket.gaierror(self.errno, self.strerror)))


def _connect(address: Any, port: int, host: str, timeout: float) -> socket.socket:
    """A TCP connection to ``address``; a failed name lookup raises ``UnresolvedHost``."""
    try:
        return socket.create_connection((address, port), timeout=timeout)
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
        self.reader: Any = sock.makefile("rb", buffering=READ_BUFFER)
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
        pool: Pool,
        status: int,
        reason: str,
        headers: Dict[str, str],
        head_only: bool,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self._conn: Optional[Connection] = conn
        self._pool = pool
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
        if self._chunk_left == 0 and reader.readline(8) not in (b"\r\n", b"\n"):
            self.close()
            raise TransportError("chunk not followed by CRLF")
        return data

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release(conn, keep=self._keep)

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


class Pool:
    """Idle keep-alive connections to one origin, shared by threads."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        timeouts: Tuple[float, float],
        max_idle: int = 64,
        verify: bool = True,
    ) -> None:
        self.host, self.port, self.timeouts, self.max_idle = host, port, timeouts, max_idle
        self.tls = _tls_context(verify) if scheme == "https" else None
        self.host_header = _host_header(host, port, 443 if self.tls is not None else 80)
        self._idle: List[Connection] = []
        self._lock = threading.Lock()

    def _take(self) -> Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return Connection(self.host, self.port, self.tls, self.timeouts)

    def release(self, conn: Connection, keep: bool = True) -> None:
        """Give a connection back after a complete response."""
        conn.reused = True
        with self._lock:
            if keep and len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def request(
        self, method: str, target: str, headers: Dict[str, str], body: Any = None
    ) -> Response:
        """Send one request; a stale reused connection is replaced once."""
        conn = self._take()
        start = body.tell() if hasattr(body, "tell") else 0
        try:
            return self._exchange(conn, method, target, headers, body)
        except (TransportError, ConnectionResetError, BrokenPipeError) as exc:
            conn.close()
            idempotent = method in ("GET", "HEAD")
            if not (idempotent and conn.reused and getattr(exc, "before_response", True)):
                raise
        if hasattr(body, "seek"):
            body.seek(start)
        fresh = Connection(self.host, self.port, self.tls, self.timeouts)
        try:
            return self._exchange(fresh, method, target, headers, body)
        except BaseException:
            fresh.close()
            raise

    def start(self, method: str, target: str, headers: Dict[str, str]) -> Connection:
        """Send a body-less request and return at once; ``finish`` reads the answer.

        Lets one thread keep many requests in flight (``s3op.ops.multiget``).
        A reused connection found broken while sending is replaced once; one
        the server closed while idle may only show it in ``finish`` (a
        ``TransportError`` with ``before_response`` True), and the caller
        decides what to resend then.
        """
        head = self._head(method, target, headers)
        conn = self._take()
        try:
            conn.sock.sendall(head)
            return conn
        except (ConnectionResetError, BrokenPipeError):
            conn.close()
            if not conn.reused:
                raise
        fresh = Connection(self.host, self.port, self.tls, self.timeouts)
        try:
            fresh.sock.sendall(head)
        except BaseException:
            fresh.close()
            raise
        return fresh

    def finish(self, conn: Connection, method: str) -> Response:
        """The answer to the request ``start`` sent on ``conn`` (closed if it fails)."""
        try:
            status, reason, headers = _read_head(conn.reader)
            return Response(conn, self, status, reason, headers, head_only=method == "HEAD")
        except BaseException:  # a bad head (no or a bad Content-Length too): never reused
            conn.close()
            raise

    def _head(self, method: str, target: str, headers: Dict[str, str]) -> bytes:
        lines = [f"{method} {target} HTTP/1.1"]
        if not any(name.lower() == "host" for name in headers):
            lines.append(f"Host: {self.host_header}")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _exchange(
        self, conn: Connection, method: str, target: str, headers: Dict[str, str], body: Any
    ) -> Response:
        head = self._head(method, target, headers)
        if isinstance(body, (bytes, bytearray, memoryview)):
            conn.sock.sendall(head + bytes(body))
        else:
            conn.sock.sendall(head)
            if body is not None:
                _send_file(conn.sock, body)
        status, reason, response_headers = _read_head(conn.reader)
        return Response(conn, self, status, reason, response_headers, head_only=method == "HEAD")

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _host_header(host: str, port: int, default_port: int) -> str:
    """``host[:port]``: the port only when not the scheme's default, IPv6 in brackets."""
    if ":" in host:
        host = f"[{host}]"
    return host if port == default_port else f"{host}:{port}"


def _send_file(sock: socket.socket, body: Any) -> None:
    while True:
        block = body.read(SEND_BLOCK)
        if not block:
            return
        sock.sendall(block)


def _read_head(reader: Any) -> Tuple[int, str, Dict[str, str]]:
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
        return _read_head(reader)
    return status, parts[2] if len(parts) > 2 else "", headers


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context

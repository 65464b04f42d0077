"""A minimal HTTP/1.1 client for the fast path: keep-alive sockets, no frills.

urllib3 plus http.client cost ~300 us of CPU per small request here (header
parsing through ``email.parser``, pool bookkeeping); this client costs a
fraction of that. It does exactly what S3 object calls need: one request
with a bytes or file-like body, a status line, headers, and a body framed
by Content-Length or chunked encoding, read as a stream. Connections are
kept per (scheme, host, port) and reused. ``Pool.start`` / ``Pool.answer``
let one thread keep many requests in flight (``s3op.inflight``): GETs,
HEADs, and small PUTs whose bodies are in memory. A body that is a slice of a
file (an upload part) goes by ``sendfile`` on plain TCP with no bandwidth cap:
the kernel copies it from the page cache to the socket, with no read into
Python (TLS, or a cap that counts the blocks, keeps the block loop).

Stale connections, in two steps:

1. Before an idle connection carries a request, ``Pool._take`` checks it
   (``_closed_while_idle``: a poll with no wait): one the server closed
   while it sat in the pool (its FIN or reset has arrived: the socket reads
   as ready) is dropped and the next idle one, or a fresh one, is taken.
   Nothing was sent on it, so this is safe for every request, a PUT or a
   CopyObject included: without it, a write after a pause longer than the
   server's keep-alive timeout (AWS closes idle connections after some
   seconds) went out on a dead connection, failed, and cost an attempt and
   a backoff sleep in the retry loop.
2. A server can still close a connection just as a request goes out (the
   FIN is on its way). This module is the one place a request is then sent
   again without the retry loop (``s3op.retry`` lists every layer that may
   repeat work): a GET or HEAD on a reused connection that broke before a
   response head was read (``_stale``) is sent once more on a fresh
   connection, by ``Pool.request``, ``Pool.start`` and ``Pool.answer``
   alike, and not counted as an attempt. Nothing else is ever resent here:
   from a broken connection alone one cannot tell a request the server
   never read from one it applied before closing without an answer, so a
   write that got no answer goes back to the retry loop, which counts it
   and resolves a later 412 (see ops/put.py).

Errors are ``ConnectionError`` (``TransportError``), ``TimeoutError`` or,
for a host name that does not resolve, ``UnresolvedHost`` (a
``socket.gaierror`` naming the host), all of which the error table in
``s3op.errors`` maps to ``transient``.
"""

from __future__ import annotations

import select
import socket
import sys
import threading
import time
from typing import (
    IO,
    TYPE_CHECKING,
    Dict,
    List,
    Optional,
    Protocol,
    Tuple,
    Union,
    runtime_checkable,
)

from s3op import bandwidth
from s3op.http1_conn import Connection, Response, TransportError, UnresolvedHost, read_head

if TYPE_CHECKING:  # ssl is imported for an https endpoint only (~3 ms of start-up)
    import ssl

__all__ = [
    "FileSpan",
    "Pending",
    "Pool",
    "Readable",
    "RequestBody",
    "TransportError",
    "UnresolvedHost",
]

SEND_BLOCK = 256 * 1024


class Readable(Protocol):
    """A request body streamed from a file (an open file, or a slice of one)."""

    def read(self, amt: int = -1) -> bytes:
        """Up to ``amt`` bytes; b"" at the end."""


@runtime_checkable
class FileSpan(Readable, Protocol):
    """A body that is a span of a file, which ``sendfile`` can send (``FileSlice``)."""

    def take_span(self) -> Tuple[IO[bytes], int, int]:
        """(the file, offset in it, bytes to send), all counted as read."""


#: What a request sends: bytes in memory, or a file streamed in blocks.
RequestBody = Union[bytes, bytearray, memoryview, Readable]
_IN_MEMORY = (bytes, bytearray, memoryview)


#: Methods that are safe to send again when the server never saw them.
_RESENDABLE = frozenset({"GET", "HEAD"})


def _stale(method: str, conn: Connection, exc: BaseException) -> bool:
    """True when ``exc`` shows that the server closed ``conn`` while it sat idle
    in the pool: the connection was reused, it broke (a ``ConnectionError``)
    before a response head was read (a malformed status line says a server
    answered: ``before_response`` False), and the request has no effects
    (GET or HEAD), so it may be sent again."""
    return (
        method in _RESENDABLE
        and conn.reused
        and isinstance(exc, ConnectionError)
        and getattr(exc, "before_response", True)
    )


def _closed_while_idle(conn: Connection) -> bool:
    """True when an idle connection reads as ready: the server closed it (EOF or
    a reset arrived) or sent bytes no request asked for. Either way it must not
    carry a request. A poll with no wait: one system call, no blocking."""
    poller = select.poll()
    poller.register(conn.sock, select.POLLIN)
    return bool(poller.poll(0))


class Pending:
    """A request sent (``Pool.start``), its reply not read yet (``head``: what a
    stale GET or HEAD sends again)."""

    __slots__ = ("pool", "conn", "method", "head", "due")

    def __init__(self, pool: Pool, conn: Connection, method: str, head: bytes) -> None:
        self.pool, self.conn, self.method, self.head = pool, conn, method, head
        self.due = time.monotonic() + pool.timeouts[1]  # no reply by then: timed out

    def close(self) -> None:
        """Give up on the reply: the connection is closed, never reused."""
        self.conn.close()


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
        """An idle connection still open at the server's end, or a fresh one."""
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn = self._idle.pop()
            if not _closed_while_idle(conn):
                return conn
            conn.close()
        return self._connect()

    def release(self, conn: Connection, keep: bool = True) -> None:
        """Give a connection back after a complete response."""
        conn.reused = True
        with self._lock:
            if keep and len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def request(
        self,
        method: str,
        target: str,
        headers: Dict[str, str],
        body: Optional[RequestBody] = None,
    ) -> Response:
        """Send one request and read its status and headers (``_stale``: resent once)."""
        conn = self._take()
        try:
            return self._exchange(conn, method, target, headers, body)
        except BaseException as exc:
            conn.close()
            if not _stale(method, conn, exc):
                raise
        fresh = self._connect()  # a GET or HEAD: no body to rewind
        try:
            return self._exchange(fresh, method, target, headers, body)
        except BaseException:
            fresh.close()
            raise

    def start(
        self, method: str, target: str, headers: Dict[str, str], body: Optional[bytes] = None
    ) -> Pending:
        """Send a request (a body only in memory: a small PUT's) and return at once;
        ``answer`` reads the reply.

        A reused connection found broken while sending is replaced once
        (``_stale``: GET and HEAD only, never a PUT); one the server closed
        while idle may only show it in ``answer``, which resends it then.
        """
        head = self._head(method, target, headers)
        if body is not None and bandwidth.LIMITER is not None:
            bandwidth.sending(len(head) + len(body))
        conn = self._take()
        try:
            conn.sock.sendall(head if body is None else head + body)
            return Pending(self, conn, method, head)
        except BaseException as exc:
            conn.close()
            if not _stale(method, conn, exc):
                raise
        return self._send_fresh(method, head)

    def answer(self, pending: Pending) -> Union[Response, Pending]:
        """The reply to ``pending``'s request, its body not read yet; or, when its
        reused connection turns out to have been closed by the server while idle
        (``_stale``), the same request sent again on a fresh connection: wait for
        that one instead. Raises what went wrong (the connection closed)."""
        conn = pending.conn
        try:
            status, reason, headers = read_head(conn.reader)
            return Response(conn, self.release, status, reason, headers, pending.method == "HEAD")
        except BaseException as exc:  # a bad head (or Content-Length too): never reused
            conn.close()
            if not _stale(pending.method, conn, exc):
                raise
        return self._send_fresh(pending.method, pending.head)

    def _send_fresh(self, method: str, head: bytes) -> Pending:
        fresh = self._connect()
        try:
            fresh.sock.sendall(head)
        except BaseException:
            fresh.close()
            raise
        return Pending(self, fresh, method, head)

    def _connect(self) -> Connection:
        return Connection(self.host, self.port, self.tls, self.timeouts)

    def _head(self, method: str, target: str, headers: Dict[str, str]) -> bytes:
        lines = [f"{method} {target} HTTP/1.1"]
        if not any(name.lower() == "host" for name in headers):
            lines.append(f"Host: {self.host_header}")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _exchange(
        self,
        conn: Connection,
        method: str,
        target: str,
        headers: Dict[str, str],
        body: Optional[RequestBody],
    ) -> Response:
        head = self._head(method, target, headers)
        if bandwidth.LIMITER is not None:
            bandwidth.sending(len(head) + (len(body) if isinstance(body, _IN_MEMORY) else 0))
        if isinstance(body, _IN_MEMORY):
            conn.sock.sendall(head + bytes(body))
        else:
            conn.sock.sendall(head)
            if body is not None:
                _send_file(conn.sock, body)
        status, reason, response_headers = read_head(conn.reader)
        return Response(
            conn, self.release, status, reason, response_headers, head_only=method == "HEAD"
        )

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


def _send_file(sock: socket.socket, body: Readable) -> None:
    """Send a body read from a file: by ``sendfile`` (no copy through Python)
    when it is a slice of a file, the socket is plain TCP and no bandwidth cap
    counts its blocks; else block by block."""
    if isinstance(body, FileSpan) and bandwidth.LIMITER is None:
        if not _is_tls(sock):  # TLS encrypts in Python's buffers
            _send_span(sock, *body.take_span())
            return
    while True:
        block = body.read(SEND_BLOCK)
        if not block:
            return
        if bandwidth.LIMITER is not None:
            bandwidth.sending(len(block))
        sock.sendall(block)


def _send_span(sock: socket.socket, fileobj: IO[bytes], offset: int, count: int) -> None:
    """``count`` bytes of ``fileobj`` from ``offset`` by ``sendfile``; a file that
    ends sooner breaks the request (the server would wait for the rest)."""
    if count <= 0:
        return
    sent = sock.sendfile(fileobj, offset, count)
    if sent < count:
        raise TransportError(f"the file ended after {sent} of {count} bytes")


def _is_tls(sock: socket.socket) -> bool:
    """Whether ``sock`` speaks TLS (none can before ``ssl`` is imported)."""
    ssl_module = sys.modules.get("ssl")
    return ssl_module is not None and isinstance(sock, ssl_module.SSLSocket)


def _tls_context(verify: bool) -> ssl.SSLContext:
    import ssl  # here: a plain-HTTP endpoint never needs it

    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context

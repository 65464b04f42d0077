"""Reading requests on a raw loopback socket, for tests that play an HTTP/1.1 server."""

from __future__ import annotations

import socket
from typing import Tuple


def read_head(conn: socket.socket) -> Tuple[bytes, bytes]:
    """A request's head (up to the blank line) and the body bytes read with it;
    (b"", b"") when the client hung up first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b"", b""
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


def read_body(conn: socket.socket) -> bytes:
    """A request's body, framed by its Content-Length (b"" when the client hung up)."""
    head, body = read_head(conn)
    if not head:
        return b""
    fields = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = int(fields[b"content-length"])
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return body

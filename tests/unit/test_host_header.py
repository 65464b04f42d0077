"""The Host header: one per request, the one that was signed.

The fast client puts its pool's ``host_header`` in the headers it signs,
and ``s3op.http1`` then sends that one instead of its own. A real socket on loopback records
what goes on the wire.
"""

from __future__ import annotations

import socket
import threading
from typing import List
from urllib.parse import urlsplit

import pytest

from s3op.http1 import Pool


def _recording_server(requests: List[bytes]) -> socket.socket:
    """Answers each request on one connection with an empty 200, keeping its head."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
                while b"\r\n\r\n" in data:
                    head, data = data.split(b"\r\n\r\n", 1)
                    requests.append(head)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    return listener


def _host_lines(head: bytes) -> List[str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return [line for line in lines if line.lower().startswith("host:")]


def test_one_host_line_whether_or_not_the_caller_gives_one() -> None:
    requests: List[bytes] = []
    listener = _recording_server(requests)
    port = listener.getsockname()[1]
    pool = Pool("http", "127.0.0.1", port, (5.0, 5.0))
    try:
        pool.request("GET", "/a", {}).read_all()
        pool.request("GET", "/b", {"host": "signed.example:8080"}).read_all()
    finally:
        pool.close()
        listener.close()
    assert [_host_lines(r) for r in requests] == [
        [f"Host: 127.0.0.1:{port}"],
        ["host: signed.example:8080"],
    ]


@pytest.mark.parametrize(
    "url, host",
    [
        ("http://127.0.0.1:8333/b/k", "127.0.0.1:8333"),
        ("http://s3.local:80/b/k", "s3.local"),
        ("https://S3.Example.com/b/k", "s3.example.com"),
        ("https://bucket.s3.example.com:443/k", "bucket.s3.example.com"),
        ("https://s3.example.com:8443/b", "s3.example.com:8443"),
        ("http://[::1]:9000/b/k", "[::1]:9000"),
        ("http://[::1]/b/k", "[::1]"),
    ],
)
def test_host_header_of_a_url(url: str, host: str) -> None:
    """What the fast client signs and sends: its pool for the URL's host (as
    ``FastClient._pool`` makes it) works the header out once."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    pool = Pool(parts.scheme, parts.hostname or "", port, (1.0, 1.0))
    assert pool.host_header == host

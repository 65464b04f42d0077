"""The benchmark's network model (scripts/bench/netmodel.py): latency and bandwidth.

The proxy runs as the benchmark runs it (a child process) in front of a tiny
keep-alive HTTP/1.1 server on loopback. Timings are checked one-sided where a
loaded machine can only make them longer (never less than the delay), with
generous slack above, and the bandwidth within 10% of the cap.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, List, Tuple

import pytest

from scripts.bench.netmodel import CHUNK, MB, NetModel, ProxyProcess, TokenBucket

DELAY = 0.05  # seconds per request in the latency tests
SLACK = 0.1  # seconds above the model a busy machine may add (the best of 3 must fit)
CAP = 20 * MB  # bytes/s in the bandwidth tests: 20 MB takes 1 s
BODY = 20 * MB


class _Handler(BaseHTTPRequestHandler):
    """GET /N answers N bytes; PUT reads its body and answers its length."""

    protocol_version = "HTTP/1.1"  # keep-alive: one connection for several requests
    disable_nagle_algorithm = True  # else head and body wait on delayed ACKs (40 ms)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        size = int(self.path.strip("/") or 0)
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = bytes(CHUNK)
        for offset in range(0, size, CHUNK):
            self.wfile.write(block[: min(CHUNK, size - offset)])

    def do_PUT(self) -> None:  # noqa: N802
        left = int(self.headers["Content-Length"])
        while left:
            left -= len(self.rfile.read(min(CHUNK, left)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """A keep-alive HTTP server on loopback; its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _connect(url: str) -> http.client.HTTPConnection:
    host, port = url.split("://")[1].split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)


def _timed(conn: http.client.HTTPConnection, method: str, path: str, body: bytes = b"") -> float:
    """Seconds from sending a request to the end of its response's body."""
    start = time.perf_counter()
    conn.request(method, path, body=body or None)
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200
    return time.perf_counter() - start


def _latencies(url: str) -> Tuple[float, List[float]]:
    """The first request on a new connection, then three more on the same one."""
    conn = _connect(url)
    try:
        first = _timed(conn, "GET", "/10")
        return first, [_timed(conn, "GET", "/10") for _ in range(3)]
    finally:
        conn.close()


def _best_first_and_reused(model: NetModel, upstream: str) -> Tuple[float, List[float]]:
    """Three new connections' first requests (the fastest) and their reused ones (all).

    A loaded machine only ever adds time, so the fastest of a few tries is the
    best estimate of the model itself.
    """
    with ProxyProcess(model, upstream) as proxy:
        runs = [_latencies(proxy.endpoint_url) for _ in range(3)]
    return min(first for first, _ in runs), [t for _, reused in runs for t in reused]


def _best_seconds_per_cap(method: str, upstream: str) -> float:
    """Seconds to move BODY through the model capped at CAP, over BODY / CAP: the best
    of up to three tries (stops at the first within 10%)."""
    best = float("inf")
    with ProxyProcess(NetModel(0.0, CAP), upstream) as proxy:
        for _ in range(3):
            conn = _connect(proxy.endpoint_url)
            if method == "GET":
                took = _timed(conn, "GET", f"/{BODY}")
            else:
                took = _timed(conn, "PUT", "/", bytes(BODY))
            conn.close()
            best = min(best, took * CAP / BODY)
            if best <= 1.1:
                break
    return best


def test_each_request_waits_the_delay(upstream: str) -> None:
    first, reused = _best_first_and_reused(NetModel(DELAY, 1000 * MB), upstream)
    assert all(t >= DELAY for t in reused), reused
    assert min(reused) < DELAY + SLACK, reused
    # A new connection pays the handshake's round trip as well.
    assert 2 * DELAY <= first < 2 * DELAY + SLACK, first


def test_no_handshake_delay_when_turned_off(upstream: str) -> None:
    first, _ = _best_first_and_reused(NetModel(DELAY, 1000 * MB, handshake=False), upstream)
    assert DELAY <= first < 2 * DELAY, first


def test_download_runs_at_the_cap(upstream: str) -> None:
    assert 0.9 <= _best_seconds_per_cap("GET", upstream) <= 1.1


def test_upload_runs_at_the_cap(upstream: str) -> None:
    assert 0.9 <= _best_seconds_per_cap("PUT", upstream) <= 1.1


def test_server_close_reaches_the_client() -> None:
    """A server that answers and closes: the client gets every byte, then EOF."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_and_close() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(16)
            conn.sendall(b"x" * 300_000)

    threading.Thread(target=answer_and_close, daemon=True).start()
    upstream = f"http://127.0.0.1:{listener.getsockname()[1]}"
    with ProxyProcess(NetModel(0.001, 1000 * MB), upstream) as proxy, listener:
        port = int(proxy.endpoint_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"go")
            got = b"".join(iter(lambda: client.recv(65536), b""))  # to EOF
    assert len(got) == 300_000


def test_token_bucket_lends_one_chunk_then_paces() -> None:
    bucket = TokenBucket(rate=1000.0, depth=100)
    assert bucket.wait_for(100) == 0.0  # a full bucket: no wait
    assert bucket.wait_for(500) == pytest.approx(0.5, abs=0.01)  # 500 bytes of debt at 1000/s
    bucket._stamp -= 10  # ten idle seconds refill it, but never beyond its depth
    assert bucket.wait_for(100) == 0.0
    assert bucket.wait_for(50) == pytest.approx(0.05, abs=0.01)

"""The one stale-connection rule (``s3op.http1._stale``) and ``s3op.inflight``.

A loopback server answers one request per connection and then hangs up,
as a server closing an idle keep-alive connection does. The pool finds such
a connection closed before it sends anything on it (``_closed_while_idle``)
and takes a fresh one, for a PUT as for a GET. A connection that breaks
after the request went out (the server read it and hung up, or closed just
as it was sent) is the other case: a GET or HEAD is then sent once more on
a fresh connection, by ``Pool.request`` and ``Pool.start``/``Pool.answer``
alike; a PUT never is.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterator, List, Tuple

import pytest

from s3op.http1 import Pending, Pool, TransportError
from s3op.http1_conn import Response
from s3op.inflight import InFlight
from tests.unit.raw_http import read_head

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def one_per_connection() -> Iterator[Tuple[int, List[bytes]]]:
    """Answers one request per connection, then closes it; records each request."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: List[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                head, _ = read_head(conn)
                if head:
                    seen.append(head.split(b"\r\n", 1)[0])
                    conn.sendall(OK)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], seen
    stop.set()
    thread.join()
    listener.close()


def _pool(port: int) -> Pool:
    return Pool("http", "127.0.0.1", port, (2.0, 2.0))


def _first_then_idle(pool: Pool) -> None:
    """One request, answered; its connection goes back to the pool, then the server
    closes it (as it would an idle one)."""
    assert pool.request("GET", "/first", {}).read_all() == b"ok"
    time.sleep(0.1)  # the server's FIN arrives


def test_a_get_on_a_connection_closed_while_idle_is_sent_again(
    one_per_connection: Tuple[int, List[bytes]],
) -> None:
    port, seen = one_per_connection
    pool = _pool(port)
    _first_then_idle(pool)
    assert pool.request("GET", "/again", {}).read_all() == b"ok"
    assert seen == [b"GET /first HTTP/1.1", b"GET /again HTTP/1.1"]
    pool.close()


def test_a_put_after_the_server_closed_the_idle_connection_goes_on_a_fresh_one(
    one_per_connection: Tuple[int, List[bytes]],
) -> None:
    port, seen = one_per_connection
    pool = _pool(port)
    _first_then_idle(pool)
    assert pool.request("PUT", "/write", {"Content-Length": "1"}, b"x").read_all() == b"ok"
    assert seen == [b"GET /first HTTP/1.1", b"PUT /write HTTP/1.1"]  # sent once, not retried
    pool.close()


def test_a_batched_put_after_the_server_closed_the_idle_connection_goes_on_a_fresh_one(
    one_per_connection: Tuple[int, List[bytes]],
) -> None:
    port, seen = one_per_connection
    pool = _pool(port)
    _first_then_idle(pool)
    pending = pool.start("PUT", "/batched", {"Content-Length": "1"}, b"x")
    assert not pending.conn.reused  # the closed one was dropped before sending
    got = pool.answer(pending)
    assert isinstance(got, Response) and got.read_all() == b"ok"
    assert seen == [b"GET /first HTTP/1.1", b"PUT /batched HTTP/1.1"]
    pool.close()


@pytest.fixture
def hangs_up_on_the_second() -> Iterator[Tuple[int, List[bytes]]]:
    """Answers a connection's first request; reads its second and closes unanswered
    (a server that applied a write and hung up, or closed as it arrived)."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: List[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            for answer in (True, False):
                head, _ = read_head(conn)
                seen.append(head.split(b"\r\n", 1)[0])
                if answer:
                    conn.sendall(OK)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], seen
    thread.join(5)
    listener.close()


def test_a_put_whose_connection_breaks_after_sending_is_never_sent_again(
    hangs_up_on_the_second: Tuple[int, List[bytes]],
) -> None:
    port, seen = hangs_up_on_the_second
    pool = _pool(port)
    assert pool.request("GET", "/first", {}).read_all() == b"ok"
    with pytest.raises((TransportError, ConnectionError)):
        pool.request("PUT", "/write", {"Content-Length": "1"}, b"x").read_all()
    # the server read the PUT: the retry loop decides, and counts it
    assert seen == [b"GET /first HTTP/1.1", b"PUT /write HTTP/1.1"]
    pool.close()


def test_start_and_answer_send_a_stale_get_again_on_a_fresh_connection(
    one_per_connection: Tuple[int, List[bytes]],
) -> None:
    port, seen = one_per_connection
    pool = _pool(port)
    _first_then_idle(pool)
    pending = pool.start("GET", "/batched", {})
    got = pool.answer(pending)
    if isinstance(got, Pending):  # the stale connection showed only now: sent again
        assert got.conn is not pending.conn and not got.conn.reused
        got = pool.answer(got)
    assert isinstance(got, Response) and got.read_all() == b"ok"
    assert seen[-1] == b"GET /batched HTTP/1.1" and len(seen) == 2
    pool.close()


def test_inflight_yields_every_reply_by_its_tag(
    one_per_connection: Tuple[int, List[bytes]],
) -> None:
    port, seen = one_per_connection
    pool = _pool(port)
    flight: InFlight[str] = InFlight()
    for name in ("a", "b", "c"):
        flight.send(pool, "GET", f"/{name}", {}, name)
    replies = {tag: got for tag, got in flight.replies()}
    flight.close()
    assert sorted(replies) == ["a", "b", "c"]
    for got in replies.values():
        assert isinstance(got, Response) and got.status == 200 and got.read_all() == b"ok"
    pool.close()


def test_inflight_times_out_a_request_with_no_reply() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    pool = Pool("http", "127.0.0.1", listener.getsockname()[1], (2.0, 0.2))
    flight: InFlight[int] = InFlight()
    try:
        flight.send(pool, "GET", "/silent", {}, 7)
        ((tag, got),) = list(flight.replies())
        assert tag == 7 and isinstance(got, TimeoutError)
    finally:
        flight.close()
        pool.close()
        listener.close()

"""Bodies read into one reused buffer: ``http1.Response.readinto``,
``FastBody.readinto`` and the large-download writer on top of them.

A real socket on loopback serves the responses, in pieces with pauses, so
reads return early and the buffer is refilled many times.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import zlib
from pathlib import Path
from typing import List, Tuple

import pytest

from s3op.bodies import FastBody
from s3op.errors import OpError
from s3op.http1 import Pool, TransportError
from s3op.ops.get import _write_at
from s3op.protocol import ErrorKind
from s3op.retry import Deadline

BODY = os.urandom(300_000)


def _server(answers: List[bytes]) -> Tuple[socket.socket, List[int]]:
    """Sends each answer (in 7 pieces) to one request on one connection;
    records how many connections were accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: List[int] = []

    def serve() -> None:
        while answers:
            conn, _ = listener.accept()
            accepted.append(1)
            with conn:
                data = b""
                while answers:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if b"\r\n\r\n" not in data:
                        break
                    data = data.split(b"\r\n\r\n", 1)[1]
                    answer = answers.pop(0)
                    step = len(answer) // 7 + 1
                    for at in range(0, len(answer), step):
                        conn.sendall(answer[at : at + step])
                        time.sleep(0.002)
                    if answer.endswith(b"CLOSE"):
                        return

    threading.Thread(target=serve, daemon=True).start()
    return listener, accepted


def _plain(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def _chunked(body: bytes) -> bytes:
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for at in range(0, len(body), 70_000):
        piece = body[at : at + 70_000]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def _read_all_into(reader: object, size: int = 65_536) -> Tuple[bytes, int]:
    buf = memoryview(bytearray(size))
    parts, calls = [], 0
    while True:
        n = reader.readinto(buf)  # type: ignore[attr-defined]
        calls += 1
        if not n:
            return b"".join(parts), calls
        parts.append(bytes(buf[:n]))


@pytest.mark.parametrize("frame", [_plain, _chunked])
def test_response_readinto_reads_the_body_and_keeps_the_connection(frame: object) -> None:
    listener, accepted = _server([frame(BODY), frame(b"again")])  # type: ignore[operator]
    pool = Pool("http", "127.0.0.1", listener.getsockname()[1], (5.0, 5.0))
    try:
        resp = pool.request("GET", "/a", {})
        got, calls = _read_all_into(resp)
        assert got == BODY and calls > 2 and resp.done
        assert _read_all_into(pool.request("GET", "/b", {}))[0] == b"again"
    finally:
        pool.close()
        listener.close()
    assert len(accepted) == 1  # the second request reused the connection


def test_response_readinto_of_a_cut_body_raises() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10 + b"CLOSE"
    listener, _ = _server([cut])
    pool = Pool("http", "127.0.0.1", listener.getsockname()[1], (5.0, 5.0))
    try:
        with pytest.raises(TransportError, match="body bytes unread"):
            _read_all_into(pool.request("GET", "/a", {}))
    finally:
        pool.close()
        listener.close()


@pytest.mark.parametrize("crc_ok", [True, False])
def test_fastbody_readinto_checks_the_whole_object_crc32(crc_ok: bool) -> None:
    listener, _ = _server([_plain(BODY)])
    pool = Pool("http", "127.0.0.1", listener.getsockname()[1], (5.0, 5.0))
    expect = zlib.crc32(BODY) ^ (0 if crc_ok else 1)
    try:
        body = FastBody(pool.request("GET", "/a", {}), expect)
        if crc_ok:
            assert _read_all_into(body)[0] == BODY
        else:
            with pytest.raises(OpError) as info:
                _read_all_into(body)
            assert info.value.kind is ErrorKind.CORRUPT
    finally:
        pool.close()
        listener.close()


def test_a_part_streams_through_one_buffer_to_its_offset(tmp_path: Path) -> None:
    listener, _ = _server([_plain(BODY)])
    pool = Pool("http", "127.0.0.1", listener.getsockname()[1], (5.0, 5.0))
    target = tmp_path / "big.part"
    target.write_bytes(b"\0" * (len(BODY) + 100))
    try:
        body = FastBody(pool.request("GET", "/a", {}), None)
        got, crc = _write_at(body, str(target), 100, Deadline(60))
    finally:
        pool.close()
        listener.close()
    assert (got, crc) == (len(BODY), zlib.crc32(BODY))
    assert target.read_bytes() == b"\0" * 100 + BODY

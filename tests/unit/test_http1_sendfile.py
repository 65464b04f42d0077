"""Upload bodies that are slices of a file go by ``sendfile`` (``s3op.http1``) on
plain TCP with no bandwidth cap, and block by block under a cap (which counts
them) or over TLS; either way the server gets exactly the slice's bytes. A file
that ends before its slice breaks the request instead of leaving the server
waiting."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

import pytest

from s3op import bandwidth
from s3op.http1 import Pool, TransportError
from s3op.transport import FileSlice
from tests.unit.raw_http import read_body

DATA = bytes(range(251)) * 4000  # ~1 MiB, a prime period: a shifted slice shows


def _serve(tls: Optional[ssl.SSLContext]) -> Iterator[Tuple[int, List[bytes]]]:
    """Answers 200 to every request (over TLS with ``tls``); records each body."""
    listener = socket.create_server(("127.0.0.1", 0))
    if tls is not None:
        listener = tls.wrap_socket(listener, server_side=True)
    bodies: List[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                bodies.append(read_body(conn))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], bodies
    listener.close()


@pytest.fixture
def server() -> Iterator[Tuple[int, List[bytes]]]:
    """A plain HTTP server (``_serve``)."""
    yield from _serve(None)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[Tuple[int, List[bytes]]]:
    """An HTTPS server (``_serve``) with a self-signed certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    yield from _serve(context)


def _self_signed(where: Path) -> Tuple[str, str]:
    """(certificate, key) files of a throw-away certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = where / "cert.pem", where / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> List[Tuple[int, int]]:
    """(offset, count) of every ``socket.sendfile`` call."""
    calls: List[Tuple[int, int]] = []
    real = socket.socket.sendfile

    def spy(self: socket.socket, file: Any, offset: int = 0, count: Any = None) -> int:
        calls.append((offset, count))
        return real(self, file, offset, count)

    monkeypatch.setattr(socket.socket, "sendfile", spy)
    monkeypatch.setattr(ssl.SSLSocket, "sendfile", spy)  # its own: a loop of sends
    return calls


def _put_slice(port: int, path: Path, offset: int, length: int, scheme: str = "http") -> None:
    pool = Pool(scheme, "127.0.0.1", port, (2.0, 5.0), verify=False)
    with open(path, "rb") as f:
        body = FileSlice(f, offset, length)
        headers = {"Content-Length": str(length)}
        pool.request("PUT", "/b/k", headers, body).read_all()


def test_a_file_slice_goes_by_sendfile_with_no_cap(
    tmp_path: Path, server: Tuple[int, List[bytes]], sendfile_calls: List[Tuple[int, int]]
) -> None:
    port, bodies = server
    path = tmp_path / "f"
    path.write_bytes(DATA)
    _put_slice(port, path, 1234, 700_000)
    assert bodies == [DATA[1234:701_234]]
    assert sendfile_calls == [(1234, 700_000)]


def test_under_a_cap_the_slice_goes_block_by_block_and_is_counted(
    tmp_path: Path, server: Tuple[int, List[bytes]], sendfile_calls: List[Tuple[int, int]]
) -> None:
    port, bodies = server
    path = tmp_path / "f"
    path.write_bytes(DATA)
    taken: List[int] = []
    with bandwidth.capped(1 << 40):
        limiter = bandwidth.LIMITER
        assert limiter is not None
        real_take = limiter.up.take

        def take(n: int) -> None:
            taken.append(n)
            real_take(n)

        limiter.up.take = take  # type: ignore[method-assign]
        _put_slice(port, path, 1234, 700_000)
    assert bodies == [DATA[1234:701_234]]
    assert sendfile_calls == []
    assert sum(taken) >= 700_000  # the head and every block of the body


def test_over_tls_the_slice_goes_block_by_block(
    tmp_path: Path, tls_server: Tuple[int, List[bytes]], sendfile_calls: List[Tuple[int, int]]
) -> None:
    port, bodies = tls_server
    path = tmp_path / "f"
    path.write_bytes(DATA)
    _put_slice(port, path, 1234, 700_000, scheme="https")
    assert bodies == [DATA[1234:701_234]]
    assert sendfile_calls == []  # TLS encrypts in Python's buffers: no zero copy there


def test_a_file_that_ends_before_its_slice_breaks_the_request(
    tmp_path: Path, server: Tuple[int, List[bytes]], sendfile_calls: List[Tuple[int, int]]
) -> None:
    port, _ = server
    path = tmp_path / "f"
    path.write_bytes(DATA[:5000])
    with pytest.raises(TransportError, match="ended after 4000 of 9000"):
        _put_slice(port, path, 1000, 9000)

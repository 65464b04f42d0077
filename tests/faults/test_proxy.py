"""The fault proxy itself: each mode does what it says, per exchange, on keep-alive
connections, reproducibly for a seed. Runs against moto with plain ``http.client``
(moto accepts unsigned requests), so no engine code is involved."""

from __future__ import annotations

import http.client
import time
from typing import Dict, List, Optional, Tuple

import pytest

from tests.backends import REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY
from tests.faults.conftest import Target, wait_for
from tests.faults.proxy import Fault, FaultProxy

pytestmark = pytest.mark.faults

BODY = bytes(range(256)) * 400  # 100 KiB


class _Unsigned:
    s3 = {"payload_signing_enabled": False}


def _signed(conn: http.client.HTTPConnection, method: str, path: str) -> Dict[str, str]:
    """SigV4 headers for a request (moto refuses anonymous ones); payload unsigned."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"http://{conn.host}:{conn.port}{path}"
    request = AWSRequest(
        method=method, url=url, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    )
    request.context["client_config"] = _Unsigned
    S3SigV4Auth(Credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY), "s3", REGION).add_auth(request)
    return dict(request.headers.items())


def _send(
    conn: http.client.HTTPConnection, method: str, path: str, body: Optional[bytes] = None
) -> None:
    conn.request(method, path, body=body, headers=_signed(conn, method, path))


def _request(
    conn: http.client.HTTPConnection, method: str, path: str, body: Optional[bytes] = None
) -> Tuple[int, bytes]:
    _send(conn, method, path, body)
    resp = conn.getresponse()
    return resp.status, resp.read()


@pytest.fixture
def conn(moto_target: Target) -> http.client.HTTPConnection:
    """A keep-alive connection to the proxy, with ``/bucket/obj`` holding BODY."""
    moto_target.direct().put_object(Bucket=moto_target.bucket, Key="obj", Body=BODY)
    return http.client.HTTPConnection("127.0.0.1", moto_target.proxy.port, timeout=10)


def _path(target: Target, key: str = "obj") -> str:
    return f"/{target.bucket}/{key}"


def test_none_forwards_and_counts(moto_target: Target, conn: http.client.HTTPConnection) -> None:
    for _ in range(3):
        assert _request(conn, "GET", _path(moto_target)) == (200, BODY)
    counts = moto_target.proxy.counts()
    assert counts["requests.GET"] == 3 and not any(r.injected for r in moto_target.proxy.log())


def test_flip_response_changes_one_byte(
    moto_target: Target, conn: http.client.HTTPConnection
) -> None:
    moto_target.proxy.set_mode("flip", direction="response")
    status, got = _request(conn, "GET", _path(moto_target))
    assert status == 200 and len(got) == len(BODY)
    assert sum(a != b for a, b in zip(got, BODY)) == 1
    assert moto_target.proxy.counts()["flip.response"] == 1


def test_flip_request_changes_one_byte(
    moto_target: Target, conn: http.client.HTTPConnection
) -> None:
    moto_target.proxy.set_mode("flip", direction="request")
    status, _ = _request(conn, "PUT", _path(moto_target, "up"), BODY)
    assert status == 200
    stored = moto_target.direct().get_object(Bucket=moto_target.bucket, Key="up")["Body"].read()
    assert sum(a != b for a, b in zip(stored, BODY)) == 1 and len(stored) == len(BODY)
    assert moto_target.proxy.counts()["flip.request"] == 1


def test_truncate_keeps_content_length(
    moto_target: Target, conn: http.client.HTTPConnection
) -> None:
    moto_target.proxy.set_mode("truncate", direction="response")
    _send(conn, "GET", _path(moto_target))
    resp = conn.getresponse()
    assert resp.getheader("Content-Length") == str(len(BODY))
    with pytest.raises(http.client.IncompleteRead) as err:
        resp.read()
    assert len(err.value.partial) < len(BODY)


def test_reset_mid_body(moto_target: Target, conn: http.client.HTTPConnection) -> None:
    moto_target.proxy.set_mode("reset", direction="response")
    _send(conn, "GET", _path(moto_target))
    resp = conn.getresponse()
    with pytest.raises((ConnectionResetError, http.client.IncompleteRead)):
        resp.read()
    assert moto_target.proxy.counts()["reset.response"] == 1


def test_error_answers_and_keeps_the_connection(
    moto_target: Target, conn: http.client.HTTPConnection
) -> None:
    moto_target.proxy.set_mode("error", status=503, code="SlowDown", window=0.5)
    status, body = _request(conn, "GET", _path(moto_target))
    assert status == 503 and b"<Code>SlowDown</Code>" in body
    status, _ = _request(conn, "PUT", _path(moto_target, "x"), b"abc")  # body is read, dropped
    assert status == 503
    time.sleep(0.6)  # the window is over
    assert _request(conn, "GET", _path(moto_target)) == (200, BODY)
    assert moto_target.proxy.counts()["error.503"] == 2


def test_drop_after_write(moto_target: Target, conn: http.client.HTTPConnection) -> None:
    moto_target.proxy.set_mode("drop")
    _send(conn, "PUT", _path(moto_target, "dropped"), b"applied")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        conn.getresponse()
    stored = moto_target.direct().get_object(Bucket=moto_target.bucket, Key="dropped")
    assert stored["Body"].read() == b"applied"


def test_drip_is_slow(moto_target: Target, conn: http.client.HTTPConnection) -> None:
    moto_target.direct().put_object(Bucket=moto_target.bucket, Key="small", Body=b"x" * 100)
    moto_target.proxy.set_mode("drip", drip_bytes=10, drip_interval=0.05)
    t0 = time.monotonic()
    assert _request(conn, "GET", _path(moto_target, "small")) == (200, b"x" * 100)
    assert time.monotonic() - t0 >= 0.4


def test_latency_holds_until_mode_changes(
    moto_target: Target, conn: http.client.HTTPConnection
) -> None:
    import threading

    moto_target.proxy.set_mode("latency", delay=30)
    threading.Timer(0.3, moto_target.proxy.set_mode, args=("none",)).start()
    t0 = time.monotonic()
    assert _request(conn, "GET", _path(moto_target)) == (200, BODY)
    assert 0.25 < time.monotonic() - t0 < 5


def test_same_seed_same_faults(moto_target: Target) -> None:
    """Decisions depend on (seed, request, occurrence), not on timing."""
    host, port = (
        moto_target.endpoint.rsplit(":", 1)[0][7:],
        int(moto_target.endpoint.rsplit(":", 1)[1]),
    )
    moto_target.direct().put_object(Bucket=moto_target.bucket, Key="obj", Body=BODY)
    runs: List[List[Optional[str]]] = []
    for _ in range(2):
        with FaultProxy(
            host, port, mode=Fault("flip", rate=0.3, direction="response"), seed=5
        ) as p:
            c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
            for _ in range(20):
                _request(c, "GET", _path(moto_target))
            # a record is written just after its answer went out: let the last one land
            assert wait_for(lambda: len(p.log()) == 20, 5)
            runs.append([r.injected for r in p.log()])
    assert runs[0] == runs[1] and 0 < sum(1 for x in runs[0] if x) < 20

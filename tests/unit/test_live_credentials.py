"""LiveCredentials (shared with forked workers), the Refresher, and per-request signing."""

from __future__ import annotations

import datetime
import multiprocessing
import time
from typing import Any, Dict, List

from botocore.credentials import RefreshableCredentials

from s3op.live_credentials import Frozen, LiveCredentials, Refresher, expiry_of, frozen_of
from s3op.signing import Signer


def test_what_is_published_is_read_back_and_repr_hides_it() -> None:
    live = LiveCredentials(Frozen("AK1", "SK1", None), expiry=None)
    assert live.current() == Frozen("AK1", "SK1", None) and live.expiry() is None
    live.publish(Frozen("AK2", "SK2", "T2"), expiry=123.5)
    assert live.current() == Frozen("AK2", "SK2", "T2") and live.expiry() == 123.5
    assert "SK2" not in repr(live)


def _wait_for_change(live: LiveCredentials, conn: Any) -> None:
    first = live.current().access_key
    conn.send(first)
    deadline = time.monotonic() + 20
    while live.current().access_key == first and time.monotonic() < deadline:
        time.sleep(0.01)
    conn.send(live.current().access_key)


def test_a_forked_worker_sees_what_the_parent_publishes_later() -> None:
    live = LiveCredentials(Frozen("OLD", "s", None))
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("fork").Process(target=_wait_for_change, args=(live, child))
    proc.start()
    assert parent.recv() == "OLD"
    live.publish(Frozen("NEW", "s2", "t"), None)
    assert parent.poll(20) and parent.recv() == "NEW"
    proc.join(10)


def _metadata(n: int, life: float) -> Dict[str, Any]:
    expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=life)
    return {
        "access_key": f"AK{n}",
        "secret_key": f"SK{n}",
        "token": f"T{n}",
        "expiry_time": expiry.isoformat(),
    }


def test_the_refresher_renews_short_lived_credentials_before_they_expire() -> None:
    issued: List[int] = []

    def fetch() -> Dict[str, Any]:
        issued.append(len(issued))
        # 6 s: the refresher renews them every ~1.5 s, and a reader only sees an
        # expired set if no renewal lands for 6 s. With 2 s, one 3 s stall of the
        # refresher thread on this shared 2-CPU machine failed a clean-clone run.
        return _metadata(len(issued), 6.0)

    source = RefreshableCredentials.create_from_metadata(fetch(), fetch, "test")
    live = LiveCredentials(frozen_of(source), expiry_of(source))
    refresher = Refresher(source, live)
    try:
        seen = set()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            seen.add(live.current().access_key)
            expiry = live.expiry()
            assert expiry is not None and expiry > time.time(), "read an expired set"
            time.sleep(0.05)
    finally:
        refresher.stop()
    assert len(seen) >= 3 and refresher.refreshes >= 2


def test_the_signer_signs_each_request_with_the_current_set() -> None:
    live = LiveCredentials(Frozen("AKFIRST", "s1", None))
    signer = Signer(live.current, "s3", "us-east-1")

    def auth() -> str:
        return signer.sign("GET", "/b/k", "", {"host": "127.0.0.1:9"})["Authorization"]

    assert "Credential=AKFIRST/" in auth()
    live.publish(Frozen("AKSECOND", "s2", "tok2"), None)
    headers_now = auth()
    assert "Credential=AKSECOND/" in headers_now
    assert "x-amz-security-token" in headers_now


def test_a_failing_refresh_keeps_the_last_set_and_backs_off() -> None:
    calls: List[float] = []

    def fetch() -> Dict[str, Any]:
        calls.append(time.monotonic())
        if len(calls) > 1:
            raise OSError("the provider is down")
        return _metadata(1, 0.5)

    source = RefreshableCredentials.create_from_metadata(fetch(), fetch, "test")
    live = LiveCredentials(Frozen("AK1", "SK1", "T1"), expiry_of(source))
    refresher = Refresher(source, live)
    try:
        time.sleep(3.5)
    finally:
        refresher.stop()
    assert live.current() == Frozen("AK1", "SK1", "T1") and refresher.refreshes == 0
    assert 2 <= len(calls) - 1 <= 4  # after 0.2 s, then 1 s, 2 s: not every 0.2 s

"""Rows 1-5 of the fault matrix: the data set up and down through the fault proxy.

Each row puts every object of the ``dataset`` fixture (``S3_FAULTS_OBJECTS``,
default 10,000, 0 B - 1 MiB, plus two 64 MiB multipart objects) with
``S3.put_many`` and gets them back with ``S3.get_many`` through a
``FaultProxy`` in front of SeaweedFS, then compares SHA-256 both ways: every
object read straight from the server, and every downloaded file. The raw
result lines are recorded (``spy``) to check one line per request and the
``attempts`` bound; the proxy's log shows which request met which fault.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

from s3client import S3, S3Error
from s3op.retry import RetryPolicy, most_attempts
from tests.faults.conftest import (
    BIG_SIZE,
    N_OBJECTS,
    Dataset,
    ResultSpy,
    Target,
    figure,
    server_digests,
    sha256_file,
)
from tests.faults.proxy import FaultProxy, Record

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(900)]

PREFIX = "data"
#: Row 5's configured retry budget (S3(retries=...)). With 30% of requests throttled a
#: key whose attempts all fall in the window fails with p = 0.3**N: for N = 10 that is
#: 6e-6, and with a few thousand keys in each of two windows about one run in 25 lost a
#: key by bad luck (seen in CI, F15). N = 15 gives 1.4e-8 per key, ~1e-4 per run.
MAX_ATTEMPTS = 15


@dataclass
class Outcome:
    """What one round trip measured."""

    n: int
    put_seconds: float = 0.0
    get_seconds: float = 0.0
    put_error: Optional[str] = None
    get_error: Optional[str] = None
    put_failed: Dict[str, str] = field(default_factory=dict)  # key -> error kind
    get_failed: Dict[str, str] = field(default_factory=dict)
    server_missing: List[str] = field(default_factory=list)
    server_corrupt: List[str] = field(default_factory=list)
    local_corrupt: List[str] = field(default_factory=list)
    local_short: List[str] = field(default_factory=list)
    lines_per_request: Dict[str, Counter] = field(default_factory=dict)  # op -> {lines: count}
    attempts: Dict[str, Counter] = field(default_factory=dict)  # op -> {attempts: count}
    counts: Dict[str, int] = field(default_factory=dict)
    log: List[Record] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Objects missing on the server or not downloaded."""
        return len(set(self.server_missing) | set(self.put_failed) | set(self.get_failed))

    @property
    def corrupt(self) -> int:
        """Objects or files whose SHA-256 differs from the source."""
        return len(set(self.server_corrupt) | set(self.local_corrupt))

    def summary(self) -> str:
        """One line for the figures."""
        return (
            f"{self.n} objects, put {self.put_seconds:.1f}s, get {self.get_seconds:.1f}s; "
            f"lost {self.lost}, corrupt {self.corrupt}, short files {len(self.local_short)}; "
            f"sha256 equal {self.n - len(self.server_missing) - len(self.server_corrupt)}/{self.n}"
            f" on server, {self.n - len(self.get_failed) - len(self.local_corrupt)}/{self.n}"
            f" downloaded; attempts put {_hist(self.attempts.get('put'))}"
            f" get {_hist(self.attempts.get('get'))}"
        )


def _hist(counter: Optional[Counter]) -> str:
    """``{attempts: keys}`` sorted, ``n/a`` for results without an attempt count."""
    items = sorted((counter or Counter()).items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
    return "{" + ", ".join(f"{k if k is not None else 'n/a'}: {v}" for k, v in items) + "}"


def roundtrip(
    target: Target,
    dataset: Dataset,
    spy: ResultSpy,
    before_put: Optional[Callable[[], None]] = None,
    before_get: Optional[Callable[[], None]] = None,
    **options: Any,
) -> Outcome:
    """put_many then get_many every object through the proxy; measure everything."""
    items = dataset.items
    out = Outcome(n=len(items))
    values = [(i.key, open(i.path, "rb").read()) for i in items]
    with S3(s3root=target.url(PREFIX), **options) as s3:
        if before_put:
            before_put()
        t0 = time.monotonic()
        try:
            s3.put_many(values)
        except S3Error as exc:
            out.put_error = f"{type(exc).__name__}: {exc}"
        out.put_seconds = time.monotonic() - t0
        del values
        _check_batch(out, spy, "put", items)
        _check_server(out, target, dataset)
        if before_get:
            before_get()
        t0 = time.monotonic()
        try:
            s3.get_many([i.key for i in items])
        except S3Error as exc:
            out.get_error = f"{type(exc).__name__}: {exc}"
        out.get_seconds = time.monotonic() - t0
        _check_batch(out, spy, "get", items)
        _check_downloads(out, spy, dataset)
    out.counts = target.proxy.counts()
    out.log = target.proxy.log()
    return out


def _check_batch(out: Outcome, spy: ResultSpy, op: str, items: List) -> None:
    batch = spy.last(op)
    per_idx = Counter(r.idx for r in batch.results)
    out.lines_per_request[op] = Counter(per_idx.get(i, 0) for i in range(len(items)))
    out.attempts[op] = Counter(r.attempts for r in batch.results)
    failed = {items[r.idx].key: r.error.kind.value for r in batch.results if r.error is not None}
    if op == "put":
        out.put_failed = failed
    else:
        out.get_failed = failed


def _check_server(out: Outcome, target: Target, dataset: Dataset) -> None:
    digests = server_digests(target, [f"{PREFIX}/{i.key}" for i in dataset.items])
    for item in dataset.items:
        got = digests[f"{PREFIX}/{item.key}"]
        if got is None:
            out.server_missing.append(item.key)
        elif got != item.sha256:
            out.server_corrupt.append(item.key)


def _check_downloads(out: Outcome, spy: ResultSpy, dataset: Dataset) -> None:
    batch = spy.last("get")
    for res in batch.results:
        item = dataset.items[res.idx]
        if not res.ok or res.local is None:
            continue
        digest = sha256_file(res.local)
        if digest != item.sha256:
            out.local_corrupt.append(item.key)
            if len(open(res.local, "rb").read()) != item.size:
                out.local_short.append(item.key)


def retried_after(log: List[Record]) -> Tuple[int, int]:
    """(faults injected, of which a later clean 2xx retry of the same request exists)."""
    hits = [r for r in log if r.injected]
    clean: Dict[Tuple[str, str, Optional[str]], float] = {}
    for r in log:
        if not r.injected and r.status is not None and 200 <= r.status < 300:
            key = (r.method, r.target, r.range)
            clean[key] = max(clean.get(key, 0.0), r.start)
    cured = sum(1 for r in hits if clean.get((r.method, r.target, r.range), -1.0) > r.start)
    return len(hits), cured


def requests_per_key(log: List[Record], method: str) -> Counter:
    """Requests of ``method`` per single-part object (multipart ``.big`` ones left out)."""
    return Counter(
        r.target.split("?")[0]
        for r in log
        if r.method == method and not r.target.split("?")[0].endswith(".big")
    )


def assert_intact(out: Outcome) -> None:
    """0 lost, 0 corrupt, one result line per request."""
    assert out.put_error is None and out.get_error is None, (out.put_error, out.get_error)
    assert out.lost == 0, (out.put_failed, out.get_failed, out.server_missing[:10])
    assert out.corrupt == 0, (out.server_corrupt[:10], out.local_corrupt[:10])
    for op in ("put", "get"):
        assert out.lines_per_request[op] == Counter({1: out.n}), (op, out.lines_per_request[op])


def injected(counts: Dict[str, int], prefix: str) -> str:
    """``prefix.request``/``.response`` counts as text."""
    return (
        f"{counts.get(prefix + '.request', 0)} on PUT bodies "
        f"(of {counts.get('eligible.request', 0)}), {counts.get(prefix + '.response', 0)} "
        f"on GET bodies (of {counts.get('eligible.response', 0)})"
    )


# ----------------------------------------------------------------------- rows


def test_row1_no_faults(seaweed_target: Target, dataset: Dataset, spy: ResultSpy) -> None:
    """Row 1: no faults: 0 lost, 0 corrupt, exactly one result line per request."""
    out = roundtrip(seaweed_target, dataset, spy)
    figure("row 1", out.summary() + f"; one result line per request ({N_OBJECTS} + big)")
    assert_intact(out)
    assert not any(r.injected for r in out.log)
    assert out.counts.get("upstream_error", 0) == 0


def test_row2_resets_mid_body(seaweed_target: Target, dataset: Dataset, spy: ResultSpy) -> None:
    """Row 2: 5% of message bodies cut by a TCP reset: 0 lost, 0 corrupt."""
    seaweed_target.proxy.set_mode("reset", rate=0.05, direction="both")
    out = roundtrip(seaweed_target, dataset, spy)
    hits, cured = retried_after(out.log)
    figure(
        "row 2",
        f"resets {injected(out.counts, 'reset')}; retried ok {cured}/{hits}; " + out.summary(),
    )
    assert_intact(out)
    assert out.counts.get("reset.response", 0) > 0 and out.counts.get("reset.request", 0) > 0
    assert cured == hits


def test_row3_truncated_bodies(seaweed_target: Target, dataset: Dataset, spy: ResultSpy) -> None:
    """Row 3: 5% of bodies truncated (Content-Length kept): 0 short files."""
    seaweed_target.proxy.set_mode("truncate", rate=0.05, direction="both")
    out = roundtrip(seaweed_target, dataset, spy)
    hits, cured = retried_after(out.log)
    figure(
        "row 3",
        f"truncations {injected(out.counts, 'truncate')}; retried ok "
        f"{cured}/{hits}; " + out.summary(),
    )
    assert out.local_short == []
    assert_intact(out)
    assert out.counts.get("truncate.response", 0) > 0
    assert cured == hits


def test_row4_byte_flips(seaweed_target: Target, dataset: Dataset, spy: ResultSpy) -> None:
    """Row 4: 1% of bodies get one byte flipped, on GET and on PUT: all detected."""
    seaweed_target.proxy.set_mode("flip", rate=0.01, direction="both")
    out = roundtrip(seaweed_target, dataset, spy)
    hits, cured = retried_after(out.log)
    figure(
        "row 4",
        f"flips {injected(out.counts, 'flip')}; detected and retried ok "
        f"{cured}/{hits}; " + out.summary(),
    )
    assert_intact(out)
    assert out.counts.get("flip.response", 0) > 0 and out.counts.get("flip.request", 0) > 0
    assert cured == hits


def test_row4_byte_flips_moto(moto_target: Target, dataset: Dataset, spy: ResultSpy) -> None:
    """Row 4 on moto, which verifies no upload checksum: our ETag check must catch PUT flips."""
    small = Dataset(dataset.root, [i for i in dataset.items if i.size < BIG_SIZE][:500])
    moto_target.proxy.set_mode("flip", rate=0.05, direction="both")
    out = roundtrip(moto_target, small, spy)
    hits, cured = retried_after(out.log)
    figure(
        "row 4 (moto)",
        f"flips {injected(out.counts, 'flip')}; detected and retried ok "
        f"{cured}/{hits}; " + out.summary(),
    )
    assert_intact(out)
    assert out.counts.get("flip.request", 0) > 0
    assert cured == hits


class Trigger(threading.Thread):
    """Turns the throttling window on once the proxy has seen ``after`` requests."""

    def __init__(self, proxy: FaultProxy, after: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.proxy, self.after, self.seconds = proxy, after, seconds
        self.started_at: Optional[float] = None

    def run(self) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proxy.counts().get("requests", 0) >= self.after:
                self.proxy.set_mode(
                    "error", rate=0.3, status=503, code="SlowDown", window=self.seconds
                )
                self.started_at = time.monotonic()
                return
            time.sleep(0.02)


def test_row5_throttled(seaweed_target: Target, dataset: Dataset, spy: ResultSpy) -> None:
    """Row 5: 30% 503 SlowDown for 20 s (in each phase): completes, 0 lost, attempts
    within the maximum, and concurrency backs off while throttled."""
    proxy = seaweed_target.proxy
    triggers: List[Trigger] = []

    def arm() -> None:
        proxy.set_mode("none")
        trigger = Trigger(proxy, proxy.counts().get("requests", 0) + 1000, 20.0)
        triggers.append(trigger)
        trigger.start()

    out = roundtrip(
        seaweed_target, dataset, spy, before_put=arm, before_get=arm, retries=MAX_ATTEMPTS
    )
    phases = []
    for name, trigger in zip(("put", "get"), triggers):
        assert trigger.started_at is not None, f"{name}: the window never opened"
        t = trigger.started_at
        before = proxy.mean_inflight(t - 2.0, t)
        during = proxy.mean_inflight(t + 2.0, t + 20.0)
        rate_before = _rate(out.log, t - 2.0, t)
        rate_during = _rate(out.log, t + 2.0, t + 20.0)
        phases.append((name, before, during, rate_before, rate_during))
    worst = {m: max(requests_per_key(out.log, m).values()) for m in ("PUT", "GET")}
    figure(
        "row 5",
        f"503s injected {out.counts.get('error.503', 0)} of "
        f"{out.counts.get('eligible.error', 0)} requests in the windows; "
        + "; ".join(
            f"{n}: in flight {b:.1f} -> {d:.1f}, requests/s {rb:.0f} -> {rd:.0f}"
            for n, b, d, rb, rd in phases
        )
        + f"; most requests for one key PUT {worst['PUT']} GET {worst['GET']}; "
        + out.summary(),
    )
    assert_intact(out)
    most = most_attempts(RetryPolicy(max_attempts=MAX_ATTEMPTS), throttled=True)
    for op in ("put", "get"):
        assert max(out.attempts[op].keys() - {None}) <= most
    assert max(worst.values()) <= most
    for name, before, during, _, _ in phases:
        assert during < before / 2, f"{name}: concurrency did not back off ({before} -> {during})"


def _rate(log: List[Record], t0: float, t1: float) -> float:
    return sum(1 for r in log if t0 <= r.start < t1) / max(t1 - t0, 1e-9)

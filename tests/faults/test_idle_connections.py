"""Writes after a pause on connections the server closed while they sat idle.

A server closes a keep-alive connection that stays idle longer than its
timeout (AWS after some seconds; here the fault proxy, ``idle_timeout``).
The engine keeps its connections between batches, so a batch after a pause
finds every one of them closed. A GET or HEAD sent on one was always sent
again at once (``s3op.http1``), but a PUT or a CopyObject went out on the
dead connection, failed, and cost an attempt and a backoff sleep in the
retry loop. The pool now drops a connection the server has closed before it
sends anything on it: every request of the batch after the pause is made
once (``Result.attempts`` == 1), with nothing retried.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, List, Sequence

import pytest

from s3op import BatchOptions, run_batch
from s3op.options import PoolOptions
from s3op.protocol import ExitCode, Request, Result
from s3op.writes import CopyRequest, PutRequest
from tests.faults.conftest import Target

pytestmark = pytest.mark.faults

COUNT = 40
IDLE = 0.5  # the proxy's keep-alive timeout, seconds
PAUSE = 3 * IDLE  # between batches: every pooled connection outlives the timeout
#: In-process threads: the engine's connections stay in this process between batches.
OPTIONS = BatchOptions(pool=PoolOptions(num_workers=0, threads=8))


def _run(op: str, requests: Sequence[Request]) -> List[Result]:
    results: List[Result] = []
    assert run_batch(op, requests, OPTIONS, results.append) == ExitCode.OK, results[:3]
    assert len(results) == len(requests)
    return results


def _puts(target: Target, files: Sequence[Path], prefix: str) -> List[PutRequest]:
    return [PutRequest(i, target.url(f"{prefix}{i:03d}"), str(f)) for i, f in enumerate(files)]


def _copies(target: Target) -> List[CopyRequest]:
    """Copies of ``src/`` whose sources are described (no HEAD: batched CopyObjects)."""
    client: Any = target.direct()
    out = []
    for i in range(COUNT):
        head = client.head_object(Bucket=target.bucket, Key=f"src/{i:03d}", ChecksumMode="ENABLED")
        out.append(
            CopyRequest(
                i,
                target.url(f"dst/{i:03d}"),
                target.url(f"src/{i:03d}"),
                source_size=head["ContentLength"],
                source_etag=head["ETag"],
                source_crc32=head.get("ChecksumCRC32"),
            )
        )
    return out


def test_writes_after_the_server_closed_idle_connections_spend_no_retry(
    seaweed_target: Target, tmp_path: Path
) -> None:
    target = seaweed_target
    target.proxy.idle_timeout = IDLE
    files = []
    for i in range(COUNT):
        files.append(tmp_path / f"f{i:03d}")
        files[-1].write_bytes(bytes([i]) * 1024)
    _run("put", _puts(target, files, "src/"))  # the engine's pool fills
    copies = _copies(target)
    time.sleep(PAUSE)
    closed = target.proxy.counts().get("idle_close", 0)
    copied = _run("copy", copies)
    time.sleep(PAUSE)
    put = _run("put", _puts(target, files, "again/"))
    assert closed > 0  # the pause did close the pooled connections
    assert target.proxy.counts().get("idle_close", 0) > closed
    for result in copied + put:
        assert result.ok and result.attempts == 1, result
    assert sorted(target.keys("dst/")) == [f"dst/{i:03d}" for i in range(COUNT)]

"""Delete and server-side copy of 2,000 objects under faults: done exactly as asked.

Each test seeds 2,000 small objects straight on SeaweedFS, then runs
``S3.delete_many`` / ``S3.copy_many`` (or ``s3op`` with forked workers)
through the fault proxy, and checks the server afterwards: every key asked
for is deleted and no other; every copy holds its source's bytes (ETags
equal; both are plain MD5s). The faults: connections closed after the
server applied a DeleteObjects or CopyObject (``drop``), answers cut
mid-body (``reset``), 503 SlowDown on a fifth of the requests, a SIGKILLed
worker, and bytes flipped in copies' answers, which must never be accepted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict

import pytest

from s3client import S3
from tests.faults.conftest import (
    MARK_VAR,
    REPO,
    Target,
    children,
    figure,
    marked,
    new_mark,
    run_s3op,
    s3op_argv,
    wait_for,
    write_manifest,
)
from tests.faults.proxy import server_side

pytestmark = pytest.mark.faults

COUNT = 2000
#: Each fault, as the proxy's mode and its parameters. Copies are 4,000 requests
#: (a HEAD batch, then one CopyObject each, many in flight): a low rate hits many. Deletes are 16
#: DeleteObjects of 125 keys: 30% of them are hit (``_deletes_only``), each try
#: drawing afresh, so none is likely to fail 10 times (0.3**10 = 6e-6).
FAULTS = {
    "drop": ("drop", {}),  # the server applied it; the client never heard
    "reset": ("reset", {"direction": "response"}),  # the answer cut mid-body
    "slowdown": ("error", {"status": 503}),  # 503 SlowDown
}
COPY_RATE = {"drop": 0.05, "reset": 0.05, "slowdown": 0.1}


def _seed(target: Target, count: int = COUNT) -> Dict[str, str]:
    """``count`` objects under ``src/`` (and a sibling ``srcx/keep``); key -> ETag."""
    client = target.direct()
    rng = random.Random(count)

    def put(i: int) -> tuple:
        key = f"src/{i:05d}" if i % 97 else f"src/odd key #{i} ü?"
        body = rng.randbytes(i % 2048)
        return key, client.put_object(Bucket=target.bucket, Key=key, Body=body)["ETag"]

    with ThreadPoolExecutor(16) as pool:
        etags = dict(pool.map(put, range(count)))
    client.put_object(Bucket=target.bucket, Key="srcx/keep", Body=b"sibling")
    return etags


def _etags(target: Target, prefix: str) -> Dict[str, str]:
    pages = target.direct().get_paginator("list_objects_v2")
    return {
        o["Key"]: o["ETag"]
        for page in pages.paginate(Bucket=target.bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    }


def _set(target: Target, fault: str, **params: object) -> None:
    mode, more = FAULTS[fault]
    target.proxy.set_mode(mode, **more, **params)


def _deletes_only(method: str, target: str, headers: object) -> bool:
    return method == "POST" and server_side(method, target, headers)  # type: ignore[arg-type]


def _injected(target: Target) -> int:
    counts = target.proxy.counts()
    return sum(v for k, v in counts.items() if k.startswith(("drop", "reset.", "error.")))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_copy_many_of_2000_under_faults(seaweed_target: Target, fault: str) -> None:
    target = seaweed_target
    etags = _seed(target)
    _set(target, fault, rate=COPY_RATE[fault])
    t0 = time.monotonic()
    with S3(s3root=target.url().rstrip("/")) as s3:
        urls = s3.copy_many([(key, "dst/" + key[4:]) for key in sorted(etags)])
    seconds = time.monotonic() - t0
    target.proxy.set_mode("none")
    copied = _etags(target, "dst/")
    figure(
        f"copy_many {fault}",
        f"{COUNT} copies in {seconds:.1f}s with {_injected(target)} faults injected; "
        f"{len(copied)} copies on the server",
    )
    assert _injected(target) > 0
    assert len(urls) == COUNT
    assert copied == {"dst/" + key[4:]: etag for key, etag in etags.items()}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_delete_many_of_2000_under_faults(seaweed_target: Target, fault: str) -> None:
    target = seaweed_target
    etags = _seed(target)
    doomed = sorted(etags)
    _set(target, fault, rate=0.3, match=_deletes_only)
    t0 = time.monotonic()
    with S3(s3root=target.url().rstrip("/")) as s3:
        deleted = s3.delete_many(doomed)
    seconds = time.monotonic() - t0
    target.proxy.set_mode("none")
    left = _etags(target, "src")
    figure(
        f"delete_many {fault}",
        f"{len(doomed)} deletes in {seconds:.1f}s with {_injected(target)} faults injected",
    )
    assert _injected(target) > 0
    assert deleted == [target.url(k) for k in doomed]
    assert sorted(left) == ["srcx/keep"]  # the sibling prefix is untouched


@pytest.mark.parametrize("op", ["copy", "delete"])
def test_a_sigkilled_worker_loses_nothing(seaweed_target: Target, tmp_path: Path, op: str) -> None:
    target = seaweed_target
    etags = _seed(target)
    keys = sorted(etags)
    if op == "copy":
        entries = [{"source": target.url(k), "url": target.url("dst/" + k[4:])} for k in keys]
    else:
        entries = [{"url": target.url(k)} for k in keys]
    manifest = write_manifest(tmp_path / "m.jsonl", entries)
    target.proxy.set_mode("latency", delay=0.2)
    mark = new_mark()
    out = tmp_path / "out.jsonl"
    per_job = ["--threads", "8"] if op == "copy" else ["--threads", "2"]
    with open(out, "w") as stdout:
        proc = subprocess.Popen(
            s3op_argv(op, "--inputs", manifest, "--num-workers", "2", *per_job),
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, **{MARK_VAR: mark}),
            cwd=str(REPO),
            start_new_session=True,
        )
    assert wait_for(lambda: len(children(proc.pid)) >= 2, 30), "workers did not start"
    time.sleep(0.5)
    os.kill(children(proc.pid)[0].pid, signal.SIGKILL)
    code = proc.wait(timeout=300)
    target.proxy.set_mode("none")
    results = [line for line in out.read_text().splitlines() if line.strip()]
    figure(f"{op} SIGKILL", f"{COUNT} {op}s, one worker killed: exit {code}, {len(results)} lines")
    assert code == 0
    assert len(results) == COUNT
    assert wait_for(lambda: not marked(mark), 5)
    if op == "copy":
        assert _etags(target, "dst/") == {"dst/" + k[4:]: e for k, e in etags.items()}
    else:
        assert list(_etags(target, "src")) == ["srcx/keep"]


def test_a_flipped_byte_in_a_copy_answer_is_never_accepted(seaweed_target: Target) -> None:
    target = seaweed_target
    etags = _seed(target, 300)
    target.proxy.set_mode("flip", rate=0.3, direction="response")
    keys = sorted(etags)
    entries = [{"source": target.url(k), "url": target.url("dst/" + k[4:])} for k in keys]
    run = run_s3op(
        "copy", "--inputs", write_manifest(Path(os.environ["S3CLIENT_TMPROOT"]) / "m", entries)
    )
    flips = target.proxy.counts().get("flip.response", 0)
    target.proxy.set_mode("none")
    retried = sum(1 for r in run.results if (r.attempts or 0) > 1)
    figure("copy flip", f"{len(keys)} copies, {flips} answers flipped, {retried} retried")
    assert run.code == 0, [line for line in run.lines if '"ok":false' in line][:3]
    assert flips > 0 and retried > 0
    by_url = {r.url: r for r in run.results}
    for key, etag in etags.items():
        assert by_url[target.url("dst/" + key[4:])].etag == etag  # the true ETag, never a flip
    assert _etags(target, "dst/") == {"dst/" + k[4:]: e for k, e in etags.items()}


def _copies_only(method: str, target: str, headers: object) -> bool:
    return method == "PUT" and server_side(method, target, headers)  # type: ignore[arg-type]


#: Damaged answers to batched copies: a flipped byte, and a 200 whose body is an <Error>.
DAMAGE = {
    "flip": ("flip", {"direction": "response"}),
    "error-in-200": ("error", {"status": 200, "code": "InternalError"}),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_answer_to_a_batched_copy_is_never_accepted(
    seaweed_target: Target, damage: str
) -> None:
    """Copies whose manifest lines carry their source's HEAD go out many at a time
    (``s3op.ops.multicopy``); a damaged answer among them is attempt 1 of that
    copy's retry loop, never its result."""
    target = seaweed_target
    etags = _seed(target, 300)
    client = target.direct()
    entries = []
    for key in sorted(etags):
        head = client.head_object(Bucket=target.bucket, Key=key)
        entries.append(
            {
                "source": target.url(key),
                "url": target.url("dst/" + key[4:]),
                "source_size": head["ContentLength"],
                "source_etag": head["ETag"],
            }
        )
    mode, params = DAMAGE[damage]
    target.proxy.set_mode(mode, rate=0.3, match=_copies_only, **params)
    manifest = write_manifest(Path(os.environ["S3CLIENT_TMPROOT"]) / "m", entries)
    run = run_s3op("copy", "--inputs", manifest)
    hits = sum(v for k, v in target.proxy.counts().items() if k.startswith(("flip", "error")))
    target.proxy.set_mode("none")
    retried = sum(1 for r in run.results if (r.attempts or 0) > 1)
    figure(
        f"batched copy {damage}",
        f"{len(entries)} copies, {hits} answers damaged, {retried} retried",
    )
    assert run.code == 0, [line for line in run.lines if '"ok":false' in line][:3]
    assert hits > 0 and retried > 0
    by_url = {r.url: r for r in run.results}
    for key, etag in etags.items():
        assert by_url[target.url("dst/" + key[4:])].etag == etag
    assert _etags(target, "dst/") == {"dst/" + k[4:]: e for k, e in etags.items()}

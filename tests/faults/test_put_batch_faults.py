"""A batched put of 2,000 small files under faults: every object stored, one line each.

Small PUTs go many a thread (``s3op.ops.multiput``). Each test writes 2,000
files of 0-8 KiB, runs ``s3op put`` with 2 threads through the fault proxy,
and checks: exit 0, exactly one ``ok`` line per request, every object on
the server with the file's bytes (its ETag is the file's MD5; SeaweedFS
also checks each body's CRC32), faults really injected,
and more PUTs in flight at once than there are threads (so the batches,
not one PUT a thread, met the faults). The faults: request bodies cut
mid-way by a reset, 503 SlowDown, and, with ``--no-overwrite``, PUTs the
server applied whose answer never came (the retry's 412 must be taken as
our own write).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from tests.faults.conftest import Target, figure, run_s3op, write_manifest

pytestmark = pytest.mark.faults

COUNT = 2000
THREADS = 2
#: fault -> (proxy mode, its parameters, extra s3op flags)
FAULTS: Dict[str, Tuple[str, Dict[str, object], List[str]]] = {
    "reset": ("reset", {"direction": "request", "rate": 0.05}, []),
    "slowdown": ("error", {"status": 503, "rate": 0.1}, []),
    "drop-no-overwrite": ("drop", {"rate": 0.05}, ["--no-overwrite"]),
}


def _files(where: Path) -> Dict[str, bytes]:
    rng = random.Random(COUNT)
    where.mkdir()
    data = {f"f{i:05d}": rng.randbytes(rng.randrange(0, 8 * 1024)) for i in range(COUNT)}
    for name, body in data.items():
        (where / name).write_bytes(body)
    return data


def _most_puts_at_once(target: Target) -> int:
    """The most PUTs the proxy had in flight at one moment."""
    edges = []
    for rec in target.proxy.log():
        if rec.method == "PUT":
            edges += [(rec.start, 1), (rec.end, -1)]
    level = most = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        level += step
        most = max(most, level)
    return most


@pytest.mark.timeout(900)
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_batched_put_of_2000_under_faults(
    seaweed_target: Target, tmp_path: Path, fault: str
) -> None:
    target = seaweed_target
    data = _files(tmp_path / "src")
    rows = [
        {"idx": i, "url": target.url(f"p/{name}"), "local": str(tmp_path / "src" / name)}
        for i, name in enumerate(sorted(data))
    ]
    manifest = write_manifest(tmp_path / "m.jsonl", rows)
    mode, params, flags = FAULTS[fault]
    target.proxy.set_mode(mode, **params)

    run = run_s3op("put", "--inputs", manifest, "--threads", str(THREADS), *flags, timeout=600)

    target.proxy.set_mode("none")
    counts = target.proxy.counts()
    injected = sum(v for k, v in counts.items() if k.startswith(("reset.", "error.", "drop")))
    most = _most_puts_at_once(target)
    figure(
        f"batched put {fault}",
        f"{COUNT} small PUTs on {THREADS} threads in {run.seconds:.1f}s, {injected} faults "
        f"injected, {counts.get('requests.PUT', 0)} PUTs sent, at most {most} in flight",
    )
    assert run.code == 0, run.stderr[-2000:]
    lines = run.by_idx()
    assert sorted(lines) == list(range(COUNT))
    assert all(len(got) == 1 and got[0].ok and not got[0].skipped for got in lines.values())
    assert injected > 0
    assert most > THREADS  # many PUTs in flight a thread: the batches met the faults
    pages = target.direct().get_paginator("list_objects_v2")
    stored = {
        o["Key"]: o["ETag"].strip('"')
        for page in pages.paginate(Bucket=target.bucket, Prefix="p/")
        for o in page.get("Contents", [])
    }
    assert stored == {f"p/{name}": hashlib.md5(body).hexdigest() for name, body in data.items()}

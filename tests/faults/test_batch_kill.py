"""A worker SIGKILLed while its threads have batches of GETs or HEADs out.

Each thread sends many small GETs or HEADs at once (``s3op.ops.multiget``)
and answers each request as its reply is in, so a worker killed part-way
through a batch has sent some of that batch's results and not the others.
The pool forgets a job as its result arrives and hands back only the rest
(``s3op.pool.Died``): every request must still end with exactly one result
line, the right bytes for a get, and no process or temp file left over.
The proxy holds each request 0.3 s so batches are out when the kill lands.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from tests.faults.conftest import (
    MARK_VAR,
    REPO,
    Target,
    children,
    figure,
    marked,
    new_mark,
    part_files,
    s3op_argv,
    sha256_file,
    wait_for,
    write_manifest,
)

pytestmark = pytest.mark.faults

COUNT = 300
SIZE = 2048


def _lines(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("op", ["get", "info"])
def test_a_worker_killed_mid_batch_answers_each_request_once(
    seaweed_target: Target, tmp_path: Path, op: str
) -> None:
    target = seaweed_target
    client = target.direct()
    rng = random.Random(17)
    digests: Dict[str, str] = {}
    for i in range(COUNT):
        body = rng.randbytes(SIZE)
        key = f"batchkill/{i:04d}"
        client.put_object(Bucket=target.bucket, Key=key, Body=body)
        digests[key] = hashlib.sha256(body).hexdigest()
    keys = sorted(digests)
    manifest = write_manifest(tmp_path / "m.jsonl", [{"url": target.url(k)} for k in keys])
    dest = tmp_path / "dest"
    extra = ["--destination", str(dest)] if op == "get" else []
    target.proxy.set_mode("latency", delay=0.3)
    mark = new_mark()
    out = tmp_path / "out.jsonl"
    with open(out, "w") as stdout:
        proc = subprocess.Popen(
            s3op_argv(op, "--inputs", manifest, "--num-workers", "2", "--threads", "2", *extra),
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, **{MARK_VAR: mark}),
            cwd=str(REPO),
            start_new_session=True,
        )
    try:
        assert wait_for(lambda: len(children(proc.pid)) >= 2, 30), "workers did not start"
        # some results out: batches are running, part-answered, on both workers
        assert wait_for(lambda: len(out.read_text().splitlines()) >= 20, 120)
        before = len(out.read_text().splitlines())
        os.kill(children(proc.pid)[0].pid, signal.SIGKILL)
        code = proc.wait(timeout=300)
    finally:
        target.proxy.set_mode("none")
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    lines = _lines(out)
    per_idx: Dict[int, int] = {}
    for line in lines:
        per_idx[line["idx"]] = per_idx.get(line["idx"], 0) + 1
    ok = [x for x in lines if x["ok"]]
    bad = [x for x in lines if not x["ok"]]
    figure(
        f"{op} batch kill",
        f"{COUNT} {op}s in batches, a worker killed after {before} lines: exit {code}, "
        f"{len(lines)} lines, {len(ok)} ok, {len(bad)} failed",
    )
    assert code in (0, 3)
    assert per_idx == {i: 1 for i in range(COUNT)}  # exactly once each
    assert all(x["error"]["kind"] == "worker_died" for x in bad)
    for x in ok:
        key = x["url"].split("/", 3)[3]
        assert x["size"] == SIZE
        if op == "get":
            assert sha256_file(x["local"]) == digests[key]
    assert wait_for(lambda: not marked(mark), 5), f"orphans: {marked(mark)}"
    if op == "get":
        assert part_files(dest) == []

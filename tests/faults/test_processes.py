"""Rows 10 and 13: workers killed mid-batch, and the parent told to stop.

Other test runs may share this machine, so every process a test starts
carries ``S3_FAULTS_MARK=<fresh value>`` in its environment (inherited by the
engine and its forked workers) and only marked processes are inspected.
The proxy holds each request a little (``latency``) so batches last long
enough to be interrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from tests.faults.conftest import (
    MARK_VAR,
    PYTHON,
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

MiB = 1024 * 1024


def _seed(target: Target, count: int, size: int, big: int = 1) -> Dict[str, str]:
    """``count`` objects of ``size`` bytes plus ``big`` 40 MiB ones; key -> sha256."""
    client = target.direct()
    rng = random.Random(count + size)
    digests = {}
    for i in range(count + big):
        key = f"obj/{i:04d}" if i < count else f"big/{i:04d}"
        body = rng.randbytes(size if i < count else 40 * MiB)
        client.put_object(Bucket=target.bucket, Key=key, Body=body)
        digests[key] = hashlib.sha256(body).hexdigest()
    return digests


def _start_get(
    target: Target, keys: List[str], tmp_path: Path, mark: str, *flags: str
) -> Tuple[subprocess.Popen, Path, Path]:
    """Start ``s3op get`` of ``keys`` in its own session; stdout goes to a file."""
    dest = tmp_path / "dest"
    manifest = write_manifest(tmp_path / "get.jsonl", [{"url": target.url(k)} for k in keys])
    out = tmp_path / "stdout.jsonl"
    env = dict(os.environ, **{MARK_VAR: mark})
    with open(out, "w") as stdout, open(tmp_path / "stderr.txt", "w") as stderr:
        proc = subprocess.Popen(
            s3op_argv("get", "--inputs", manifest, "--destination", str(dest), *flags),
            stdout=stdout,
            stderr=stderr,
            env=env,
            cwd=str(REPO),
            start_new_session=True,
        )
    return proc, dest, out


def _lines(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -------------------------------------------------------------------- row 10


def test_row10_sigkill_three_workers(seaweed_target: Target, tmp_path: Path) -> None:
    """Row 10: SIGKILL a random worker three times in one batch: the batch completes or
    fails clearly, survivors' results are kept, no orphans, no temp files."""
    target = seaweed_target
    digests = _seed(target, 200, 64 * 1024)
    keys = sorted(digests)
    # The batch must outlast the three kills (~3 s apart from the first): at most
    # 2 workers x a window of 32 GETs are in flight, so 200 objects held 1.5 s each
    # take at least 200 / 64 x 1.5 = 4.7 s (with 0.3 s, the batch sometimes ended first).
    target.proxy.set_mode("latency", delay=1.5)
    mark = new_mark()
    proc, dest, out = _start_get(
        target, keys, tmp_path, mark, "--num-workers", "2", "--threads", "4"
    )
    rng = random.Random(10)
    killed = []
    t0 = time.monotonic()
    for _ in range(3):
        assert wait_for(lambda: len(children(proc.pid)) >= 2, 30), "workers did not start"
        victim = rng.choice(children(proc.pid)).pid
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)
        time.sleep(1.5)
    code = proc.wait(timeout=300)
    seconds = time.monotonic() - t0
    gone = wait_for(lambda: not marked(mark), 5)
    lines = _lines(out)
    per_idx: Dict[int, int] = {}
    for line in lines:
        per_idx[line["idx"]] = per_idx.get(line["idx"], 0) + 1
    ok = [x for x in lines if x["ok"]]
    bad = [x for x in lines if not x["ok"]]
    wrong = [x["url"] for x in ok if sha256_file(x["local"]) != digests[x["url"].split("/", 3)[3]]]
    figure(
        "row 10",
        f"killed workers {len(killed)} (pids {killed}) during a {len(keys)}-object "
        f"get (incl. a 40 MiB ranged one): exit {code} after {seconds:.1f}s; {len(ok)} ok "
        f"(sha256 wrong {len(wrong)}), {len(bad)} failed "
        f"{sorted({x['error']['kind'] for x in bad})}; orphans "
        f"{len(marked(mark))}; temp files {len(part_files(dest))}",
    )
    assert code in (0, 3)
    assert per_idx == {i: 1 for i in range(len(keys))}
    assert wrong == []
    assert all(x["error"]["kind"] == "worker_died" for x in bad)
    assert gone, f"orphans: {marked(mark)}"
    assert part_files(dest) == []


# -------------------------------------------------------------------- row 13


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT-group"])
def test_row13_signal_to_s3op(seaweed_target: Target, tmp_path: Path, how: str) -> None:
    """Row 13 (s3op): SIGTERM to the engine, or Ctrl-C to its process group, mid-batch:
    exit 130, every worker gone within 5 s, no temp file left."""
    target = seaweed_target
    digests = _seed(target, 100, 256 * 1024)
    target.proxy.set_mode("latency", delay=0.5)
    mark = new_mark()
    proc, dest, out = _start_get(
        target, sorted(digests), tmp_path, mark, "--num-workers", "2", "--threads", "4"
    )
    assert wait_for(lambda: out.exists() and len(_lines(out)) >= 3, 60), "batch did not start"
    workers = len(children(proc.pid))
    t0 = time.monotonic()
    if how == "SIGTERM":
        os.kill(proc.pid, signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    code = proc.wait(timeout=30)
    exited = time.monotonic() - t0
    wait_for(lambda: not marked(mark), 10)
    gone = time.monotonic() - t0
    lines = _lines(out)
    wrong = [
        x
        for x in lines
        if x["ok"] and sha256_file(x["local"]) != digests[x["url"].split("/", 3)[3]]
    ]
    figure(
        f"row 13 (s3op, {how})",
        f"{workers} workers; exit {code} {exited:.2f}s after the "
        f"signal, all processes gone after {gone:.2f}s; {len(lines)} results written before, "
        f"{len(wrong)} of them wrong; temp files left {len(part_files(dest))}",
    )
    assert code == 130
    assert gone <= 5.0 and not marked(mark)
    assert part_files(dest) == []
    assert wrong == []


CLIENT = textwrap.dedent(
    """
    import sys
    from s3client import S3
    root, keys = sys.argv[1], sys.argv[2:]
    with S3(s3root=root) as s3:
        s3.get_many(keys)
    print("finished")
    """
)


@pytest.mark.parametrize(
    "how, engine",
    [
        ("SIGINT-group", "shared"),
        ("SIGINT-group", "persistent"),
        ("SIGINT-group", "subprocess"),
        ("SIGTERM", "shared"),
        ("SIGTERM", "persistent"),
        ("SIGTERM", "subprocess"),
    ],
)
def test_row13_signal_to_s3client(
    seaweed_target: Target, tmp_path: Path, how: str, engine: str
) -> None:
    """Row 13 (S3): Ctrl-C or SIGTERM to a program inside get_many: the engine and its
    workers are gone within 5 s and the client's temp dir is removed."""
    target = seaweed_target
    digests = _seed(target, 100, 256 * 1024)
    target.proxy.set_mode("latency", delay=0.5)
    mark = new_mark()
    tmproot = tmp_path / "tmproot"
    tmproot.mkdir()
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    env = dict(
        os.environ,
        **{
            MARK_VAR: mark,
            "S3CLIENT_ENGINE": engine,
            "S3CLIENT_TMPROOT": str(tmproot),
            "S3CLIENT_NUM_WORKERS": "2",
        },
    )
    proc = subprocess.Popen(
        [PYTHON, str(script), target.url(), *sorted(digests)],
        env=env,
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert wait_for(lambda: target.proxy.counts().get("requests", 0) >= 20, 60)
    t0 = time.monotonic()
    if how == "SIGTERM":
        os.kill(proc.pid, signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    exited = time.monotonic() - t0
    wait_for(lambda: not marked(mark), 10)
    gone = time.monotonic() - t0
    survivors = marked(mark)
    leftovers = sorted(p.name for p in tmproot.iterdir())
    for p in survivors:  # ours (marked): do not leave them running
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    figure(
        f"row 13 (S3, {engine}, {how})",
        f"program exit {proc.returncode} after "
        f"{exited:.2f}s; engine processes gone after {gone:.2f}s (left: {len(survivors)}); "
        f"temp dirs left {leftovers}",
    )
    assert "finished" not in stdout
    assert gone <= 5.0 and survivors == []
    assert leftovers == []

"""Kill a journaled batch half-way (SIGKILL to its whole process group), resume it.

20,000 small objects on SeaweedFS, through the fault proxy (mode ``none``: it
only logs each request, so the test can count what the resumed run sent).
For put, then get: the first run is killed once half of the result lines
are out; the second, with the same manifest and journal, must

- do every object at most once more (no key sent twice in the resume, none
  of the journaled ones at all), and lose at most one journal group;
- leave nothing corrupt (every object / file checked against its source);
- print one ok result line per request.

The time saved is reported as a figure: time to the kill plus the resume,
against a full run of the same batch.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Set, Tuple
from urllib.parse import unquote

import pytest

from s3op.checksum import crc32
from s3op.journal import GROUP_RECORDS
from tests.faults.conftest import PYTHON, REPO, Target, figure, server_digests

N = int(os.environ.get("S3_RESUME_OBJECTS", "20000"))
WORKERS = "2"  # forked workers: the kill must take the whole group


def _env(target: Target) -> Dict[str, str]:
    return {**os.environ, **target.env(), "PYTHONPATH": str(REPO)}


def _start(target: Target, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "s3op", *args, "--num-workers", WORKERS],
        env=_env(target),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, killed whole
    )


def _kill_half_way(target: Target, args: List[str]) -> Tuple[Set[int], float]:
    """Run, SIGKILL the process group once N/2 result lines are out: (idx seen ok, seconds)."""
    start = time.monotonic()
    proc = _start(target, *args)
    seen: Set[int] = set()
    assert proc.stdout is not None
    for line in proc.stdout:
        result = json.loads(line)
        assert result["ok"], line
        seen.add(result["idx"])
        if len(seen) >= N // 2:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    elapsed = time.monotonic() - start
    assert proc.returncode == -signal.SIGKILL
    assert _group_gone(proc.pid)
    return seen, elapsed


def _group_gone(pgid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _run(target: Target, args: List[str]) -> Tuple[List[dict], float]:
    start = time.monotonic()
    proc = _start(target, *args)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    return [json.loads(line) for line in out.splitlines()], time.monotonic() - start


def _journaled(journal: Path) -> Set[int]:
    lines = journal.read_bytes().split(b"\n")[1:-1]  # header; a torn last line is not a record
    return {json.loads(line)["idx"] for line in lines}


def _sent(target: Target, method: str) -> Counter[str]:
    """Keys the server answered a ``method`` request for with a 2xx, since the proxy's
    last reset."""
    prefix = f"/{target.bucket}/"
    return Counter(
        unquote(r.target[len(prefix) :])
        for r in target.proxy.log()
        if r.method == method
        and r.target.startswith(prefix)
        and "?" not in r.target
        and r.status is not None
        and 200 <= r.status < 300
    )


def _check_resume(
    target: Target, method: str, seen: Set[int], journaled: Set[int], lines: List[dict]
) -> int:
    """The resume did each object not journaled once, none journaled; its retries."""
    assert sorted(line["idx"] for line in lines) == list(range(N))
    assert all(line["ok"] for line in lines)
    sent = _sent(target, method)
    redone = {_IDX[k] for k in sent}
    assert not redone & journaled, "a journaled object was done again"
    assert redone == set(range(N)) - journaled
    assert len(seen - journaled) <= GROUP_RECORDS + 1, "more than one journal group lost"
    # An object sent twice is one request retried (an answer cut short, under load),
    # never done twice: its result line counts the attempts.
    attempts = {line["idx"]: line.get("attempts", 1) for line in lines}
    retried = {k: n for k, n in sent.items() if n > 1}
    assert all(attempts[_IDX[k]] >= n for k, n in retried.items()), retried
    return len(retried)


_IDX: Dict[str, int] = {}


@pytest.fixture
def files(tmp_path: Path) -> List[Tuple[str, Path, bytes]]:
    rng = random.Random(17)
    src = tmp_path / "src"
    src.mkdir()
    out = []
    for i in range(N):
        body = rng.randbytes(rng.randint(1, 4096))
        path = src / f"f{i:05d}"
        path.write_bytes(body)
        out.append((f"r/{i:05d}", path, body))
        _IDX[f"r/{i:05d}"] = i
    return out


@pytest.mark.timeout(1800)
def test_a_killed_put_then_get_resume_from_their_journals(
    seaweed_target: Target, files: List[Tuple[str, Path, bytes]], tmp_path: Path
) -> None:
    target = seaweed_target
    keys = [key for key, _, _ in files]
    put_rows = [{"url": target.url(k), "local": str(p)} for k, p, _ in files]
    put_manifest = tmp_path / "put.jsonl"
    put_manifest.write_text("".join(json.dumps(r) + "\n" for r in put_rows))
    journal = tmp_path / "put.journal"
    args = ["put", "--inputs", str(put_manifest), "--journal", str(journal)]

    seen, killed_after = _kill_half_way(target, args)
    journaled = _journaled(journal)
    target.proxy.reset_counts()
    lines, resumed_in = _run(target, args)
    retried = _check_resume(target, "PUT", seen, journaled, lines)
    digests = server_digests(target, keys)
    assert all(digests[k] == hashlib.sha256(body).hexdigest() for k, _, body in files)
    full_rows = [{"url": target.url("full/" + k), "local": str(p)} for k, p, _ in files]
    (tmp_path / "full.jsonl").write_text("".join(json.dumps(r) + "\n" for r in full_rows))
    _, full = _run(target, ["put", "--inputs", str(tmp_path / "full.jsonl")])
    _report("put", killed_after, resumed_in, full, len(journaled), retried)

    dest = tmp_path / "dest"
    get_rows = [{"url": target.url(k), "local": str(dest / k)} for k in keys]
    get_manifest = tmp_path / "get.jsonl"
    get_manifest.write_text("".join(json.dumps(r) + "\n" for r in get_rows))
    journal = tmp_path / "get.journal"
    args = ["get", "--inputs", str(get_manifest), "--journal", str(journal), "--no-info"]
    seen, killed_after = _kill_half_way(target, args)
    journaled = _journaled(journal)
    target.proxy.reset_counts()
    lines, resumed_in = _run(target, args)
    retried = _check_resume(target, "GET", seen, journaled, lines)
    for key, _, body in files:
        assert crc32((dest / key).read_bytes()) == crc32(body), key
    # the killed run's temp files were swept by the resume: only the targets are there
    assert sorted(p.name for p in (dest / "r").iterdir()) == sorted(k[2:] for k in keys)
    full_dest = tmp_path / "full"
    full_rows = [{"url": target.url(k), "local": str(full_dest / k)} for k in keys]
    (tmp_path / "fullget.jsonl").write_text("".join(json.dumps(r) + "\n" for r in full_rows))
    _, full = _run(target, ["get", "--inputs", str(tmp_path / "fullget.jsonl"), "--no-info"])
    _report("get", killed_after, resumed_in, full, len(journaled), retried)


def _report(
    op: str, killed_after: float, resumed_in: float, full: float, kept: int, retried: int
) -> None:
    saved = full - resumed_in
    figure(
        f"resume {op} {N}",
        f"killed after {killed_after:.2f} s ({kept} journaled), resumed in {resumed_in:.2f} s "
        f"(total {killed_after + resumed_in:.2f} s) vs a full run {full:.2f} s: "
        f"the resume saved {saved:.2f} s ({saved / full:.0%} of a full run); "
        f"{retried} requests retried in the resume",
    )

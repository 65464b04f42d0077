"""Memory, not time: listing with ``iter_list_recursive`` stays flat as the
listing grows, against SeaweedFS (issue 18).

Keys are created fast with ``s3op put`` of one empty file. Each listing runs
in a fresh interpreter with a private engine (its child, still up when the
listing ends), which reports
its own peak RSS and its children's (``VmHWM``). The list form runs the
same way as the control: it must grow, or the test could not tell.
(The bench gives the figures at 20,000 and 200,000 keys:
``python -m scripts.bench.streaming``.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Tuple

import pytest

from tests.backends import Backend
from tests.functional.test_cli import REPO

SMALL, LARGE = 1_000, 20_000

CHILD = """
import os, sys
from s3client import S3

def peak_kib(pid):  # VmHWM: the peak RSS of the program now running (ru_maxrss would
    with open(f"/proc/{pid}/status") as status:  # keep the forked test runner's)
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

form, url, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
with S3() as s3:
    if form == "iter":
        n = sum(1 for _ in s3.iter_list_recursive([url]))
    else:
        n = len(s3.list_recursive([url]))
    tasks = os.listdir("/proc/self/task")
    engines = [c for t in tasks for c in open(f"/proc/self/task/{t}/children").read().split()]
    assert n == want and engines, (n, engines)
    print(peak_kib("self"), sum(peak_kib(pid) for pid in engines))
"""


def put_empty(bk: Backend, tmp_path: Path, prefix: str, count: int) -> str:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    manifest = tmp_path / f"{prefix}.jsonl"
    with manifest.open("w") as out:
        for i in range(count):
            out.write(json.dumps({"url": bk.root(f"{prefix}/{i:06d}"), "local": str(empty)}))
            out.write("\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "s3op", "put", "--inputs", str(manifest)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return bk.root(prefix + "/")


def peak_kib(form: str, url: str, count: int) -> Tuple[int, int]:
    """(peak RSS of the caller, of its engine) in KiB."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "S3CLIENT_ENGINE": "private"}
    cmd = [sys.executable, "-c", CHILD, form, url, str(count)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    caller, engine = proc.stdout.split()
    return int(caller), int(engine)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_listing_memory_is_flat_with_the_iterator_form(s3backend: Backend, tmp_path: Path) -> None:
    small = put_empty(s3backend, tmp_path, "small", SMALL)
    large = put_empty(s3backend, tmp_path, "large", LARGE)

    iter_small, iter_large = peak_kib("iter", small, SMALL), peak_kib("iter", large, LARGE)
    list_large = peak_kib("list", large, LARGE)

    # 20x the keys: the iterator's caller and engine stay within 1.25x ...
    assert iter_large[0] < 1.25 * iter_small[0], (iter_small, iter_large)
    assert iter_large[1] < 1.25 * iter_small[1], (iter_small, iter_large)
    # ... where the list form's caller, holding every object, grows well past that
    assert list_large[0] > 1.25 * iter_large[0], (list_large, iter_large)

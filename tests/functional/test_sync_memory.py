"""The sync planner's memory does not grow with the number of keys.

Each size runs in a fresh process (``sync_memory_probe.py``): a real
directory tree walked in byte order, merged with a listing read page by
page, every action planned and dropped. Peak RSS (``VmHWM``) with
200,000 keys must stay within a few MiB of the peak with 10,000: holding
the keys would cost tens of MiB (a key's Entry alone is ~200 bytes).
A memory check, not a timing one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Growth allowed from 10,000 to 200,000 keys: 190,000 held Entries would be ~40 MiB.
MAX_GROWTH_KIB = 6 * 1024


def probe(root: Path, count: int) -> Dict[str, Any]:
    root.mkdir()
    out = subprocess.run(
        [sys.executable, str(REPO / "tests" / "functional" / "sync_memory_probe.py"), str(root),
         str(count)],
        cwd=str(REPO), env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


@pytest.fixture
def tree_dir(tmp_path: Path) -> Iterator[Path]:
    """Where the trees go: memory-backed /dev/shm when there is one (200,000 files
    are made in seconds there, minutes on a busy disk), else ``tmp_path``."""
    shm = "/dev/shm"
    if not (os.path.isdir(shm) and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="s3op-sync-rss-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_peak_rss_of_planning_is_flat_from_10k_to_200k_keys(tree_dir: Path) -> None:
    small = probe(tree_dir / "small", 10_000)
    large = probe(tree_dir / "large", 200_000)
    # every key was planned: half the listing matches the tree (skip, by size), the
    # other half is only in the listing (delete); the tree's odd files are put
    assert large["kinds"] == {"skip": 100_000, "put": 100_000, "delete": 100_000}
    assert small["kinds"] == {"skip": 5_000, "put": 5_000, "delete": 5_000}
    growth = large["peak_kib"] - small["peak_kib"]
    assert growth < MAX_GROWTH_KIB, (small, large)

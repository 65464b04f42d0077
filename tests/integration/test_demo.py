"""``make demo``'s job (scripts/demo.py) runs end to end on SeaweedFS and cleans up after itself."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.backends import Backend
from tests.conftest import REPO


def test_the_demo_passes_every_check_and_leaves_its_bucket_empty(s3backend: Backend) -> None:
    env = {**os.environ, "S3CLIENT_DEMO_BUCKET": s3backend.bucket}
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    steps = [line.split()[1] for line in run.stdout.splitlines() if line.startswith("== ")]
    assert steps == [
        "put_many",
        "get_many",
        "range",
        "info_many",
        "list_paths",
        "list_recursive",
        "copy_many",
        "delete_many",
        "sync",
        "delete_recursive",
    ]
    assert run.stdout.rstrip().endswith("all checks passed")
    listed = s3backend.client().list_objects_v2(Bucket=s3backend.bucket)
    assert listed.get("KeyCount", 0) == 0

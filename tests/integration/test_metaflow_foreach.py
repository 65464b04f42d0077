"""The Metaflow foreach recipe (docs/cluster.md, "Other engines") in a real local flow.

``flows/shard_foreach_flow.py`` runs with Metaflow's local datastore and
metadata against SeaweedFS: its start step cuts a get manifest into shards
(``s3op.shards.plan_shards``), a foreach task runs each shard through
``s3op.shards.run_shard`` and the join puts the lines together. A child
process then reads the run back through metaflow's client API. Checked:
one foreach task a shard; every request's line exactly once, with the
manifest's own idx (a blank line counts, as on one machine); the files
downloaded hold the objects' bytes; a missing key is a ``not_found`` line
and makes the run's exit code ``s3op``'s for it (1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.backends import Backend, delete_bucket, unique_bucket
from tests.integration.test_metaflow_flow import _flow_env, _isolate, _tail
from tests.interop_helpers import child_env, run_python

FLOW = Path(__file__).resolve().parent / "flows" / "shard_foreach_flow.py"
OBJECTS = 50
SHARD_SIZE = 16
MISSING = "fe/missing"
BLANK_AFTER = 10  # a blank line after this many requests: later idx are one higher

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_READ_BACK = r"""
import json
import sys

from metaflow import Run, namespace

namespace(None)
run = Run(sys.argv[1])
data = run.data
print(json.dumps({
    "successful": run.successful,
    "lines": data.lines,
    "exit_code": data.exit_code,
    "requests": data.requests,
    "shard_indexes": data.shard_indexes,
    "tasks": len(list(run["shard"])),
}))
"""


def _manifest(path: Path, urls: List[str]) -> Dict[int, str]:
    """Write ``urls`` one a line with one blank line in; idx (line number) -> url."""
    lines = [json.dumps({"url": url}) for url in urls]
    lines.insert(BLANK_AFTER, "")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {n: json.loads(line)["url"] for n, line in enumerate(lines) if line}


@pytest.mark.timeout(300)
def test_a_foreach_over_shards_gets_every_object_once(seaweed_server: Any, tmp_path: Path) -> None:
    backend = Backend("seaweedfs", seaweed_server.endpoint_url, unique_bucket("mffe"))
    s3 = backend.client()
    s3.create_bucket(Bucket=backend.bucket)
    try:
        data = {f"fe/k{i:03d}": os.urandom(200 + 37 * i) for i in range(OBJECTS)}
        for key, body in data.items():
            s3.put_object(Bucket=backend.bucket, Key=key, Body=body)
        urls = [backend.root(key) for key in data]
        urls.insert(25, backend.root(MISSING))
        by_idx = _manifest(tmp_path / "get.jsonl", urls)
        with pytest.MonkeyPatch.context() as mp:
            _isolate(mp)
            env = _flow_env(backend, tmp_path, backend.root("mf-root"))
            # Each task resolves the endpoint and keys from its own environment, as a
            # Dask worker does (s3op reads AWS_*, not metaflow's configuration).
            env["AWS_ENDPOINT_URL_S3"] = backend.endpoint_url
            run_id = _run(env, tmp_path)
            seen = _read_back(env, f"ShardForeachFlow/{run_id}")
    finally:
        delete_bucket(s3, backend.bucket)
    shards = -(-(OBJECTS + 1) // SHARD_SIZE)
    assert seen["successful"] is True
    assert seen["requests"] == OBJECTS + 1
    assert seen["tasks"] == shards and seen["shard_indexes"] == list(range(shards))
    lines = [json.loads(line) for line in seen["lines"].splitlines()]
    failed = [line for line in lines if not line["ok"]]
    assert seen["exit_code"] == 1, failed  # one not_found, as `s3op get` exits for it
    assert [line["idx"] for line in lines] == sorted(by_idx)  # each once, in idx order
    for line in lines:
        assert line["url"] == by_idx[line["idx"]]
        key = line["url"].split("/", 3)[3]
        if key == MISSING:
            assert not line["ok"] and line["error"]["kind"] == "not_found"
            continue
        assert line["ok"] and line["size"] == len(data[key]), line
        local = Path(line["local"])
        assert local.resolve() == (tmp_path / "dl" / key).resolve()
        assert local.read_bytes() == data[key]
    assert not [p for p in (tmp_path / "dl").rglob("*") if p.is_file() and ".tmp" in p.name]


def _run(env: Dict[str, str], tmp: Path) -> str:
    """``python shard_foreach_flow.py run ...``; the run id."""
    run_id_file = tmp / "run-id"
    cmd = [sys.executable, str(FLOW), "--no-pylint", "run", "--run-id-file", str(run_id_file)]
    cmd += ["--manifest", str(tmp / "get.jsonl"), "--destination", str(tmp / "dl")]
    cmd += ["--shard-size", str(SHARD_SIZE), "--max-workers", "2"]
    done = subprocess.run(
        cmd, env=child_env(env), capture_output=True, text=True, timeout=240, cwd=str(tmp)
    )
    assert done.returncode == 0, (
        f"flow exited {done.returncode}\n--- stdout\n{_tail(done.stdout)}"
        f"\n--- stderr\n{_tail(done.stderr)}"
    )
    return run_id_file.read_text().strip()


def _read_back(env: Dict[str, str], pathspec: str) -> Dict[str, Any]:
    done = run_python(_READ_BACK, [pathspec], env=env, timeout=120)
    assert done.returncode == 0, f"read-back of {pathspec} failed:\n{_tail(done.stderr)}"
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result

"""A real Metaflow flow (``flows/s3client_flow.py``) using ``s3client.S3(run=self)``.

The flow runs once per module with ``python s3client_flow.py run`` under Metaflow's
local datastore and metadata, against SeaweedFS: put, get, put_many, list_paths and
list_recursive in a linear step, a foreach of 3 and its join, each step checking its
own results. Inside the join, and again after the run in a child process that finds
the run through metaflow's client API (``Run(...)``), ``s3client.S3`` and
``metaflow.S3`` each fetch and list the run; the tests compare what they saw (key,
url, size, text), including objects crossing both ways: the flow's (s3client) read by
metaflow, and one key written by each client after the run read by the other.

Metaflow reads its configuration at import, so everything that imports metaflow runs
in a child process with its own environment (:func:`_flow_env`). One run serves every
test here (~20 s), so the flow gets a bucket of its own (module scope) instead of the
per-test ``s3backend``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from tests.backends import Backend, delete_bucket, unique_bucket
from tests.conftest import AWS_VARS
from tests.interop_helpers import child_env, metaflow_env, run_python

#: False: s3client is also given ``S3CLIENT_S3ROOT`` and ``AWS_ENDPOINT_URL(_S3)``.
#: True: only metaflow's own variables (``METAFLOW_DATATOOLS_S3ROOT``,
#: ``METAFLOW_S3_ENDPOINT_URL``) say where S3 is; credentials stay ``AWS_*``.
RELY_ON_METAFLOW_CONFIG_ONLY = True

FLOWS = Path(__file__).resolve().parent / "flows"
FLOW = FLOWS / "s3client_flow.py"
FLOW_NAME = "S3ClientFlow"
FLOW_TIMEOUT = 300.0
READ_TIMEOUT = 180.0
#: Keys the read-back writes under the run after it ended, one by each client.
EXTRA = {
    "from-metaflow/extra.txt": "written by metaflow.S3 after the run",
    "from-s3client/extra.txt": "written by s3client.S3 after the run",
}
CLIENTS = ("s3client", "metaflow")

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass(frozen=True)
class FlowRun:
    """One finished run of the flow and what the read-back saw of it."""

    backend: Backend  # the server and the bucket of this run
    prefix: str  # path of METAFLOW_DATATOOLS_S3ROOT in the bucket
    run_id: str
    seen: Dict[str, Any]  # the read-back's JSON (see _READ_BACK)

    @property
    def run_root(self) -> str:
        """``s3://bucket/prefix/S3ClientFlow/<run id>``."""
        return f"{self.backend.root(self.prefix)}/{FLOW_NAME}/{self.run_id}"

    @property
    def expected(self) -> Dict[str, str]:
        """key -> text of every key the flow wrote (its ``expected`` artifact)."""
        return dict(self.seen["expected"])


def _isolate(mp: pytest.MonkeyPatch) -> None:
    """No AWS profile, endpoint or credentials, no S3CLIENT/METAFLOW settings from outside."""
    stray = [n for n in os.environ if n.startswith("METAFLOW_")]
    for name in (*AWS_VARS, *stray, "S3CLIENT_S3ROOT"):
        mp.delenv(name, raising=False)
    mp.setenv("AWS_CONFIG_FILE", os.devnull)
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    mp.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _flow_env(backend: Backend, tmp: Path, s3root: str) -> Dict[str, str]:
    """Environment of the flow and the read-back: local metaflow, S3 on ``backend``."""
    home, metaflow_home = tmp / "home", tmp / "metaflow-home"
    home.mkdir()
    metaflow_home.mkdir()
    env = metaflow_env(backend, home)
    env.update(
        METAFLOW_HOME=str(metaflow_home),
        METAFLOW_DATASTORE_SYSROOT_LOCAL=str(tmp / "datastore"),
        METAFLOW_DATATOOLS_S3ROOT=s3root,
    )
    env.pop("AWS_ENDPOINT_URL_S3", None)  # backend.env() has it
    if not RELY_ON_METAFLOW_CONFIG_ONLY:
        env.update(
            S3CLIENT_S3ROOT=s3root,
            AWS_ENDPOINT_URL=backend.endpoint_url,
            AWS_ENDPOINT_URL_S3=backend.endpoint_url,
        )
    return env


def _tail(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


def _run_flow(env: Dict[str, str], tmp: Path) -> str:
    """``python s3client_flow.py run``; the run id, or a failure showing the output."""
    run_id_file = tmp / "run-id"
    cmd = [sys.executable, str(FLOW), "--no-pylint", "run", "--run-id-file", str(run_id_file)]
    try:
        done = subprocess.run(
            cmd,
            env=child_env(env),
            capture_output=True,
            text=True,
            timeout=FLOW_TIMEOUT,
            cwd=str(tmp),
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        pytest.fail(f"the flow ran over {FLOW_TIMEOUT:.0f} s:\n{_tail(out)}")
    assert done.returncode == 0, (
        f"`{FLOW.name} run` exited {done.returncode}\n--- stdout\n{_tail(done.stdout)}"
        f"\n--- stderr\n{_tail(done.stderr)}"
    )
    assert run_id_file.is_file(), f"no run id file; stderr:\n{_tail(done.stderr)}"
    return run_id_file.read_text().strip()


# In a child with the flow's environment: finds the run through metaflow's client API,
# writes one key with each client, lets both clients fetch and list the run, and prints
# one JSON line. seen_by()/described() are the flow module's (importing it runs nothing).
_READ_BACK = r"""
import json
import sys

from metaflow import S3 as MetaflowS3, Run, namespace

import s3client

pathspec, flows, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, flows)
from s3client_flow import described, seen_by

namespace(None)
run = Run(pathspec)
data = run.data
out = {
    "successful": run.successful,
    "expected": data.expected,
    "inflow": {"s3client": data.inflow_s3client, "metaflow": data.inflow_metaflow},
}
keys = sorted([*data.expected, *extra])
with s3client.S3(run=run) as ours, MetaflowS3(run=run) as theirs:
    out["put_url"] = {
        "metaflow": theirs.put("from-metaflow/extra.txt", extra["from-metaflow/extra.txt"]),
        "s3client": ours.put("from-s3client/extra.txt", extra["from-s3client/extra.txt"]),
    }
    out["after"] = {"s3client": seen_by(ours, keys), "metaflow": seen_by(theirs, keys)}
print(json.dumps(out))
"""


def _read_back(env: Dict[str, str], pathspec: str) -> Dict[str, Any]:
    args = [pathspec, str(FLOWS), json.dumps(EXTRA)]
    done = run_python(_READ_BACK, args, env=env, timeout=READ_TIMEOUT)
    assert done.returncode == 0, f"read-back of {pathspec} failed:\n{_tail(done.stderr)}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def flow_run(seaweed_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowRun]:
    """The flow, run once on a bucket of its own, and the read-back of the run."""
    backend = Backend("seaweedfs", seaweed_server.endpoint_url, unique_bucket("mf"))
    client = backend.client()
    client.create_bucket(Bucket=backend.bucket)
    tmp = tmp_path_factory.mktemp("metaflow-flow")
    prefix = f"mf-{uuid.uuid4().hex[:10]}"
    try:
        with pytest.MonkeyPatch.context() as mp:
            _isolate(mp)
            env = _flow_env(backend, tmp, backend.root(prefix))
            run_id = _run_flow(env, tmp)
            seen = _read_back(env, f"{FLOW_NAME}/{run_id}")
        yield FlowRun(backend, prefix, run_id, seen)
    finally:
        delete_bucket(client, backend.bucket)


def _texts(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {row["key"]: row.get("text") for row in rows}


def _stored_keys(backend: Backend, prefix: str) -> List[str]:
    """Every key under ``prefix`` in the bucket, straight from boto3."""
    paginator = backend.client().get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=backend.bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_the_run_succeeded_and_wrote_under_flow_and_run_id(flow_run: FlowRun) -> None:
    assert flow_run.seen["successful"] is True
    expected = flow_run.expected
    assert len(expected) == 4 + 5 * 3, sorted(expected)
    run_prefix = f"{flow_run.prefix}/{FLOW_NAME}/{flow_run.run_id}/"
    want = sorted(run_prefix + key for key in [*expected, *EXTRA])
    assert _stored_keys(flow_run.backend, flow_run.prefix + "/") == want
    assert flow_run.seen["put_url"] == {
        "metaflow": f"{flow_run.run_root}/from-metaflow/extra.txt",
        "s3client": f"{flow_run.run_root}/from-s3client/extra.txt",
    }


@pytest.mark.parametrize("when", ["inflow", "after"])
@pytest.mark.parametrize("client", CLIENTS)
def test_each_client_reads_every_object_of_the_run(
    flow_run: FlowRun, when: str, client: str
) -> None:
    """Objects written by s3client in the flow (and by both clients after it)."""
    rows = flow_run.seen[when][client]["get_many"]
    want = dict(flow_run.expected, **(EXTRA if when == "after" else {}))
    assert _texts(rows) == want
    assert [r["url"] for r in rows] == sorted(f"{flow_run.run_root}/{k}" for k in want)
    assert [r["size"] for r in rows] == [len(want[r["key"]].encode()) for r in rows]


PARTS = ["get_many", "list_paths", "list_paths_shard", "list_recursive", "list_recursive_shard"]


@pytest.mark.parametrize("when", ["inflow", "after"])
@pytest.mark.parametrize("part", PARTS)
def test_s3client_sees_the_run_as_metaflow_does(flow_run: FlowRun, when: str, part: str) -> None:
    """``S3(run=self)`` in the join and ``S3(run=Run(...))`` after: same key, url, size, text.

    ``*_shard`` list ``["shard-0"]``: metaflow keys those objects relative to the
    listed prefix (``data-0.txt``, not ``shard-0/data-0.txt``, whatever its
    docstring shows), and so must s3client.
    """
    ours, theirs = (flow_run.seen[when][c][part] for c in CLIENTS)
    assert ours == theirs, f"{when} {part}: s3client {ours}\nmetaflow {theirs}"

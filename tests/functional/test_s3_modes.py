"""s3client against moto, for what one backend is enough to show.

- keys moto keeps verbatim but SeaweedFS folds (``\\``, ``a//b``, one 1024-byte
  segment) and dot segments (``a/../b``), which SeaweedFS refuses;
- access denied (moto's IAM enforcement, switched on through ``/moto-api/reset-auth``)
  and ``role=`` (moto's STS records every AssumeRole);
- a full local disk: a 2 MiB tmpfs, and a file-size limit (``RLIMIT_FSIZE``);
- the temp dir and the engine processes after Ctrl-C and at interpreter exit
  (child interpreters, checked from ``/proc``);
- ``S3(run=self)`` inside a real metaflow flow, and ``run=`` a metaflow ``Run``.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from s3client import (
    S3,
    S3AccessDenied,
    S3Error,
    S3InsufficientDiskSpace,
    S3TransientError,
    S3URLError,
)
from tests.backends import Backend
from tests.interop_helpers import (
    REPO,
    MountNotPermitted,
    Proc,
    child_env,
    descendants,
    files_under,
    metaflow_env,
    procs_mentioning,
    run_python,
    small_tmpfs,
    still_running,
)

MiB = 1 << 20


def _all_keys(backend: Backend, bucket: str = "") -> List[str]:
    resp = backend.client().list_objects_v2(Bucket=bucket or backend.bucket)
    return sorted(o["Key"] for o in resp.get("Contents", []))


def _stored(backend: Backend, key: str) -> bytes:
    return backend.client().get_object(Bucket=backend.bucket, Key=key)["Body"].read()


# ---------------------------------------------------------------- odd keys


def test_keys_seaweedfs_would_fold_are_kept_verbatim(s3backend: Backend) -> None:
    keys = ["back\\slash\\", "double//slash", "x" * 1024, "é" * 512]
    with S3(s3root=s3backend.root()) as s3:
        # A key ending in "/" names a directory: refused before anything is sent.
        with pytest.raises(S3URLError, match="ending in /"):
            s3.put_many([(k, k.encode()) for k in keys + ["dir/trailing/"]])
        assert _all_keys(s3backend) == []
        s3.put_many([(k, k.encode()) for k in keys])
        assert _all_keys(s3backend) == sorted(keys)
        assert [o.blob for o in s3.get_many(keys)] == [k.encode() for k in keys]
        assert {o.key for o in s3.list_recursive()} == set(keys)


DOT_KEYS = ["a/../b", "./dot", "x/./y", "../up", "a/b/..", "..", "."]


def test_dot_segment_keys_are_stored_verbatim(s3backend: Backend, tmp_path: Path) -> None:
    # Regression: the fast path once let urllib3 drop '.'/'..' segments, so
    # put('a/../b') wrote key 'b' and put('../up') became a bucket-level PUT.
    with S3(s3root=s3backend.root(), tmproot=str(tmp_path)) as s3:
        s3.put_many([(k, k.encode()) for k in DOT_KEYS])
        assert _all_keys(s3backend) == sorted(DOT_KEYS)
        got = s3.get_many(DOT_KEYS) + s3.get_recursive([""])
        assert [o.blob for o in got] == [o.key.encode() for o in got]
        assert sorted(o.key for o in got) == sorted(DOT_KEYS * 2)
        # Downloads stay in the client's temp dir whatever the key says.
        (tmpdir,) = tmp_path.iterdir()
        assert all(Path(o.path).resolve().is_relative_to(tmpdir.resolve()) for o in got)
        assert [o.size for o in s3.info_many(DOT_KEYS)] == [len(k) for k in DOT_KEYS]
        assert s3.get("a/../b").blob == b"a/../b"
        s3.put("x/./y", b"replaced")
        assert _stored(s3backend, "x/./y") == b"replaced"


def test_a_key_never_reaches_another_bucket(s3backend: Backend) -> None:
    other = f"{s3backend.bucket}-other"
    s3backend.client().create_bucket(Bucket=other)
    sneaky = "../../" + other + "/x"
    with S3(s3root=s3backend.root("data")) as s3:
        assert s3.put(sneaky, b"stays home") == s3backend.root("data/" + sneaky)
        assert s3.get(sneaky).blob == b"stays home"
    assert _all_keys(s3backend, other) == []
    assert _all_keys(s3backend) == ["data/" + sneaky]


# ----------------------------------------------------------- access denied


def _post(endpoint: str, path: str, data: bytes) -> None:
    # Not form-encoded: moto reads the raw body.
    headers = {"Content-Type": "text/plain"}
    req = urllib.request.Request(endpoint + path, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


@pytest.fixture
def moto_auth(s3backend: Backend) -> Iterator[None]:
    """moto enforcing IAM policies and signatures until the test ends."""
    _post(s3backend.endpoint_url, "/moto-api/reset-auth", b"0")
    try:
        yield
    finally:
        _post(s3backend.endpoint_url, "/moto-api/reset-auth", b"inf")


def _reader_keys(backend: Backend) -> Dict[str, str]:
    """An IAM user allowed to read (not write) the test bucket; its key pair."""
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=backend.endpoint_url,
        aws_access_key_id=backend.access_key,
        aws_secret_access_key=backend.secret_key,
        region_name="us-east-1",
    )
    iam.create_user(UserName="reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [
                    f"arn:aws:s3:::{backend.bucket}",
                    f"arn:aws:s3:::{backend.bucket}/*",
                ],
            }
        ],
    }
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


def test_access_denied_names_the_url(
    s3backend: Backend, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    root = s3backend.root("guarded").rstrip("/")
    with S3(s3root=root) as s3:
        s3.put("readable", b"you may read this")
    for name, value in _reader_keys(s3backend).items():
        monkeypatch.setenv(name, value)
    request.getfixturevalue("moto_auth")
    with S3(s3root=root) as s3:
        assert s3.get("readable").blob == b"you may read this"  # the policy allows reads
        assert [o.key for o in s3.list_recursive()] == ["readable"]
        with pytest.raises(S3AccessDenied) as err:
            s3.put("not-allowed", b"x")
        assert err.value.url == f"{root}/not-allowed"
        assert f"{root}/not-allowed" in str(err.value)
        with pytest.raises(S3AccessDenied):
            s3.put_many([("also-not", b"x")])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    with S3(s3root=root) as s3:
        with pytest.raises(S3AccessDenied) as err:
            s3.get("readable")  # a bad signature is denied too
        assert f"{root}/readable" in str(err.value)


def test_role_is_assumed_by_the_engine(s3backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sts.models import sts_backends

    account = "123456789012"
    role = f"arn:aws:iam::{account}:role/s3client-conformance"
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", s3backend.endpoint_url)
    before = len(sts_backends[account]["aws"].assumed_roles)
    with S3(s3root=s3backend.root("role"), role=role) as s3:
        s3.put("k", b"as the role")
        assert s3.get("k").blob == b"as the role"
    assumed = sts_backends[account]["aws"].assumed_roles[before:]
    assert [r.role_arn for r in assumed] and {r.role_arn for r in assumed} == {role}
    assert _stored(s3backend, "role/k") == b"as the role"


# --------------------------------------------------------------- transient


def test_unreachable_endpoint_is_transient_naming_the_url(s3backend: Backend) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
        root = s3backend.root("t").rstrip("/")
        with S3(s3root=root, client_params={"endpoint_url": endpoint}, retries=2) as s3:
            for call in (lambda: s3.get("k"), lambda: s3.put("k", b"v"), lambda: s3.info("k")):
                with pytest.raises(S3TransientError) as err:
                    call()
                assert err.value.url == f"{root}/k" and f"{root}/k" in str(err.value)
                assert isinstance(err.value, S3Error)
    assert _all_keys(s3backend) == []


# --------------------------------------------------------------- full disk


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, or a skip naming why it can't be mounted here."""
    try:
        with small_tmpfs(tmp_path / "small", "2m") as mounted:
            yield mounted
    except MountNotPermitted as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); the RLIMIT_FSIZE test covers a full disk")


def test_insufficient_disk_space_on_a_full_tmpfs(s3backend: Backend, full_disk: Path) -> None:
    client = s3backend.client()
    big, small = os.urandom(4 * MiB), os.urandom(100_000)
    client.put_object(Bucket=s3backend.bucket, Key="disk/big", Body=big)
    client.put_object(Bucket=s3backend.bucket, Key="disk/small", Body=small)
    root = s3backend.root("disk").rstrip("/")
    with S3(s3root=root, tmproot=str(full_disk)) as s3:
        with pytest.raises(S3InsufficientDiskSpace) as err:
            s3.get("big")
        assert err.value.url == f"{root}/big" and f"{root}/big" in str(err.value)
        assert files_under(full_disk) == []  # no partial download, no manifest

        with pytest.raises(S3InsufficientDiskSpace) as err:
            s3.get_many(["small", "big"])
        assert err.value.url == f"{root}/big"
        left = files_under(full_disk)
        assert [p.read_bytes() for p in left] in ([], [small])  # only a complete file

        with pytest.raises(S3InsufficientDiskSpace) as err:  # staging an upload
            s3.put("upload", os.urandom(4 * MiB))
        assert f"{root}/upload" in str(err.value)
        assert files_under(full_disk) == left
        assert "disk/upload" not in _all_keys(s3backend)

        assert s3.get("small").blob == small  # the client still works
    assert files_under(full_disk) == []


_FSIZE_CHILD = r"""
import json, os, resource, signal, sys
from s3client import S3, S3InsufficientDiskSpace

root, tmproot, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
out = {"error": None}
with S3(s3root=root, tmproot=tmproot) as s3:
    try:
        s3.get("big")
    except S3InsufficientDiskSpace as exc:
        out.update(error=type(exc).__name__, url=exc.url, message=str(exc))
    out["files"] = sorted(
        os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(tmproot) for f in fs
    )
    out["small"] = s3.get("small").blob.hex()
print(json.dumps(out))
"""


def test_insufficient_disk_space_under_a_file_size_limit(
    s3backend: Backend, tmp_path: Path
) -> None:
    client = s3backend.client()
    client.put_object(Bucket=s3backend.bucket, Key="fs/big", Body=os.urandom(3 * MiB))
    client.put_object(Bucket=s3backend.bucket, Key="fs/small", Body=b"\x01small")
    root = s3backend.root("fs").rstrip("/")
    done = run_python(_FSIZE_CHILD, [root, str(tmp_path), str(MiB)])
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["error"] == "S3InsufficientDiskSpace"
    assert out["url"] == f"{root}/big" and f"{root}/big" in out["message"]
    assert out["files"] == []  # no partial file
    assert out["small"] == b"\x01small".hex()
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------- Ctrl-C, interpreter exit


_CTRL_C_CHILD = r"""
import sys
from s3client import S3

root, tmproot, key, count, mode = sys.argv[1:6]

def work(s3):
    print("READY", flush=True)
    s3.get_many([key] * int(count))
    print("FINISHED", flush=True)

if mode == "with":
    with S3(s3root=root, tmproot=tmproot) as s3:
        work(s3)
else:
    work(S3(s3root=root, tmproot=tmproot))
"""


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if ready else ""


def _wait_until(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _s3op_procs(pid: int) -> List[Proc]:
    return [p for p in descendants(pid) if "s3op" in p.cmdline]


def _assert_all_gone(procs: List[Proc], tmpdir: str) -> None:
    assert _wait_until(lambda: not still_running(procs), 15), still_running(procs)
    assert procs_mentioning(tmpdir) == []


@pytest.mark.parametrize("engine", ["persistent", "subprocess"])
@pytest.mark.parametrize("mode", ["with", "no-with"])
def test_ctrl_c_removes_the_temp_dir_and_stops_the_engine(
    s3backend: Backend, tmp_path: Path, engine: str, mode: str
) -> None:
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="c/k", Body=os.urandom(4096))
    tmproot = tmp_path / "tmproot"
    tmproot.mkdir()
    args = [s3backend.root("c"), str(tmproot), "k", "30000", mode]
    proc = subprocess.Popen(
        [sys.executable, "-c", _CTRL_C_CHILD, *args],
        env=child_env({"S3CLIENT_ENGINE": engine}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(REPO),
        start_new_session=True,  # its own process group, as a shell job
    )
    try:
        assert _readline(proc, 60).strip() == "READY", proc.stderr
        (tmpdir,) = _wait_until(lambda: list(tmproot.iterdir()), 10)
        # Wait until downloads are landing: the batch is really under way.
        # (A batch this big goes to get-B-shardN/ directories, made before the engine starts.)
        landed = lambda: any(p.is_file() for p in tmpdir.glob("get-*/*"))  # noqa: E731
        assert _wait_until(landed, 60), "no download started"
        engine_procs = _s3op_procs(proc.pid)
        assert engine_procs, "no s3op process found below the child"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "FINISHED" not in stdout, "the batch ended before Ctrl-C: nothing was tested"
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in stderr
    assert list(tmproot.iterdir()) == [], "temp dir left behind"
    _assert_all_gone(engine_procs, str(tmpdir))


_EXIT_CHILD = r"""
import sys
from s3client import S3

root, tmproot, how = sys.argv[1:4]
s3 = S3(s3root=root, tmproot=tmproot)  # never closed
print(s3.get("k").path, flush=True)
sys.stdin.readline()  # the parent looks at our processes meanwhile
if how == "raise":
    raise RuntimeError("uncaught, the interpreter exits")
"""


@pytest.mark.parametrize("how", ["return", "raise"])
def test_temp_dir_removed_at_interpreter_exit(s3backend: Backend, tmp_path: Path, how: str) -> None:
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="x/k", Body=b"exit")
    proc = subprocess.Popen(
        [sys.executable, "-c", _EXIT_CHILD, s3backend.root("x"), str(tmp_path), how],
        env=child_env({"S3CLIENT_ENGINE": "persistent"}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(REPO),
    )
    try:
        path = _readline(proc, 60).strip()
        assert os.path.isfile(path) and Path(path).read_bytes() == b"exit", proc.stderr
        engine_procs = _s3op_procs(proc.pid)
        assert engine_procs, "the persistent engine should be running"
        _, stderr = proc.communicate("\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == (0 if how == "return" else 1), stderr
    assert list(tmp_path.iterdir()) == []
    _assert_all_gone(engine_procs, os.path.dirname(path))


# ------------------------------------------------------ metaflow run= modes

_FLOW = r"""
from metaflow import FlowSpec, step
from s3client import S3


class ConformanceFlow(FlowSpec):
    @step
    def start(self):
        with S3(run=self) as s3:
            self.url = s3.put("data.txt", "written inside the flow")
            self.seen = s3.get("data.txt").text
        self.next(self.end)

    @step
    def end(self):
        print("URL", self.url)
        print("SEEN", self.seen)


if __name__ == "__main__":
    ConformanceFlow()
"""

_READ_RUN = r"""
import sys
from metaflow import Run, namespace
from s3client import S3

namespace(None)
run = Run(sys.argv[1])
with S3(run=run) as s3:
    print(s3.get("data.txt").text)
"""


@pytest.mark.slow
def test_run_self_inside_a_flow_and_a_metaflow_run(s3backend: Backend, tmp_path: Path) -> None:
    flow = tmp_path / "conformance_flow.py"
    flow.write_text(_FLOW)
    env = metaflow_env(s3backend, tmp_path)
    env.update(
        S3CLIENT_S3ROOT=s3backend.root("flows"),
        METAFLOW_DATASTORE_SYSROOT_LOCAL=str(tmp_path / "mfdata"),
        PYTHONPATH=str(REPO),
    )
    done = subprocess.run(
        [sys.executable, str(flow), "--no-pylint", "run"],
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=240,
        cwd=str(tmp_path),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    output = done.stdout + done.stderr
    url = next(line.split("URL ", 1)[1].strip() for line in output.splitlines() if "URL " in line)
    prefix = s3backend.root("flows/ConformanceFlow/")
    assert url.startswith(prefix) and url.endswith("/data.txt")
    run_id = url[len(prefix) :].split("/")[0]
    assert "SEEN written inside the flow" in output
    assert _stored(s3backend, f"flows/ConformanceFlow/{run_id}/data.txt") == (
        b"written inside the flow"
    )

    read = run_python(_READ_RUN, [f"ConformanceFlow/{run_id}"], env=env, timeout=120)
    assert read.returncode == 0, read.stderr[-3000:]
    assert read.stdout.strip().splitlines()[-1] == "written inside the flow"


def test_a_failed_batch_names_every_failed_url(s3backend: Backend) -> None:
    from s3client import S3, S3NotFound

    with S3(s3root=s3backend.root("fails")) as s3:
        s3.put("here", "x")
        with pytest.raises(S3NotFound) as info:
            s3.get_many(["gone-1", "here", "gone-2", "gone-3"])
    urls = [s3backend.root(f"fails/gone-{i}") for i in (1, 2, 3)]
    assert info.value.url == urls[0]
    assert info.value.failed_urls == urls


def test_a_large_get_many_spreads_its_files_over_directories(
    s3backend: Backend, tmp_path: Path
) -> None:
    """Many files in one directory make the engine's threads queue on its lock;
    a big batch gets ``SHARDS`` directories, a small one stays flat."""
    from s3client.batching import SHARD_MIN, SHARDS

    client = s3backend.client()
    count = SHARD_MIN + 36
    bodies = {f"k{i}": f"body {i}".encode() for i in range(count)}
    for key, body in bodies.items():
        client.put_object(Bucket=s3backend.bucket, Key=key, Body=body)
    with S3(s3root=s3backend.root(), tmproot=str(tmp_path)) as s3:
        many = s3.get_many(list(bodies))
        few = s3.get_many(["k1", "k2", "k3"])
        assert [o.blob for o in many] == list(bodies.values())
        assert [o.blob for o in few] == [bodies["k1"], bodies["k2"], bodies["k3"]]
        tmpdir = os.path.dirname(few[0].path)
        assert {os.path.dirname(o.path) for o in few} == {tmpdir}
        shard_dirs = {os.path.dirname(o.path) for o in many}
        assert len(shard_dirs) == SHARDS
        assert {os.path.dirname(d) for d in shard_dirs} == {tmpdir}
        assert len({o.path for o in many}) == count
    assert not os.path.exists(tmpdir)

"""Batches on a Dask cluster (``--dask``, ``s3client.distributed``) against SeaweedFS.

A ``distributed.LocalCluster`` of 2 worker processes (each its own
environment, with the endpoint and keys, as a real worker would have) runs
the shards. Checked here:

- 20,000-request put, info and get manifests give the same result lines
  as the same manifests on one machine (``s3op`` without ``--dask``);
- a worker killed (SIGKILL) while it runs a shard loses no line and
  duplicates none: the shard runs again elsewhere and its lines come once,
  and a no-overwrite put run again finds its own bytes and says "written";
- a malformed manifest line is a usage error (exit 2) before any shard
  runs: nothing reaches the cluster;
- ``--ordered`` gives idx order; the exit code is the one machine's;
- no secret is in what is sent to the cluster.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import signal
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

distributed = pytest.importorskip("distributed")

from s3client.distributed import run  # noqa: E402
from s3op.distributed import PROFILER_DEADLOCKS  # noqa: E402
from s3op.protocol import ExitCode  # noqa: E402
from tests.backends import REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY, Backend  # noqa: E402
from tests.functional.test_cli import REPO, s3op  # noqa: E402

COUNT = 20_000
#: Seconds one s3op run of COUNT requests may take (a loaded 2-CPU machine is slow).
RUN_TIMEOUT = 900


def worker_env(seaweed_server: Any) -> Dict[str, str]:
    """A worker's own environment: the endpoint and keys (nothing of them is sent with a task)."""
    return {
        "AWS_ENDPOINT_URL_S3": seaweed_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONPATH": str(REPO),
    }


@pytest.fixture(scope="module")
def cluster(seaweed_server: Any) -> Iterator[Any]:
    """2 worker processes, 2 threads each, each with its own environment."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=2,
        processes=True,
        dashboard_address=":0",
        env=worker_env(seaweed_server),
    ) as local:
        yield local


@pytest.fixture
def client(cluster: Any) -> Iterator[Any]:
    with distributed.Client(cluster) as dask_client:
        yield dask_client


def write_manifest(path: Path, rows: List[Dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def by_idx(lines: List[Dict[str, Any]]) -> Dict[int, Dict[str, Any]]:
    out = {line["idx"]: line for line in lines}
    assert len(out) == len(lines), "some idx came back more than once"
    return out


def files(directory: Path, count: int, size: int = 64) -> List[Path]:
    directory.mkdir()
    paths = []
    for i in range(count):
        path = directory / f"f{i:05d}"
        path.write_bytes(f"{i:08d}".encode() * (size // 8))
        paths.append(path)
    return paths


def same_lines(one: str, many: str, replace: Optional[Dict[str, str]] = None) -> None:
    """The two runs gave the same results, one line per idx (after renaming what
    differs by design). ``attempts`` is left out: retries vary from run to run."""
    for old, new in (replace or {}).items():
        one = one.replace(old, new)
    ones, manys = by_idx(lines_of(one)), by_idx(lines_of(many))
    for line in (*ones.values(), *manys.values()):
        line.pop("attempts", None)
    assert ones == manys


def lines_of(stdout: str) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_20000_put_info_get_match_one_machine(
    s3backend: Backend, cluster: Any, tmp_path: Path
) -> None:
    address = cluster.scheduler_address
    sources = files(tmp_path / "src", COUNT)
    put_one = write_manifest(
        tmp_path / "put-one.jsonl",
        [{"url": s3backend.root(f"one/{p.name}"), "local": str(p)} for p in sources],
    )
    put_many = write_manifest(
        tmp_path / "put-many.jsonl",
        [{"url": s3backend.root(f"many/{p.name}"), "local": str(p)} for p in sources],
    )
    one = s3op("put", "--inputs", put_one, cwd=tmp_path, timeout=RUN_TIMEOUT)
    many = s3op("put", "--inputs", put_many, "--dask", address, cwd=tmp_path, timeout=RUN_TIMEOUT)
    assert (one.code, many.code) == (0, 0), one.stderr + many.stderr
    assert len(many.stdout.splitlines()) == COUNT
    same_lines(one.stdout, many.stdout, {"/one/": "/many/"})

    keys = [{"url": s3backend.root(f"many/{p.name}")} for p in sources]
    info = write_manifest(tmp_path / "info.jsonl", keys)
    one = s3op("info", "--inputs", info, cwd=tmp_path, timeout=RUN_TIMEOUT)
    many = s3op(
        "info",
        "--inputs",
        info,
        "--dask",
        address,
        "--shard-size",
        "700",
        cwd=tmp_path,
        timeout=RUN_TIMEOUT,
    )
    assert (one.code, many.code) == (0, 0), one.stderr + many.stderr
    same_lines(one.stdout, many.stdout)

    get = write_manifest(tmp_path / "get.jsonl", keys)
    (tmp_path / "one").mkdir()
    (tmp_path / "many").mkdir()
    one = s3op(
        "get",
        "--inputs",
        get,
        "--destination",
        str(tmp_path / "one"),
        cwd=tmp_path,
        timeout=RUN_TIMEOUT,
    )
    many = s3op(
        "get",
        "--inputs",
        get,
        "--destination",
        str(tmp_path / "many"),
        "--dask",
        address,
        cwd=tmp_path,
        timeout=RUN_TIMEOUT,
    )
    assert (one.code, many.code) == (0, 0), one.stderr + many.stderr
    assert len(by_idx(many.lines)) == COUNT
    same_lines(one.stdout, many.stdout, {str(tmp_path / "one"): str(tmp_path / "many")})
    for path in sources[:: COUNT // 50]:
        assert (tmp_path / "many" / "many" / path.name).read_bytes() == path.read_bytes()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_killed_worker_loses_nothing_and_duplicates_nothing(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    count = 4000
    sources = files(tmp_path / "src", count, size=1024)
    rows = [{"url": s3backend.root(f"k/{p.name}"), "local": str(p)} for p in sources]
    manifest = write_manifest(tmp_path / "put.jsonl", rows)
    pids = client.run(os.getpid)
    results = []
    killed = None
    with run("put", manifest, client, shard_size=250, overwrite=False) as batch:
        for result in batch:
            results.append(result)
            if killed is None:
                killed = kill_busy_worker(client, pids)
    assert killed is not None, "no worker was running a shard to kill"
    assert batch.exit_code is ExitCode.OK
    assert sorted(r.idx for r in results) == list(range(count))  # each once, none lost
    assert all(r.ok and r.skipped is None for r in results), [r for r in results if not r.ok][:3]
    listed = s3backend.client().list_objects_v2(Bucket=s3backend.bucket, Prefix="k/", MaxKeys=1)
    assert listed["KeyCount"] == 1
    # the re-run's puts found their own bytes: every object holds its file
    for path in sources[:: count // 20]:
        body = s3backend.client().get_object(Bucket=s3backend.bucket, Key=f"k/{path.name}")
        assert body["Body"].read() == path.read_bytes()


def kill_busy_worker(client: Any, pids: Dict[str, int]) -> Optional[int]:
    """SIGKILL a worker process that is running a shard now; its pid (None: none was)."""
    for _ in range(100):
        busy = [addr for addr, keys in client.processing().items() if keys]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            return pids[busy[0]]
        time.sleep(0.01)
    return None


def test_malformed_line_is_a_usage_error_before_any_shard(
    s3backend: Backend, client: Any, cluster: Any, tmp_path: Path
) -> None:
    good = [{"url": s3backend.root(f"k{i}")} for i in range(3000)]
    text = "".join(json.dumps(r) + "\n" for r in good)
    path = tmp_path / "bad.jsonl"
    path.write_text(text + '{"url": "s3://b/k", "rnage": "bytes=0-1"}\n' + text)
    before = executed(cluster)
    out = s3op(
        "info",
        "--inputs",
        str(path),
        "--dask",
        cluster.scheduler_address,
        cwd=tmp_path,
        timeout=RUN_TIMEOUT,
    )
    assert out.code == 2, out.stderr
    assert "line 3001" in out.stderr and "rnage" in out.stderr
    assert out.stdout == ""
    with pytest.raises(ValueError, match="line 3001"):
        run("info", str(path), client)
    assert executed(cluster) == before  # not one shard reached the cluster


def executed(cluster: Any) -> int:
    """Tasks the scheduler has seen run to the end."""
    state = cluster.scheduler.state if hasattr(cluster.scheduler, "state") else cluster.scheduler
    return sum(1 for ts in state.tasks.values() if ts.key and str(ts.key).startswith("s3op-"))


def test_ordered_and_exit_code_of_one_machine(
    s3backend: Backend, cluster: Any, tmp_path: Path
) -> None:
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="there", Body=b"x")
    rows = [{"url": s3backend.root("there" if i % 7 else f"missing{i}")} for i in range(300)]
    manifest = write_manifest(tmp_path / "info.jsonl", rows)
    one = s3op("info", "--inputs", manifest, cwd=tmp_path, timeout=RUN_TIMEOUT)
    many = s3op(
        "info",
        "--inputs",
        manifest,
        "--dask",
        cluster.scheduler_address,
        "--shard-size",
        "16",
        "--ordered",
        cwd=tmp_path,
        timeout=RUN_TIMEOUT,
    )
    assert one.code == many.code == int(ExitCode.FAILED)
    assert [line["idx"] for line in many.lines] == list(range(300))
    same_lines(one.stdout, many.stdout)


def test_no_secret_in_what_is_sent(s3backend: Backend, client: Any, tmp_path: Path) -> None:
    """The caller's secrets stay with the caller; the workers use their own."""
    secret = "s3cr3t-never-shipped-4f1c"
    os.environ["S3OP_SESSION_VARS"] = json.dumps({"secret_key": secret, "access_key": "AK"})
    os.environ["S3OP_CLIENT_PARAMS"] = json.dumps({"aws_session_token": "tok-" + secret})
    sent: List[bytes] = []
    submit = client.submit

    def recording(fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(pickle.dumps((fn, args, kwargs)))
        return submit(fn, *args, **kwargs)

    manifest = write_manifest(tmp_path / "info.jsonl", [{"url": s3backend.root("nothing")}])
    try:
        client.submit = recording
        with run("info", manifest, client, retries=7, allow_missing=True) as batch:
            results = list(batch)
    finally:
        del client.submit
        del os.environ["S3OP_SESSION_VARS"], os.environ["S3OP_CLIENT_PARAMS"]
    assert [r.error.kind.value for r in results if r.error] == ["not_found"]
    assert batch.exit_code is ExitCode.OK and len(sent) == 1
    assert secret.encode() not in sent[0]
    options = pickle.loads(sent[0])[1][3]
    assert options.retry.retries == 7 and options.credentials is None  # options did travel


def test_no_overwrite_put_run_again_takes_its_own_write(s3backend: Backend, tmp_path: Path) -> None:
    """What a re-run shard's no-overwrite puts report: their own bytes are 'written'
    (single and multipart), someone else's are 'exists'; outside a shard, 'exists'."""
    from s3op.batch import run_batch
    from s3op.options import BatchOptions, PoolOptions, TransferOptions
    from s3op.protocol import PutRequest, Result

    mib = 1 << 20
    small, big, other = tmp_path / "small", tmp_path / "big", tmp_path / "other"
    small.write_bytes(b"s" * 100)
    big.write_bytes(os.urandom(6 * mib))  # two parts of 5 MiB and 1 MiB
    other.write_bytes(b"o" * 100)
    requests = [
        PutRequest(0, s3backend.root("small"), str(small)),
        PutRequest(1, s3backend.root("big"), str(big)),
    ]
    options = BatchOptions(
        pool=PoolOptions(num_workers=0),
        transfer=TransferOptions(part_size=5 * mib, multipart_threshold=5 * mib),
        overwrite=False,
    )

    def put(reqs: List[PutRequest], **changes: Any) -> List[Result]:
        out: List[Result] = []
        run_batch("put", reqs, dataclasses.replace(options, **changes), out.append)
        return sorted(out, key=lambda r: r.idx)

    assert [(r.ok, r.skipped) for r in put(requests)] == [(True, None)] * 2
    assert [r.skipped for r in put(requests)] == ["exists"] * 2
    again = put(requests, may_repeat=True)
    assert [(r.ok, r.skipped, r.size) for r in again] == [(True, None, 100), (True, None, 6 * mib)]
    theirs = [PutRequest(0, s3backend.root("small"), str(other))]
    assert [r.skipped for r in put(theirs, may_repeat=True)] == ["exists"]
    body = s3backend.client().get_object(Bucket=s3backend.bucket, Key="small")["Body"].read()
    assert body == small.read_bytes()


def profiling(dask_worker: Any) -> bool:
    """Whether the worker's sampling profiler runs (on the worker)."""
    return bool(dask_worker.periodic_callbacks["profile"].is_running())


@pytest.mark.skipif(not PROFILER_DEADLOCKS, reason="the profiler cannot deadlock a worker")
def test_a_worker_running_a_shard_stops_its_sampling_profiler(
    s3backend: Backend, seaweed_server: Any, tmp_path: Path
) -> None:
    """Python < 3.12: Dask's profiler (``sys._current_frames`` every 10 ms) and a
    shard's engine threads can deadlock the worker (CPython issue 106883; see
    ``s3op.distributed``): the first shard a worker runs stops the profiler."""
    manifest = write_manifest(tmp_path / "info.jsonl", [{"url": s3backend.root("none")}])
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
        env=worker_env(seaweed_server),
    ) as local, distributed.Client(local) as dask_client:  # fmt: skip
        assert list(dask_client.run(profiling).values()) == [True]
        with run("info", manifest, dask_client, allow_missing=True) as batch:
            assert [r.error.kind.value for r in batch if r.error] == ["not_found"]
        assert list(dask_client.run(profiling).values()) == [False]

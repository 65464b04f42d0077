"""Fixtures and helpers for the fault tests: real servers behind a ``FaultProxy``.

- ``seaweed_target`` / ``moto_target`` / ``target`` (both): a fresh bucket on the
  server, a :class:`~tests.faults.proxy.FaultProxy` in front of it (mode ``none``),
  and ``AWS_*`` variables in ``os.environ`` pointing at the proxy, so ``S3()``
  and ``python -m s3op`` go through it. ``Target.direct()`` bypasses the proxy.
- ``dataset``: the objects rows 1-5 move (``S3_FAULTS_OBJECTS``, default 10,000,
  sizes 0 B - 1 MiB, plus ``BIG_COUNT`` objects of 64 MiB), built once per session.
- ``spy``: records every result line ``s3client`` gets from the engine.
- helpers: :func:`run_s3op`, :func:`server_digests`, process-tree inspection
  through ``/proc``, leftover temp-file search.
- ``figure()``: a measured figure for the matrix; all are printed at the end
  of the run (the README's table is filled from them).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple
from urllib.parse import quote, urlsplit

import pytest

from s3op.protocol import Result
from tests.backends import (
    REGION,
    TEST_ACCESS_KEY,
    TEST_SECRET_KEY,
    delete_bucket,
    make_client,
    reset_moto,
    unique_bucket,
)
from tests.faults.proxy import FaultProxy

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
#: Objects rows 1-5 move (the issue's 10,000); scale down with S3_FAULTS_OBJECTS.
N_OBJECTS = int(os.environ.get("S3_FAULTS_OBJECTS", "10000"))
#: Multipart-sized objects added to the data set, and their size.
BIG_COUNT = 2
BIG_SIZE = 64 * 1024 * 1024
MiB = 1024 * 1024
SEED = 20240611

_FIGURES: List[str] = []


def figure(row: str, text: str) -> None:
    """Record a measured figure; all are printed in the terminal summary."""
    line = f"{row}: {text}"
    _FIGURES.append(line)
    print(line)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures measured in this run."""
    if _FIGURES:
        terminalreporter.section("fault matrix figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


# ------------------------------------------------------------------ targets


@dataclass
class Target:
    """A bucket on a real server, reached through ``proxy``."""

    name: str  # "seaweedfs" or "moto"
    endpoint: str  # the server itself (no faults)
    bucket: str
    proxy: FaultProxy

    def env(self) -> Dict[str, str]:
        """Variables a subprocess needs to reach the bucket through the proxy."""
        return {
            "AWS_ENDPOINT_URL_S3": self.proxy.endpoint_url,
            "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": TEST_SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    def direct(self) -> Any:
        """A boto3 client on the server itself (bypasses the proxy)."""
        return make_client(self.endpoint, TEST_ACCESS_KEY, TEST_SECRET_KEY)

    def url(self, key: str = "") -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{key}"

    def keys(self, prefix: str = "") -> List[str]:
        """Every key under ``prefix``, read straight from the server."""
        pages = self.direct().get_paginator("list_objects_v2")
        return [
            o["Key"]
            for page in pages.paginate(Bucket=self.bucket, Prefix=prefix)
            for o in page.get("Contents", [])
        ]


def _host_port(endpoint: str) -> Tuple[str, int]:
    parts = urlsplit(endpoint)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


@pytest.fixture
def faults_env(isolated_env: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No AWS configuration from the machine; s3client temp dirs under tmp_path."""
    isolated_env.setenv("S3CLIENT_TMPROOT", str(tmp_path))
    isolated_env.delenv("S3CLIENT_ENGINE", raising=False)
    isolated_env.delenv("S3CLIENT_DEBUG", raising=False)
    isolated_env.delenv("S3CLIENT_NUM_WORKERS", raising=False)
    isolated_env.delenv("S3OP_FAST", raising=False)
    return isolated_env


def _make_target(name: str, endpoint: str, env: pytest.MonkeyPatch) -> Iterator[Target]:
    bucket = unique_bucket("f")
    make_client(endpoint, TEST_ACCESS_KEY, TEST_SECRET_KEY).create_bucket(Bucket=bucket)
    proxy = FaultProxy(*_host_port(endpoint), seed=SEED).start()
    target = Target(name, endpoint, bucket, proxy)
    for key, value in target.env().items():
        env.setenv(key, value)
    try:
        yield target
    finally:
        proxy.stop()
        if name == "moto":
            reset_moto(endpoint)
        elif len(target.keys()) <= 2000:  # big buckets go with the session's server
            delete_bucket(target.direct(), bucket)


@pytest.fixture
def seaweed_target(seaweed_server: Any, faults_env: pytest.MonkeyPatch) -> Iterator[Target]:
    """A fresh SeaweedFS bucket behind a fault proxy."""
    yield from _make_target("seaweedfs", seaweed_server.endpoint_url, faults_env)


@pytest.fixture
def moto_target(moto_server: str, faults_env: pytest.MonkeyPatch) -> Iterator[Target]:
    """A fresh moto bucket behind a fault proxy."""
    yield from _make_target("moto", moto_server, faults_env)


@pytest.fixture(params=["seaweedfs", "moto"])
def target(request: pytest.FixtureRequest, faults_env: pytest.MonkeyPatch) -> Iterator[Target]:
    """A fresh bucket behind a fault proxy, on each server in turn."""
    if request.param == "moto":
        endpoint = request.getfixturevalue("moto_server")
    else:
        endpoint = request.getfixturevalue("seaweed_server").endpoint_url
    yield from _make_target(request.param, endpoint, faults_env)


# ------------------------------------------------------------------ data set


@dataclass(frozen=True)
class Item:
    """One object of the data set."""

    key: str
    path: str
    size: int
    sha256: str


@dataclass
class Dataset:
    """Files on disk with their keys and digests."""

    root: Path
    items: List[Item]

    @property
    def total(self) -> int:
        """Bytes in all objects."""
        return sum(i.size for i in self.items)

    def by_key(self) -> Dict[str, Item]:
        """Items keyed by key."""
        return {i.key: i for i in self.items}


def object_sizes(count: int, big: int, rng: random.Random) -> List[int]:
    """Sizes: 0 B, 1 B and 1 MiB, then 1% empty, 89% tiny (1 B - 4 KiB), 10% log-uniform
    4 KiB - 1 MiB, then ``big`` objects of 64 MiB (multipart, parallel ranged GETs)."""
    sizes = [0, 1, MiB][:count]
    while len(sizes) < count:
        draw = rng.random()
        if draw < 0.01:
            sizes.append(0)
        elif draw < 0.9:
            sizes.append(rng.randrange(1, 4097))
        else:
            sizes.append(int(math.exp(rng.uniform(math.log(4096), math.log(MiB)))))
    return sizes + [BIG_SIZE] * big


def build_dataset(root: Path, count: int, big: int, seed: int = SEED) -> Dataset:
    """Write the data set under ``root`` (deterministic for a seed)."""
    rng = random.Random(seed)
    items = []
    for i, size in enumerate(object_sizes(count, big, rng)):
        data = rng.randbytes(size)
        key = f"obj/{i // 1000:02d}/{i:05d}-{size}" + (".big" if size >= BIG_SIZE else "")
        path = root / f"{i:05d}"
        path.write_bytes(data)
        items.append(Item(key, str(path), size, hashlib.sha256(data).hexdigest()))
    return Dataset(root, items)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """The rows 1-5 data set, built once per session."""
    return build_dataset(tmp_path_factory.mktemp("dataset"), N_OBJECTS, BIG_COUNT)


def sha256_file(path: str) -> str:
    """SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


def server_digests(
    target: Target, keys: Sequence[str], threads: int = 8
) -> Dict[str, Optional[str]]:
    """SHA-256 of each object read straight from the server (None: missing).

    A lean signed GET per key (botocore's SigV4 signer, urllib3), in threads,
    independent of the engine's code paths.
    """
    import urllib3
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = S3SigV4Auth(Credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY), "s3", REGION)
    pool = urllib3.PoolManager(maxsize=threads, retries=urllib3.Retry(3, backoff_factor=0.2))

    def one(key: str) -> Tuple[str, Optional[str]]:
        url = f"{target.endpoint}/{target.bucket}/{quote(key, safe='/~')}"
        request = AWSRequest(method="GET", url=url)
        signer.add_auth(request)
        resp = pool.request(
            "GET", url, headers=dict(request.headers.items()), preload_content=False
        )
        try:
            if resp.status == 404:
                return key, None
            assert resp.status == 200, f"direct GET {key}: HTTP {resp.status}"
            digest = hashlib.sha256()
            for block in resp.stream(MiB):
                digest.update(block)
            return key, digest.hexdigest()
        finally:
            resp.release_conn()

    with ThreadPoolExecutor(threads) as pool_exec:
        return dict(pool_exec.map(one, keys))


# ------------------------------------------------------------------ result spy


@dataclass
class Batch:
    """One batch s3client ran: its raw result lines and exit code."""

    op: str
    requests: int
    code: int
    lines: List[str]
    stderr: str = ""
    results: List[Result] = field(default_factory=list)


class ResultSpy:
    """Every batch ``s3client`` ran while installed (see the ``spy`` fixture)."""

    def __init__(self) -> None:
        self.batches: List[Batch] = []

    def last(self, op: str) -> Batch:
        """The most recent batch of ``op``."""
        return [b for b in self.batches if b.op == op][-1]


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> ResultSpy:
    """Record the raw result lines of every batch (wraps ``check_outcome``)."""
    import s3client.runner

    recorder = ResultSpy()
    original = s3client.runner.check_outcome

    def check_outcome(
        op: str, flags: Any, requests: Any, code: int, lines: Any, stderr: str
    ) -> Any:
        # The persistent engine hands over lines it already parsed (s3client parses
        # them as they arrive); their JSON form is the line the engine wrote.
        texts = [line if isinstance(line, str) else line.to_json() for line in lines]
        batch = Batch(op, len(requests), code, [t for t in texts if t.strip()], stderr)
        recorder.batches.append(batch)
        batch.results = [Result.from_json(line) for line in batch.lines]
        return original(op, flags, requests, code, lines, stderr)

    monkeypatch.setattr(s3client.runner, "check_outcome", check_outcome)
    return recorder


# ------------------------------------------------------------------ s3op runs


@dataclass
class S3opRun:
    """A finished ``python -m s3op`` run."""

    code: int
    results: List[Result]
    lines: List[str]
    stderr: str
    seconds: float

    def by_idx(self) -> Dict[int, List[Result]]:
        """Results grouped by request index."""
        out: Dict[int, List[Result]] = {}
        for res in self.results:
            out.setdefault(res.idx, []).append(res)
        return out


def s3op_argv(*args: str) -> List[str]:
    """``python -m s3op ARGS``."""
    return [PYTHON, "-m", "s3op", *args]


def run_s3op(*args: str, timeout: float = 300, env: Optional[Dict[str, str]] = None) -> S3opRun:
    """Run ``python -m s3op ARGS`` to the end; parse its result lines."""
    t0 = time.monotonic()
    proc = subprocess.run(
        s3op_argv(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(REPO),
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return S3opRun(
        proc.returncode,
        [Result.from_json(line) for line in lines],
        lines,
        proc.stderr,
        time.monotonic() - t0,
    )


def write_manifest(path: Path, entries: Sequence[Dict[str, Any]]) -> str:
    """Write a JSONL manifest; return its path."""
    path.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    return str(path)


# ------------------------------------------------------------ processes, files


@dataclass(frozen=True)
class Proc:
    """One line of /proc: pid, parent, session, state and command line."""

    pid: int
    ppid: int
    sid: int
    state: str
    cmdline: str


def processes() -> List[Proc]:
    """Every live (non-zombie) process, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("utf-8", "replace")
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid, sid = fields[0], int(fields[1]), int(fields[3])
        if state not in ("Z", "X"):
            found.append(Proc(int(entry), ppid, sid, state, cmd))
    return found


def children(pid: int) -> List[Proc]:
    """Live child processes of ``pid``."""
    return [p for p in processes() if p.ppid == pid]


def descendants(pid: int) -> List[Proc]:
    """Live descendants of ``pid`` (children, grandchildren...)."""
    every = processes()
    out: List[Proc] = []
    frontier = {pid}
    while frontier:
        kids = [p for p in every if p.ppid in frontier]
        out.extend(kids)
        frontier = {p.pid for p in kids}
    return out


def session_members(sid: int) -> List[Proc]:
    """Live processes of session ``sid``."""
    return [p for p in processes() if p.sid == sid]


def wait_for(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate()`` until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def part_files(root: Path) -> List[str]:
    """s3op temp files (``.*.s3op-*.part``) anywhere under ``root``."""
    return [str(p) for p in root.rglob("*") if ".s3op-" in p.name and p.name.endswith(".part")]


def files_under(root: Path) -> List[str]:
    """Every regular file under ``root``."""
    return sorted(str(p) for p in root.rglob("*") if p.is_file())


#: Environment variable marking the processes a test started (other test runs
#: may share the machine: only marked processes are ours to inspect).
MARK_VAR = "S3_FAULTS_MARK"


def marked(mark: str) -> List[Proc]:
    """Live processes whose environment holds ``S3_FAULTS_MARK=mark``."""
    needle = f"{MARK_VAR}={mark}".encode()
    found = []
    for proc in processes():
        try:
            with open(f"/proc/{proc.pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(proc)
        except OSError:
            continue
    return found


def new_mark() -> str:
    """A fresh marker value."""
    return uuid.uuid4().hex[:16]

"""Small PUTs sent together from one thread (``s3op.ops.multiput``), against real servers.

Each job of a batch must end exactly as ``run_put`` alone would end it: the
same objects (bytes, content type, metadata, checksum), the same result
fields, the same errors and attempt counts; ``overwrite=False`` refuses an
existing object and takes our own earlier write as written; a PUT that got
no answer is sent again only by the retry loop. Then whole batches through
the engine and the library: 1,000 small objects, sizes across the limit, a
failing key among many with its own line.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from s3client import S3
from s3op import bandwidth, run_batch
from s3op.client import ClientConfig, Credentials, make_client
from s3op.jobs import PutJob, Settings
from s3op.ops import OpContext
from s3op.ops.multiput import PUT_INLINE_MAX, batchable, run_puts
from s3op.ops.put import run_put
from s3op.options import BatchOptions, PoolOptions
from s3op.protocol import ErrorKind, PutRequest, Result
from s3op.retry import RetryPolicy
from tests.backends import REGION, Backend
from tests.functional.batches import run_one_batch
from tests.functional.test_cli import manifest, s3op


def _context(
    endpoint: str, read_timeout: float = 30.0, attempts: int = 3, **settings: Any
) -> OpContext:
    config = ClientConfig(
        credentials=Credentials("testing", "testing"),
        fast=(endpoint, REGION, True),
        connect_timeout=5.0,
        read_timeout=read_timeout,
    )
    policy = RetryPolicy(max_attempts=attempts, base=0.01, cap=0.05, deadline=30.0)
    return OpContext(make_client(config), policy, Settings(tmp_tag="mptest", **settings))


def _files(where: Path, data: Dict[str, bytes]) -> Dict[str, str]:
    where.mkdir(exist_ok=True)
    paths = {}
    for name, body in data.items():
        path = where / name
        path.write_bytes(body)
        paths[name] = str(path)
    return paths


def _jobs(pairs: List[Tuple[str, str]], **fields: Any) -> List[Tuple[int, PutJob]]:
    return [
        (i, PutJob(PutRequest(idx=i, url=url, local=local, **fields)))
        for i, (url, local) in enumerate(pairs)
    ]


def _batch(ctx: OpContext, jobs: List[Tuple[int, PutJob]], handed: List[int]) -> Dict[int, Any]:
    """Run ``jobs`` as one batch (``run_one_batch``)."""
    return run_one_batch(run_puts, ctx, jobs, handed)


def _plain(outcome: Result) -> Any:
    """What must match between a batched and a lone put (not the URL)."""
    error = (outcome.error.kind, outcome.error.message[:20]) if outcome.error else None
    return dataclasses.replace(outcome, url="", error=None), error


#: What a PUT into a missing bucket answers: moto NoSuchBucket, SeaweedFS AccessDenied.
NO_BUCKET = (ErrorKind.BUCKET_NOT_FOUND, ErrorKind.ACCESS_DENIED)

DATA = {
    "empty": b"",
    "one": b"x",
    "text": b"hello multiput\n" * 20,
    "limit": os.urandom(PUT_INLINE_MAX),
    "over": os.urandom(PUT_INLINE_MAX + 1),
}


def test_a_batch_of_puts_ends_each_job_as_run_put_would(s3backend: Backend, tmp_path: Path) -> None:
    bucket = s3backend.bucket
    paths = _files(tmp_path, DATA)
    names = list(DATA) + ["missing-file", "no-bucket", "bad-url"]
    paths["missing-file"] = str(tmp_path / "no such file")
    paths["no-bucket"] = paths["text"]
    paths["bad-url"] = paths["one"]

    def url(prefix: str, name: str) -> str:
        if name == "no-bucket":
            return f"s3://{bucket}-no-such-bucket/{prefix}/k"
        return "s3://" if name == "bad-url" else f"s3://{bucket}/{prefix}/{name}"

    fields = {"content_type": "text/x-mp", "metadata": {"k": "v"}}
    ctx = _context(s3backend.endpoint_url)
    jobs = _jobs([(url("batch", n), paths[n]) for n in names], **fields)
    assert [batchable(ctx, job) for _, job in jobs] == [
        n not in ("over", "missing-file") for n in names
    ]

    handed: List[int] = []
    batched = _batch(ctx, jobs, handed)
    alone = {
        i: run_put(ctx, job)
        for i, job in _jobs([(url("alone", n), paths[n]) for n in names], **fields)
    }

    assert sorted(batched) == list(range(len(names)))
    for i, name in enumerate(names):
        assert _plain(batched[i]) == _plain(alone[i]), name
    client = s3backend.client()
    for i, name in enumerate(names[:5]):
        assert batched[i].ok and batched[i].attempts == 1 and batched[i].size == len(DATA[name])
        got = client.get_object(Bucket=bucket, Key=f"batch/{name}", ChecksumMode="ENABLED")
        assert got["Body"].read() == DATA[name]
        lone = client.head_object(Bucket=bucket, Key=f"alone/{name}", ChecksumMode="ENABLED")
        assert got["ContentType"] == "text/x-mp" and got["Metadata"] == lone["Metadata"]
        assert "k" in got["Metadata"].get("metaflow-user-attributes", "")
        assert got["ETag"] == batched[i].etag == lone["ETag"]
        assert got.get("ChecksumCRC32") == lone.get("ChecksumCRC32")  # the same headers sent
    # handed off: a file too big for a batch (grown since it was batched), and the
    # PUTs that got no 2xx: the missing bucket (its own error)
    assert [names[i] for i in handed] == ["over", "no-bucket"]
    assert batched[names.index("no-bucket")].error.kind in NO_BUCKET
    assert batched[names.index("missing-file")].error.kind is ErrorKind.LOCAL_FILE_MISSING
    assert batched[names.index("bad-url")].error.kind is ErrorKind.INVALID_URL
    assert batched[names.index("bad-url")].attempts == 0


def test_no_overwrite_in_a_batch_refuses_existing_objects(
    s3backend: Backend, tmp_path: Path
) -> None:
    bucket = s3backend.bucket
    client = s3backend.client()
    client.put_object(Bucket=bucket, Key="theirs", Body=b"someone else's")
    client.put_object(Bucket=bucket, Key="ours", Body=b"our bytes")
    paths = _files(tmp_path, {"a": b"our bytes", "b": b"new"})
    pairs = [(f"s3://{bucket}/theirs", paths["a"]), (f"s3://{bucket}/ours", paths["a"])]
    pairs.append((f"s3://{bucket}/fresh", paths["b"]))

    plain = _batch(_context(s3backend.endpoint_url, no_overwrite=True), _jobs(pairs), [])
    again = _context(s3backend.endpoint_url, no_overwrite=True, may_repeat=True)
    repeat = _batch(again, _jobs(pairs), [])

    assert plain[0].skipped == "exists" and plain[1].skipped == "exists"
    assert plain[2].ok and not plain[2].skipped and plain[2].attempts == 1
    # a run that may repeat takes our own earlier write (same MD5) as written
    assert repeat[0].skipped == "exists" and repeat[2].skipped is None and repeat[2].ok
    assert repeat[1].ok and repeat[1].skipped is None and repeat[1].etag
    bodies = {
        k: client.get_object(Bucket=bucket, Key=k)["Body"].read()
        for k in ("theirs", "ours", "fresh")
    }
    assert bodies == {"theirs": b"someone else's", "ours": b"our bytes", "fresh": b"new"}


def test_answers_stop_when_nobody_listens(s3backend: Backend, tmp_path: Path) -> None:
    paths = _files(tmp_path, {f"f{i}": b"%d" % i for i in range(6)})
    pairs = [(f"s3://{s3backend.bucket}/k{i}", paths[f"f{i}"]) for i in range(6)]
    ctx = _context(s3backend.endpoint_url)
    told: List[int] = []

    def answer(job_id: int, outcome: Any) -> bool:
        told.append(job_id)
        return False  # the parent is gone

    assert run_puts(ctx, _jobs(pairs), answer) is False
    assert len(told) == 1
    # nothing was left half-read on a pooled connection: the next batch is served
    again = _batch(ctx, _jobs(pairs), [])
    assert all(outcome.ok for outcome in again.values())


@pytest.fixture
def silent_server() -> Iterator[Tuple[str, List[socket.socket]]]:
    """A loopback server that accepts connections and never answers (and the
    connections it accepted)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: List[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", held
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_put_without_an_answer_is_sent_again_only_by_the_retry_loop(
    silent_server: Tuple[str, List[socket.socket]], tmp_path: Path
) -> None:
    endpoint, accepted = silent_server
    ctx = _context(endpoint, read_timeout=0.3, attempts=2)
    paths = _files(tmp_path, {f"f{i}": b"body %d" % i for i in range(4)})
    pairs = [(f"s3://bucket/k{i}", paths[f"f{i}"]) for i in range(4)]

    answers = _batch(ctx, _jobs(pairs), [])

    assert sorted(answers) == [0, 1, 2, 3]
    for outcome in answers.values():
        assert not outcome.ok and outcome.error.kind is ErrorKind.TRANSIENT
        assert outcome.attempts == 2
    assert len(accepted) == 8  # 4 PUTs x 2 attempts, each on a connection of its own


def _mixed(where: Path, count: int) -> Dict[str, bytes]:
    """``count`` bodies of sizes across the batch's limit (most of them small)."""
    sizes = [0, 1, 10 * 1024, PUT_INLINE_MAX, PUT_INLINE_MAX + 1, 200 * 1024]
    return {
        f"f{i:04d}": os.urandom(sizes[i % len(sizes)] if i % 10 == 0 else 1000 + i)
        for i in range(count)
    }


def test_an_engine_put_of_1000_mixed_sizes_stores_every_byte(
    s3backend: Backend, tmp_path: Path
) -> None:
    data = _mixed(tmp_path, 1000)
    paths = _files(tmp_path / "src", data)
    bucket = s3backend.bucket
    requests = [
        PutRequest(idx=i, url=f"s3://{bucket}/m/{name}", local=paths[name])
        for i, name in enumerate(sorted(data))
    ]
    results: List[Result] = []
    options = dataclasses.replace(BatchOptions(), pool=PoolOptions(num_workers=0, threads=4))

    run_batch("put", requests, options, results.append)

    assert sorted(r.idx for r in results) == list(range(1000))
    assert all(r.ok and r.attempts == 1 for r in results), [r for r in results if not r.ok][:3]
    client = s3backend.client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="m/")
    stored = {o["Key"]: o for page in pages for o in page.get("Contents", [])}
    assert len(stored) == 1000
    for r in results:
        name = r.url.rsplit("/", 1)[1]
        assert stored[f"m/{name}"]["Size"] == len(data[name]) == r.size
        assert stored[f"m/{name}"]["ETag"] == r.etag
    for name in sorted(data)[::97]:
        assert client.get_object(Bucket=bucket, Key=f"m/{name}")["Body"].read() == data[name]


def test_put_files_and_put_many_of_1000_small_objects_through_the_library(
    s3backend: Backend, tmp_path: Path
) -> None:
    data = {f"f{i:04d}": b"small %d " % i * (1 + i % 40) for i in range(1000)}
    paths = _files(tmp_path, data)
    names = sorted(data)
    with S3(s3root=s3backend.root("lib")) as s3:
        put = s3.put_files([(name, paths[name]) for name in names])
        assert [o.blob for o in s3.get_many(names)] == [data[name] for name in names]
        # put_many stages the bodies as files: they go in batches too, replacing them
        again = s3.put_many([(name, data[name][::-1]) for name in names])
        assert [o.blob for o in s3.get_many(names)] == [data[name][::-1] for name in names]
    assert put == again == [(name, s3backend.root(f"lib/{name}")) for name in names]


def test_a_failing_key_among_many_has_its_own_line(s3backend: Backend, tmp_path: Path) -> None:
    data = {f"f{i:03d}": b"line %d" % i for i in range(300)}
    paths = _files(tmp_path, data)
    rows: List[Dict[str, Any]] = [
        {"idx": i, "url": s3backend.root(f"c/{name}"), "local": paths[name]}
        for i, name in enumerate(sorted(data))
    ]
    rows[150]["url"] = f"s3://{s3backend.bucket}-no-such-bucket/c/x"
    rows[151]["local"] = str(tmp_path / "gone")

    run = s3op(
        "put", "--inputs", manifest(tmp_path / "m.jsonl", rows), "--threads", "2", cwd=tmp_path
    )

    lines = run.by_idx()
    assert sorted(lines) == list(range(300)), run.stderr
    assert ErrorKind(lines[150]["error"]["kind"]) in NO_BUCKET
    assert lines[151]["error"]["kind"] == ErrorKind.LOCAL_FILE_MISSING.value
    assert sorted(i for i, line in lines.items() if "error" in line) == [150, 151]
    stored = s3backend.client().list_objects_v2(Bucket=s3backend.bucket, Prefix="c/")
    assert stored["KeyCount"] == 298


def test_a_batchs_bodies_are_taken_from_the_upload_cap(s3backend: Backend, tmp_path: Path) -> None:
    """Under a cap (``--max-bandwidth``), every body of a batch is paid for in the
    upload bucket before it is sent (as a single PUT's is), and nothing downloads."""
    bodies = {f"f{i}": os.urandom(20_000) for i in range(8)}
    paths = _files(tmp_path, bodies)
    pairs = [(f"s3://{s3backend.bucket}/cap/{name}", paths[name]) for name in bodies]
    rate = 10**9  # high: the test reads the bucket's clock, it does not wait on it
    with bandwidth.capped(rate):
        limiter = bandwidth.LIMITER
        assert limiter is not None
        start = time.monotonic()
        answers = _batch(_context(s3backend.endpoint_url), _jobs(pairs), [])
        paid_up = limiter.up._tat.value - start  # seconds of bytes taken, at `rate`
        paid_down = limiter.down._tat.value

    assert all(outcome.ok for outcome in answers.values())
    assert paid_up >= sum(map(len, bodies.values())) / rate
    assert paid_down == 0.0

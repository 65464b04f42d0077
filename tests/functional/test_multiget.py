"""GETs sent together from one thread (``s3op.ops.multiget``), against real servers.

Each job of a batch must end exactly as ``run_get`` alone would end it: the
same files, the same result fields, the same errors and attempt counts.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from s3op.client import ClientConfig, Credentials, make_client
from s3op.errors import OpError
from s3op.jobs import GetJob, Settings, SplitGet
from s3op.ops import OpContext
from s3op.ops.get import run_get
from s3op.ops.multiget import INLINE_MAX, Resume, batchable, run_gets
from s3op.protocol import ErrorKind, GetRequest, Result
from s3op.retry import RetryPolicy
from tests.backends import REGION, Backend
from tests.functional.batches import run_one_batch

SMALL_THRESHOLD = INLINE_MAX * 2  # objects this big split into parts (answered with SplitGet)


def _context(endpoint: str, read_timeout: float = 30.0, attempts: int = 3) -> OpContext:
    config = ClientConfig(
        credentials=Credentials("testing", "testing"),
        fast=(endpoint, REGION, True),
        connect_timeout=5.0,
        read_timeout=read_timeout,
    )
    settings = Settings(multipart_threshold=SMALL_THRESHOLD, tmp_tag="mgtest")
    policy = RetryPolicy(max_attempts=attempts, base=0.01, cap=0.05, deadline=30.0)
    return OpContext(make_client(config), policy, settings)


def _jobs(urls: List[str], where: Path) -> List[Tuple[int, GetJob]]:
    return [
        (i, GetJob(GetRequest(idx=i, url=url), str(where / f"f{i}"))) for i, url in enumerate(urls)
    ]


def _batch(
    ctx: OpContext, jobs: List[Tuple[int, GetJob]], handed: Optional[List[int]] = None
) -> Dict[int, Any]:
    """Run ``jobs`` as one batch (``run_one_batch``)."""
    return run_one_batch(run_gets, ctx, jobs, handed)


def _same(outcome: Any) -> Any:
    """The fields that must match between a batched and a lone get (not the path)."""
    if isinstance(outcome, SplitGet):
        return ("split", outcome.head.size, outcome.etag, outcome.md5)
    assert isinstance(outcome, Result)
    error = (outcome.error.kind, outcome.error.message[:20]) if outcome.error else None
    plain = dataclasses.replace(outcome, local=None, error=None)
    return plain, error


def test_a_batch_ends_each_job_as_run_get_would(s3backend: Backend, tmp_path: Path) -> None:
    client = s3backend.client()
    data = {
        "empty": b"",
        "one": b"x",
        "text": b"hello multiget\n" * 20,
        "inline": os.urandom(INLINE_MAX),
        "medium": os.urandom(INLINE_MAX + 1),
        "exact": os.urandom(SMALL_THRESHOLD - 1),
        "big": os.urandom(SMALL_THRESHOLD),
    }
    for key, body in data.items():
        extra = {"ContentType": "text/x-mg", "Metadata": {"k": key}}
        client.put_object(Bucket=s3backend.bucket, Key=key, Body=body, **extra)
    keys = list(data) + ["missing", "text"]  # a 404, and one key twice
    urls = [f"s3://{s3backend.bucket}/{key}" for key in keys]
    ctx = _context(s3backend.endpoint_url)
    (tmp_path / "batch").mkdir()
    (tmp_path / "alone").mkdir()
    jobs = _jobs(urls, tmp_path / "batch")
    assert all(batchable(ctx, job) for _, job in jobs)

    handed: List[int] = []
    batched = _batch(ctx, jobs, handed)
    alone = {i: run_get(ctx, job) for i, job in _jobs(urls, tmp_path / "alone")}

    assert sorted(batched) == list(range(len(keys)))
    for i, key in enumerate(keys):
        assert _same(batched[i]) == _same(alone[i]), key
        if key in data and key != "big":
            assert batched[i].ok and batched[i].attempts == 1
            assert batched[i].content_type == "text/x-mg" and batched[i].metadata == {"k": key}
            assert (tmp_path / "batch" / f"f{i}").read_bytes() == data[key]
    assert isinstance(batched[keys.index("big")], SplitGet)
    # only small whole objects are saved on the batch's thread; the rest is handed off
    assert sorted(keys[i] for i in handed) == ["big", "exact", "medium", "missing"]
    missing = batched[keys.index("missing")]
    assert not missing.ok and missing.error.kind is ErrorKind.NOT_FOUND
    names = sorted(p.name for p in (tmp_path / "batch").iterdir())
    assert names == sorted(f"f{i}" for i, k in enumerate(keys) if k in data and k != "big")


def test_a_low_multipart_threshold_still_splits(s3backend: Backend, tmp_path: Path) -> None:
    client = s3backend.client()
    client.put_object(Bucket=s3backend.bucket, Key="small", Body=b"s" * 100)
    client.put_object(Bucket=s3backend.bucket, Key="parts", Body=b"p" * 3000)
    ctx = _context(s3backend.endpoint_url)
    ctx.settings = dataclasses.replace(ctx.settings, multipart_threshold=1024)
    urls = [f"s3://{s3backend.bucket}/small", f"s3://{s3backend.bucket}/parts"]

    answers = _batch(ctx, _jobs(urls, tmp_path), handed=[])

    assert answers[0].ok and (tmp_path / "f0").read_bytes() == b"s" * 100
    assert isinstance(answers[1], SplitGet) and answers[1].head.size == 3000
    assert not (tmp_path / "f1").exists()


def test_a_bad_url_in_a_batch_is_rejected_alone(s3backend: Backend, tmp_path: Path) -> None:
    client = s3backend.client()
    client.put_object(Bucket=s3backend.bucket, Key="fine", Body=b"fine")
    ctx = _context(s3backend.endpoint_url)
    urls = [f"s3://{s3backend.bucket}/fine", "s3://", f"s3://{s3backend.bucket}/fine"]

    answers = _batch(ctx, _jobs(urls, tmp_path))

    assert answers[0].ok and answers[2].ok
    assert not answers[1].ok and answers[1].error.kind is ErrorKind.INVALID_URL
    assert answers[1].attempts == 0
    assert (tmp_path / "f0").read_bytes() == b"fine"


def test_answers_stop_when_nobody_listens(s3backend: Backend, tmp_path: Path) -> None:
    client = s3backend.client()
    for i in range(6):
        client.put_object(Bucket=s3backend.bucket, Key=f"k{i}", Body=b"%d" % i)
    ctx = _context(s3backend.endpoint_url)
    jobs = _jobs([f"s3://{s3backend.bucket}/k{i}" for i in range(6)], tmp_path)
    told: List[int] = []

    def answer(job_id: int, outcome: Any) -> bool:
        told.append(job_id)
        return False  # the parent is gone

    assert run_gets(ctx, jobs, answer) is False
    assert len(told) == 1
    # nothing was left half-read on a pooled connection: the next batch is served
    again = _batch(ctx, _jobs([f"s3://{s3backend.bucket}/k{i}" for i in range(6)], tmp_path))
    assert all(outcome.ok for outcome in again.values())


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers."""
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
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_server_that_never_answers_times_every_job_out(
    silent_server: str, tmp_path: Path
) -> None:
    ctx = _context(silent_server, read_timeout=0.3, attempts=2)
    jobs = _jobs([f"s3://bucket/k{i}" for i in range(4)], tmp_path)

    answers = _batch(ctx, jobs)

    assert sorted(answers) == [0, 1, 2, 3]
    for outcome in answers.values():
        assert not outcome.ok
        assert outcome.error.kind is ErrorKind.TRANSIENT
        assert outcome.attempts == 2
    assert list(tmp_path.iterdir()) == []


def test_the_deadline_runs_from_when_the_request_went_out(
    silent_server: str, tmp_path: Path
) -> None:
    """Deadline = read timeout: alone, one attempt times out and the time is up. The
    batch's wait must be that attempt, not a free one before the deadline starts."""
    ctx = _context(silent_server, read_timeout=0.3, attempts=5)
    ctx.policy = dataclasses.replace(ctx.policy, deadline=0.3)
    (tmp_path / "alone").mkdir()
    (tmp_path / "batch").mkdir()

    alone = run_get(ctx, _jobs(["s3://bucket/k"], tmp_path / "alone")[0][1])
    batched = _batch(ctx, _jobs([f"s3://bucket/k{i}" for i in range(3)], tmp_path / "batch"))

    assert not alone.ok and alone.attempts == 1
    for outcome in batched.values():
        assert not outcome.ok and outcome.error.kind is alone.error.kind
        assert outcome.attempts == alone.attempts


@pytest.fixture
def drip_server() -> Iterator[str]:
    """Plain HTTP/1.1 on loopback: ``.../slow`` drips a 2,000-byte body 10 bytes at a
    time, every 20 ms (4 s in all); any other path answers a 3-byte body at once."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            slow = self.path.endswith("/slow")
            self.send_response(200)
            self.send_header("Content-Length", "2000" if slow else "3")
            self.end_headers()
            if not slow:
                self.wfile.write(b"abc")
                return
            for _ in range(200):
                if stop.is_set():
                    return
                self.wfile.write(b"x" * 10)
                self.wfile.flush()
                stop.wait(0.02)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    stop.set()
    server.shutdown()
    server.server_close()


def test_a_dripping_body_is_given_up_on_the_batch_thread(drip_server: str, tmp_path: Path) -> None:
    """A small body that trickles in must not hold up the batch's other answers: the
    batch's thread gives it up (a counted attempt) and hands it to another thread."""
    ctx = _context(drip_server)
    jobs = _jobs(["s3://bucket/slow", "s3://bucket/a", "s3://bucket/b"], tmp_path)
    handed: List[Tuple[int, Resume]] = []
    answers: Dict[int, Any] = {}

    def answer(job_id: int, outcome: Any) -> bool:
        answers[job_id] = outcome
        return True

    assert run_gets(ctx, jobs, answer, lambda job_id, resume: handed.append((job_id, resume)))

    assert sorted(answers) == [1, 2] and all(answers[i].ok for i in (1, 2))
    assert (tmp_path / "f1").read_bytes() == b"abc"
    assert [job_id for job_id, _ in handed] == [0]
    with pytest.raises(OpError, match="slower than"):
        handed[0][1].first()  # type: ignore[misc]
    assert not (tmp_path / "f0").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

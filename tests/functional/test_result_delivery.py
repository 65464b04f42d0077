"""Each request of a batched GET or HEAD reaches the scheduler as it ends, not with its batch.

A real worker (``s3op.worker.worker_main``: one thread, the fast path's
transport) and the pool's ``poll`` against a loopback HTTP server whose
``late`` object answers only once the test lets it. The worker's one thread
sends ``late`` and the next requests as one batch (its window starts at
``throttle.START_PER_THREAD`` = 4: ``late`` with ``k1``-``k3``).
The test lets ``late`` answer only after ``poll`` has handed it the other
request's result: a worker that delivered a batch's results when the batch
ends would never get that far (the server answers ``late`` anyway after a
while, and records that it was not let through). The in-process channel
holds plain results back while its worker has more than a few jobs
(``s3op.channel``), so this also checks that ``poll`` takes them without
being woken (``s3op.pool.HELD_MAX``).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from s3op import jobs
from s3op.channel import Channel
from s3op.client import ClientConfig, Credentials
from s3op.ops.runner import OpWorker
from s3op.pool import Done, Pool, Worker
from s3op.protocol import GetRequest, InfoRequest, Result
from s3op.retry import RetryPolicy
from s3op.worker import WorkerSpec, worker_main
from tests.backends import REGION

#: How long the server holds ``late`` back at most (a safety net: never reached when
#: results are handed over one at a time).
HOLD_SECONDS = 15.0


@pytest.fixture
def gate_server() -> Iterator[Tuple[str, threading.Event, Dict[str, bool]]]:
    """(endpoint, release, record): ``.../late`` answers once ``release`` is set
    (``record["released"]`` says whether it was); any other key at once."""
    release = threading.Event()
    record: Dict[str, bool] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, body: bool) -> None:
            if self.path.endswith("/late"):
                record["released"] = release.wait(HOLD_SECONDS)
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.send_header("ETag", '"900150983cd24fb0d6963f7d28e17f72"')
            self.end_headers()
            if body:
                self.wfile.write(b"abc")

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._answer(body=True)

        def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
            self._answer(body=False)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", release, record
    release.set()
    server.shutdown()
    server.server_close()


def _job(op: str, idx: int, key: str, where: Path) -> jobs.Job:
    url = f"s3://bucket/{key}"
    if op == "info":
        return jobs.InfoJob(InfoRequest(idx=idx, url=url))
    return jobs.GetJob(GetRequest(idx=idx, url=url), str(where / f"f{idx}"))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("op", ["get", "info"])
def test_a_batch_hands_each_result_over_as_its_request_ends(
    gate_server: Tuple[str, threading.Event, Dict[str, bool]], tmp_path: Path, op: str
) -> None:
    endpoint, release, record = gate_server
    config = ClientConfig(
        credentials=Credentials("testing", "testing"),
        fast=(endpoint, REGION, True),
        connect_timeout=5.0,
        read_timeout=HOLD_SECONDS * 2,
    )
    runner = OpWorker(config, RetryPolicy(max_attempts=1), jobs.Settings(tmp_tag="dlv"))
    spec = WorkerSpec(runner, threads=1, window_max=8)
    pool = Pool(spec, processes=0)
    channel = Channel(batch=4)  # 7 jobs held: plain results wait for poll's bound
    todo = [(i, _job(op, i, "late" if i == 0 else f"k{i}", tmp_path)) for i in range(7)]
    pool.workers.append(Worker(channel, None, dict(todo)))
    for msg in todo:
        channel.send(msg)  # all waiting before the worker starts: late + k1.. batch together
    worker = threading.Thread(target=worker_main, args=(channel.worker_end, spec), daemon=True)
    worker.start()
    seen: List[Done] = []
    try:
        while pool.busy():
            for event in pool.poll(timeout=None):  # only the hold's bound ends a quiet wait
                assert isinstance(event, Done)
                seen.append(event)
                if event.job_id == 1:
                    release.set()
    finally:
        release.set()
        channel.close()
        worker.join(timeout=HOLD_SECONDS)
    assert record == {"released": True}, "late answered before its batch-mate's result came"
    order = [e.job_id for e in seen]
    assert order[0] != 0 and order.index(1) < order.index(0)  # a batch-mate first, late after
    assert sorted(e.job_id for e in seen) == list(range(7))  # each once
    for event in seen:
        outcome = event.outcome
        assert isinstance(outcome, Result) and outcome.ok, outcome
        assert outcome.size == 3

"""``s3op.run_batch`` called directly, against moto: no argv, no click, no stdout.

Results go to a list (``results.append``) or to a ``ResultSink``; the exit
code is returned. ``s3backend`` puts moto's ``AWS_*`` variables in
``os.environ``, where ``run_batch`` resolves its client configuration.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any, Iterator, List

import pytest

import s3op
from s3op import BatchOptions, BatchUsageError, run_batch
from s3op.batch import LineSink
from s3op.client import ClientConfig
from s3op.credentials import CredentialCache
from s3op.job_threads import WORKER_THREAD_NAME
from s3op.options import (
    DEFAULT_THREADS,
    INFO_THREADS,
    DownloadOptions,
    PoolOptions,
    RetryOptions,
)
from s3op.protocol import (
    ErrorKind,
    ExitCode,
    GetRequest,
    InfoRequest,
    ListRequest,
    PutRequest,
    Request,
    Result,
)
from tests.backends import Backend


@pytest.fixture
def client(s3backend: Backend) -> Any:
    return s3backend.client()


def put_objects(client: Any, bk: Backend, bodies: dict) -> None:
    for key, body in bodies.items():
        client.put_object(Bucket=bk.bucket, Key=key, Body=body)


def by_idx(results: List[Result]) -> dict:
    out = {r.idx: r for r in results}
    assert len(out) == len(results), results
    return out


# ------------------------------------------------------------- the four ops


def test_put_writes_every_file(s3backend: Backend, client: Any, tmp_path: Path) -> None:
    requests = []
    for i in range(3):
        src = tmp_path / f"f{i}"
        src.write_bytes(b"x" * (i + 1))
        requests.append(PutRequest(i, s3backend.root(f"p/k{i}"), str(src), metadata={"n": i}))
    results: List[Result] = []

    code = run_batch("put", requests, BatchOptions(), results.append)

    assert code is ExitCode.OK
    assert sorted(r.idx for r in results) == [0, 1, 2] and all(r.ok for r in results)
    for i in range(3):
        body = client.get_object(Bucket=s3backend.bucket, Key=f"p/k{i}")["Body"].read()
        assert body == b"x" * (i + 1)


def test_get_downloads_to_local_paths_and_the_destination(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    put_objects(client, s3backend, {"g/a": b"alpha", "g/b": b"bravo"})
    requests = [
        GetRequest(0, s3backend.root("g/a"), local=str(tmp_path / "mine")),
        GetRequest(1, s3backend.root("g/b")),
    ]
    options = BatchOptions(download=DownloadOptions(destination=str(tmp_path / "dest")))
    results: List[Result] = []

    assert run_batch("get", requests, options, results.append) is ExitCode.OK

    got = by_idx(results)
    assert got[0].local == str(tmp_path / "mine") and got[0].size == 5
    assert (tmp_path / "mine").read_bytes() == b"alpha"
    assert (tmp_path / "dest" / "g" / "b").read_bytes() == b"bravo"


def test_a_recursive_get_fetches_everything_under_the_prefix(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    put_objects(client, s3backend, {"r/1": b"1", "r/sub/2": b"22", "other": b"no"})
    options = BatchOptions(recursive=True, download=DownloadOptions(destination=str(tmp_path)))
    results: List[Result] = []

    code = run_batch("get", [GetRequest(7, s3backend.root("r/"))], options, results.append)

    assert code is ExitCode.OK
    assert sorted(r.url for r in results) == [s3backend.root("r/1"), s3backend.root("r/sub/2")]
    assert {r.idx for r in results} == {7}
    assert (tmp_path / "r" / "sub" / "2").read_bytes() == b"22"
    assert not (tmp_path / "other").exists()


def test_info_reports_missing_objects_and_allow_missing_forgives_them(
    s3backend: Backend, client: Any
) -> None:
    put_objects(client, s3backend, {"i/here": b"12345"})
    requests = [InfoRequest(0, s3backend.root("i/here")), InfoRequest(1, s3backend.root("i/no"))]
    results: List[Result] = []

    assert run_batch("info", requests, BatchOptions(), results.append) is ExitCode.FAILED
    got = by_idx(results)
    assert got[0].ok and got[0].size == 5
    assert got[1].error is not None and got[1].error.kind is ErrorKind.NOT_FOUND

    forgiving = BatchOptions(allow_missing=True)
    assert run_batch("info", requests, forgiving, [].append) is ExitCode.OK


def test_list_one_level_and_recursive(s3backend: Backend, client: Any) -> None:
    put_objects(client, s3backend, {"l/a": b"a", "l/d/b": b"b", "l/d/e/c": b"c"})
    request = [ListRequest(3, s3backend.root("l/"))]
    level: List[Result] = []
    every: List[Result] = []

    assert run_batch("list", request, BatchOptions(), level.append) is ExitCode.OK
    assert run_batch("list", request, BatchOptions(recursive=True), every.append) is ExitCode.OK

    assert sorted((r.url, bool(r.is_prefix)) for r in level) == [
        (s3backend.root("l/a"), False),
        (s3backend.root("l/d/"), True),
    ]
    assert sorted(r.url for r in every) == [s3backend.root(k) for k in ("l/a", "l/d/b", "l/d/e/c")]
    assert {r.idx for r in level + every} == {3}


# ------------------------------------------------------------ sinks, inputs


def test_a_line_sink_writes_what_the_command_line_writes(s3backend: Backend, client: Any) -> None:
    put_objects(client, s3backend, {"s/a": b"a", "s/b": b"b"})
    stream = io.StringIO()
    listed: List[Result] = []
    request = [ListRequest(0, s3backend.root("s/"))]

    run_batch("list", request, BatchOptions(), LineSink(stream))
    run_batch("list", request, BatchOptions(), listed.append)

    lines = stream.getvalue().splitlines()
    assert sorted(lines) == sorted(r.to_json() for r in listed)
    assert [json.loads(line)["url"] for line in sorted(lines)] == [
        s3backend.root("s/a"),
        s3backend.root("s/b"),
    ]


def test_requests_may_be_an_iterator(s3backend: Backend, client: Any) -> None:
    put_objects(client, s3backend, {f"it/{i}": b"x" for i in range(5)})

    def requests() -> Iterator[Request]:
        for i in range(5):
            yield InfoRequest(i, s3backend.root(f"it/{i}"))

    results: List[Result] = []
    assert run_batch("info", requests(), BatchOptions(), results.append) is ExitCode.OK
    assert sorted(r.idx for r in results) == list(range(5))


def test_the_lazy_exports_are_the_real_ones() -> None:
    from s3op.batch import run_batch as real_run_batch
    from s3op.options import BatchOptions as RealOptions

    assert s3op.run_batch is real_run_batch and s3op.BatchOptions is RealOptions
    with pytest.raises(AttributeError):
        s3op.no_such_name  # noqa: B018


# -------------------------------------------------------- credentials, errors


class CountingCache(CredentialCache):
    """A credential cache that counts the resolutions asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def resolve(self, raw: ClientConfig) -> ClientConfig:
        self.asked += 1
        return super().resolve(raw)


def test_the_credential_cache_in_the_options_is_used(s3backend: Backend, client: Any) -> None:
    put_objects(client, s3backend, {"c/a": b"a"})
    cache = CountingCache()
    options = BatchOptions(credentials=cache)
    for _ in range(2):
        assert run_batch("info", [InfoRequest(0, s3backend.root("c/a"))], options, [].append) == 0
    assert cache.asked == 2
    assert options == BatchOptions()  # the cache is not part of what the options say


def test_unusable_client_settings_are_a_usage_error(
    s3backend: Backend, isolated_env: pytest.MonkeyPatch
) -> None:
    isolated_env.setenv("S3OP_SESSION_VARS", "{not json")
    with pytest.raises(BatchUsageError) as caught:
        run_batch("info", [InfoRequest(0, s3backend.root("k"))], BatchOptions(), [].append)
    assert caught.value.exit_code == ExitCode.USAGE


def test_retries_and_injected_failures_come_from_the_options(s3backend: Backend) -> None:
    options = BatchOptions(retry=RetryOptions(retries=2, inject_failure_rate=100))
    results: List[Result] = []

    code = run_batch("info", [InfoRequest(0, s3backend.root("k"))], options, results.append)

    assert code is ExitCode.TRANSIENT
    (result,) = results
    assert result.attempts == 2 and result.error is not None
    assert "injected failure" in result.error.message


# ------------------------------------------------------------- interrupts


class InterruptingSink:
    """A sink that gets Ctrl-C with the first result."""

    def __init__(self) -> None:
        self.seen: List[object] = []

    def emit(self, item: Any) -> None:
        self.seen.append(item)
        raise KeyboardInterrupt

    def flush(self) -> None:
        pass


def test_ctrl_c_stops_the_workers_and_gives_interrupted(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    put_objects(client, s3backend, {f"x/{i}": b"x" * 100 for i in range(8)})
    requests = [GetRequest(i, s3backend.root(f"x/{i}")) for i in range(8)]
    options = BatchOptions(
        pool=PoolOptions(num_workers=1), download=DownloadOptions(destination=str(tmp_path))
    )
    sink = InterruptingSink()

    code = run_batch("get", requests, options, sink)

    assert code is ExitCode.INTERRUPTED and len(sink.seen) == 1
    assert multiprocessing.active_children() == []
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert leftovers == []


class BrokenSink:
    """A sink whose stream broke (the reader went away)."""

    def emit(self, item: Any) -> None:
        raise BrokenPipeError("the reader went away")

    def flush(self) -> None:
        pass


def test_a_broken_sink_is_raised_and_no_worker_outlives_it(s3backend: Backend, client: Any) -> None:
    put_objects(client, s3backend, {"b/a": b"a"})
    options = BatchOptions(pool=PoolOptions(num_workers=1))
    with pytest.raises(BrokenPipeError):
        run_batch("info", [InfoRequest(0, s3backend.root("b/a"))], options, BrokenSink())
    assert multiprocessing.active_children() == []


def test_run_batch_works_off_the_main_thread(s3backend: Backend, client: Any) -> None:
    """A Dask worker runs shards on threads: no signal handler may be set there."""
    put_objects(client, s3backend, {"t/a": b"a"})
    outcome: List[object] = []

    def shard() -> None:
        results: List[Result] = []
        request = [InfoRequest(0, s3backend.root("t/a"))]
        outcome.append(run_batch("info", request, BatchOptions(), results.append))
        outcome.extend(results)

    thread = threading.Thread(target=shard)
    thread.start()
    thread.join(60)
    assert outcome[0] is ExitCode.OK and isinstance(outcome[1], Result) and outcome[1].ok


# ------------------------------------------------------------- threads


def _most_threads_while_answering(count: int, options: BatchOptions) -> int:
    """Run an info batch of ``count`` HEADs (of missing keys) in-process; the most
    job threads alive while its results came back."""
    seen: List[int] = []

    def note(result: Result) -> None:
        assert result.error is not None and result.error.kind is ErrorKind.NOT_FOUND
        seen.append(sum(t.name.startswith(WORKER_THREAD_NAME) for t in threading.enumerate()))

    requests = [InfoRequest(i, f"s3://{_bucket()}/missing-{i}") for i in range(count)]
    run_batch("info", requests, options, note)
    assert len(seen) == count
    return max(seen)


def _bucket() -> str:
    return os.environ["S3CLIENT_TEST_BUCKET"]


def test_threads_start_as_work_waits_for_them(
    s3backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3CLIENT_TEST_BUCKET", s3backend.bucket)
    alone = BatchOptions(pool=PoolOptions(num_workers=0), allow_missing=True)
    assert _most_threads_while_answering(1, alone) == 1  # not DEFAULT_THREADS
    # a thread takes up to 32 HEADs (GET_BATCH) at a time; others start as work waits
    assert 2 <= _most_threads_while_answering(DEFAULT_THREADS * 4, alone) <= DEFAULT_THREADS
    assert 2 <= _most_threads_while_answering(DEFAULT_THREADS * 4 + 1, alone) <= INFO_THREADS
    capped = BatchOptions(pool=PoolOptions(num_workers=0, threads=2), allow_missing=True)
    assert _most_threads_while_answering(500, capped) == 2

"""s3op.shards: a manifest checked and cut into shards in one streaming pass."""

from __future__ import annotations

import io
import json
from typing import Any, List

import pytest

from s3op.options import BatchOptions, BatchUsageError, PoolOptions
from s3op.protocol import ErrorKind, ExitCode, GetRequest, PutRequest
from s3op.shards import (
    lost_shard,
    plan_shards,
    read_shard,
    shard_options,
    shard_requests,
)


def manifest(rows: List[Any]) -> io.BytesIO:
    return io.BytesIO(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()
    )


def all_requests(op: str, data: io.BytesIO, size: int) -> List[Any]:
    plan = plan_shards(op, data, size)
    return [req for s in plan.shards for req in shard_requests(op, s, read_shard(data, s))]


def test_shards_cover_every_line_with_the_one_machine_idx() -> None:
    rows: List[Any] = [{"url": f"s3://b/k{i}"} for i in range(10)]
    rows[3:3] = ["", "   "]  # blank lines count as lines: idx defaults are line numbers
    data = manifest(rows)
    plan = plan_shards("get", data, 4)
    assert [s.count for s in plan.shards] == [4, 4, 2]
    assert plan.requests == 10
    reqs = all_requests("get", data, 4)
    assert reqs[:4] == [
        GetRequest(0, "s3://b/k0"),
        GetRequest(1, "s3://b/k1"),
        GetRequest(2, "s3://b/k2"),
        GetRequest(5, "s3://b/k3"),
    ]
    assert [r.idx for r in reqs] == [0, 1, 2, 5, 6, 7, 8, 9, 10, 11]


def test_plan_leaves_the_stream_where_it_started() -> None:
    data = manifest([{"url": "s3://b/a"}, {"url": "s3://b/b"}])
    plan_shards("info", data, 1)
    assert data.tell() == 0


@pytest.mark.parametrize(
    "bad, message",
    [
        ("{nope", "line 3: not valid JSON"),
        ('{"url": "http://x/y"}', "line 3: field 'url' is not an s3:// URL"),
        ('{"url": "s3://b/k", "rnage": "bytes=0-1"}', "line 3: unknown field 'rnage'"),
        ('{"url": "s3://b/k", "idx": 0}', "line 3: idx 0 is not above idx 1"),
    ],
)
def test_a_bad_line_anywhere_is_a_usage_error(bad: str, message: str) -> None:
    data = manifest([{"url": "s3://b/a"}, {"url": "s3://b/b"}, bad, {"url": "s3://b/c"}])
    with pytest.raises(BatchUsageError, match=message):
        plan_shards("get", data, 1)


def test_bytes_that_are_not_utf8_are_a_usage_error() -> None:
    data = io.BytesIO(b'{"url": "s3://b/\xff"}\n')
    with pytest.raises(BatchUsageError, match="not UTF-8"):
        plan_shards("get", data, 10)


def test_two_puts_to_one_key_are_refused() -> None:
    rows = [{"url": "s3://b/k", "local": "a"}, {"url": "s3://b/k", "local": "b"}]
    with pytest.raises(BatchUsageError, match="duplicate key in one batch: s3://b/k"):
        plan_shards("put", manifest(rows), 1)


def test_empty_manifest_and_bad_shard_size() -> None:
    with pytest.raises(BatchUsageError, match="empty batch"):
        plan_shards("get", manifest(["", ""]), 5)
    with pytest.raises(BatchUsageError, match="at least one"):
        plan_shards("get", manifest([{"url": "s3://b/k"}]), 0)


def test_lost_shard_fails_each_request() -> None:
    data = manifest([{"url": f"s3://b/k{i}", "local": f"/tmp/{i}"} for i in range(3)])
    shard = plan_shards("put", data, 3).shards[0]
    out = lost_shard("put", shard, read_shard(data, shard), ErrorKind.WORKER_DIED, "gone")
    lines = [json.loads(line) for line in out.lines.splitlines()]
    assert [line["idx"] for line in lines] == [0, 1, 2]
    assert {line["error"]["kind"] for line in lines} == {"worker_died"}
    assert (out.results, out.failures, out.exit_code) == (3, 3, ExitCode.TRANSIENT)
    assert shard_requests("put", shard, read_shard(data, shard))[0] == PutRequest(
        0, "s3://b/k0", "/tmp/0"
    )


def test_shard_options_carry_no_credentials_and_may_repeat() -> None:
    from s3op.credentials import CredentialCache

    given = BatchOptions(credentials=CredentialCache(), overwrite=False)
    sent = shard_options(given)
    assert sent.credentials is None and sent.may_repeat and not sent.overwrite
    assert sent.pool == PoolOptions(num_workers=0)
    forked = shard_options(BatchOptions(pool=PoolOptions(num_workers=3, threads=8)))
    assert forked.pool == PoolOptions(num_workers=3, threads=8)


def test_dask_is_for_the_command_line_and_a_manifest(tmp_path: Any) -> None:
    from s3op.cli_batch import parse_batch_argv
    from s3op.cli_dask import run_on_dask

    path = tmp_path / "m.jsonl"
    path.write_text('{"url": "s3://b/k"}\n')
    with pytest.raises(BatchUsageError, match="not in s3op serve"):
        parse_batch_argv(["get", "--inputs", str(path), "--dask", "tcp://127.0.0.1:1"])
    with pytest.raises(BatchUsageError, match="give --inputs, and no URLs"):
        run_on_dask("get", ["s3://b/k"], None, {}, "tcp://127.0.0.1:1", 10, False)


def test_a_bad_manifest_is_refused_before_any_scheduler_is_asked(tmp_path: Any) -> None:
    """Nothing listens at the address: the manifest's error, not the connection's."""
    from s3op.cli_dask import run_on_dask

    path = tmp_path / "m.jsonl"
    path.write_text('{"url": "s3://b/k"}\n{"url": 3}\n')
    with open(path, encoding="utf-8") as inputs:
        with pytest.raises(BatchUsageError, match="line 2: url must be a string"):
            run_on_dask("info", [], inputs, {}, "tcp://127.0.0.1:1", 10, False)


def test_cluster_progress_adds_each_shards_counts_to_the_one_machine_tracker() -> None:
    """Lost shards' counts (failures by kind) and shards done reach the snapshot and the
    summary line as the one machine's tracker counts them."""
    from s3op.cluster_progress import ClusterProgress
    from s3op.progress import summary_line

    data = manifest([{"url": f"s3://b/k{i}"} for i in range(5)])
    plan = plan_shards("info", data, 2)
    seen: List[Any] = []
    progress = ClusterProgress("info", plan, seen.append)
    assert progress.tracker.snapshot().total == 5 and progress.tracker.snapshot().total_known
    for shard in plan.shards:
        text = read_shard(data, shard)
        progress.update(lost_shard("info", shard, text, ErrorKind.WORKER_DIED, "gone"))
    last = progress.finish()
    assert last is seen[-1] and last.final
    assert (last.done, last.total, last.failures, last.bytes) == (5, 5, 5, 0)
    assert (last.shards_done, last.shards) == (3, 3)
    assert "5 done (0 ok, 5 worker_died)" in summary_line("info", progress.tracker)

"""Progress, the summary line and the bandwidth cap's values, against moto.

The command line in a subprocess (stderr a pipe: no bar unless forced),
``s3op serve``'s parser, and the library's ``progress=`` callable. The
real terminal is tested on SeaweedFS (tests/integration/test_progress_pty.py).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, List

import pytest

from s3client import S3, BandwidthError, ProgressSnapshot
from s3op.cli_batch import parse_batch_argv
from s3op.options import BatchUsageError
from tests.backends import Backend
from tests.functional.test_cli import manifest, s3op

COUNT = 60


@pytest.fixture
def uploaded(s3backend: Backend, tmp_path: Path) -> List[str]:
    """COUNT small objects; their URLs."""
    client = s3backend.client()
    for i in range(COUNT):
        client.put_object(Bucket=s3backend.bucket, Key=f"p/k{i:02d}", Body=b"x" * (100 + i))
    return [s3backend.root(f"p/k{i:02d}") for i in range(COUNT)]


def _sorted_lines(stdout: str) -> List[Any]:
    lines = [json.loads(line) for line in stdout.splitlines()]
    for line in lines:
        line.pop("local", None)  # each run downloads to a directory of its own
    return sorted(lines, key=lambda line: line["idx"])


def test_forced_progress_draws_on_a_pipe_and_leaves_stdout_as_it_was(
    uploaded: List[str], tmp_path: Path
) -> None:
    inputs = manifest(tmp_path / "m.jsonl", [{"url": url} for url in uploaded])
    plain = s3op("get", "--inputs", inputs, "--destination", "a", cwd=tmp_path)
    shown = s3op("get", "--inputs", inputs, "--destination", "b", "--progress", cwd=tmp_path)
    assert plain.code == shown.code == 0
    assert plain.stderr == ""  # not a terminal: no bar, no summary
    assert _sorted_lines(shown.stdout) == _sorted_lines(plain.stdout)
    frames = re.split(r"[\r\n]", shown.stderr)
    assert any(re.match(rf"get: {COUNT}/{COUNT} 100%\|", frame) for frame in frames), frames
    summary = [frame for frame in frames if frame.startswith("s3op get:")]
    assert len(summary) == 1
    assert re.fullmatch(rf"s3op get: {COUNT} done \({COUNT} ok\); .+; 0 retries", summary[0])


def test_the_summary_counts_outcomes_and_retries(uploaded: List[str], tmp_path: Path) -> None:
    urls = [*uploaded[:10], uploaded[0] + "-missing"]
    inputs = manifest(tmp_path / "m.jsonl", [{"url": url} for url in urls])
    run = s3op(
        "get", "--inputs", inputs, "--progress", "--inject-failure-rate", "40",
        "--retries", "20", cwd=tmp_path,
    )  # fmt: skip
    assert run.code == 1
    summary = run.stderr.splitlines()[-1]
    match = re.fullmatch(r"s3op get: 11 done \(10 ok, 1 not_found\); .+; (\d+) retries", summary)
    assert match is not None, run.stderr
    reported = sum(json.loads(line).get("attempts", 1) - 1 for line in run.stdout.splitlines())
    assert reported > 0  # 40% of attempts failed on purpose, each retried
    assert int(match.group(1)) >= reported  # the loop's own count: every retry, none missed


def test_no_progress_wins(uploaded: List[str], tmp_path: Path) -> None:
    run = s3op("get", uploaded[0], "--progress", "--no-progress", cwd=tmp_path)
    assert run.code == 0 and run.stderr == ""


@pytest.mark.parametrize("bad", ["5XB/s", "fast", "0", "-3MB/s", "1KB/s/s"])
def test_a_bad_max_bandwidth_is_refused_before_anything_runs(
    bad: str, s3backend: Backend, tmp_path: Path
) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"data")
    run = s3op("put", str(src), s3backend.root("k"), "--max-bandwidth", bad, cwd=tmp_path)
    assert run.code == 2
    assert "Invalid value for '--max-bandwidth'" in run.stderr
    assert run.stdout == ""
    listed = s3backend.client().list_objects_v2(Bucket=s3backend.bucket)
    assert listed.get("KeyCount", 0) == 0  # nothing was sent
    with pytest.raises(BatchUsageError) as refused:  # s3op serve's parser too
        parse_batch_argv(["put", str(src), s3backend.root("k"), "--max-bandwidth", bad])
    assert refused.value.format().startswith("Error: Invalid value for '--max-bandwidth': ")
    with pytest.raises(BandwidthError):
        S3(s3root=s3backend.root(), tmproot=str(tmp_path), max_bandwidth=bad)


def test_a_capped_batch_moves_the_same_bytes(s3backend: Backend, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    with S3(s3root=s3backend.root("cap"), tmproot=str(tmp_path), max_bandwidth="64MiB/s") as s3:
        s3.put("obj", data)
        assert s3.get("obj").blob == data
    command = parse_batch_argv(["get", s3backend.root("cap/obj"), "--max-bandwidth", "1.5MiB/s"])
    assert command.options.max_bandwidth == 1_572_864


def _check_series(snaps: List[ProgressSnapshot], total: int) -> None:
    assert snaps, "no snapshot"
    assert [s.final for s in snaps].count(True) == 1 and snaps[-1].final
    for before, after in zip(snaps, snaps[1:]):
        assert after.done >= before.done and after.bytes >= before.bytes
        assert after.elapsed >= before.elapsed
    last = snaps[-1]
    assert last.done == last.total == total and last.total_known
    assert last.failures == 0


def test_the_library_hands_snapshots_to_a_progress_callable(
    s3backend: Backend, tmp_path: Path
) -> None:
    values = {f"k{i:03d}": os.urandom(500 + i) for i in range(COUNT)}
    with S3(s3root=s3backend.root("lib"), tmproot=str(tmp_path)) as s3:
        puts: List[ProgressSnapshot] = []
        s3.put_many(list(values.items()), progress=puts.append)
        _check_series(puts, COUNT)
        assert puts[-1].bytes == puts[-1].total_bytes == sum(map(len, values.values()))

        gets: List[ProgressSnapshot] = []
        objs = s3.get_many(list(values), progress=gets.append)
        assert [o.blob for o in objs] == list(values.values())
        _check_series(gets, COUNT)
        assert gets[-1].bytes == sum(map(len, values.values()))

        listed: List[ProgressSnapshot] = []
        assert len(s3.list_recursive(progress=listed.append)) == COUNT
        _check_series(listed, COUNT)

        quiet: List[ProgressSnapshot] = []
        s3.info_many(list(values)[:3])  # no progress= : nothing counted
        s3.info("k000", progress=quiet.append)
        _check_series(quiet, 1)
        with pytest.raises(TypeError, match="progress="):
            s3.info("k000", progress="yes")  # type: ignore[arg-type]

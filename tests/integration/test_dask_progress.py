"""Progress of a Dask cluster run, on the one machine's tracker and bar (issue 17's).

A ``LocalCluster`` of 2 worker processes against SeaweedFS, as in
``test_dask_cluster``. Checked here:

- ``s3client.distributed.run(..., progress=callable)`` hands the callable
  ``ProgressSnapshot`` s that only grow, with the request total known from
  the start, and a last one (``final``) at the total: every object, its
  bytes, its failures, every shard;
- ``s3op info --dask`` with stderr on a pty draws the one machine's bar
  (objects done/total, bytes, failures, shards) ending at the total, and its
  summary line; stdout holds only the result lines;
- ``--progress`` on a pipe gives the bar and the summary, ``--no-progress``
  and the default on a pipe give nothing on stderr.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

distributed = pytest.importorskip("distributed")

from s3client.distributed import run  # noqa: E402
from s3op.protocol import ExitCode, ProgressSnapshot  # noqa: E402
from tests.backends import Backend  # noqa: E402
from tests.functional.test_cli import s3op  # noqa: E402
from tests.integration import test_dask_cluster  # noqa: E402
from tests.integration.test_progress_pty import _run_on_pty  # noqa: E402

REQUESTS = 200
SHARD_SIZE = 16
SHARDS = -(-REQUESTS // SHARD_SIZE)  # 13
BAR = re.compile(r"info: (\d+)/(\d+) +(\d+)%\|.*, (\d+) failed, (\d+)/(\d+) shards")
SUMMARY = re.compile(r"s3op info: (\d+) done \((\d+) ok, (\d+) not_found\)")

pytestmark = pytest.mark.slow

#: The same LocalCluster fixtures as the other Dask tests (a cluster of this module's own).
cluster, client = test_dask_cluster.cluster, test_dask_cluster.client


@pytest.fixture
def info_manifest(s3backend: Backend, tmp_path: Path) -> Tuple[str, int, int]:
    """200 info requests, every 7th of a missing key; (manifest, failures, bytes)."""
    s3 = s3backend.client()
    rows: List[Dict[str, Any]] = []
    missing = nbytes = 0
    for i in range(REQUESTS):
        if i % 7 == 0:
            rows.append({"url": s3backend.root(f"prog/missing{i}")})
            missing += 1
            continue
        body = b"p" * (100 + i)
        s3.put_object(Bucket=s3backend.bucket, Key=f"prog/k{i}", Body=body)
        rows.append({"url": s3backend.root(f"prog/k{i}")})
        nbytes += len(body)
    path = tmp_path / "info.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path), missing, nbytes


def test_a_progress_callable_gets_snapshots_up_to_the_total(
    client: Any, info_manifest: Tuple[str, int, int]
) -> None:
    manifest, missing, nbytes = info_manifest
    seen: List[ProgressSnapshot] = []
    with run("info", manifest, client, shard_size=SHARD_SIZE, progress=seen.append) as batch:
        results = list(batch)
    assert len(results) == REQUESTS and batch.exit_code is ExitCode.FAILED
    assert seen, "no snapshot"
    last = seen[-1]
    assert last.final and [s.final for s in seen].count(True) == 1
    assert (last.done, last.total, last.total_known) == (REQUESTS, REQUESTS, True)
    assert (last.failures, last.bytes) == (missing, nbytes)
    assert (last.shards_done, last.shards) == (SHARDS, SHARDS)
    assert all(s.total == REQUESTS and s.total_known and s.shards == SHARDS for s in seen)
    dones = [(s.done, s.shards_done, s.bytes, s.failures) for s in seen]
    assert dones == sorted(dones)  # never goes back


def test_a_progress_true_without_a_terminal_and_a_bad_value(
    client: Any, info_manifest: Tuple[str, int, int], capfd: Any
) -> None:
    """``progress=True`` draws only on a terminal (pytest's stderr is not one);
    anything but a bool, None or a callable is refused before anything runs."""
    manifest, _, _ = info_manifest
    with run("info", manifest, client, shard_size=SHARD_SIZE, progress=True) as batch:
        assert len(list(batch)) == REQUESTS
    assert capfd.readouterr().err == ""
    with pytest.raises(TypeError, match="progress="):
        run("info", manifest, client, progress="yes")


def test_the_bar_on_a_terminal_is_the_one_machines(
    cluster: Any, info_manifest: Tuple[str, int, int], tmp_path: Path
) -> None:
    manifest, missing, _ = info_manifest
    argv = [sys.executable, "-m", "s3op", "info", "--inputs", manifest]
    argv += ["--dask", cluster.scheduler_address, "--shard-size", str(SHARD_SIZE)]
    stdout = tmp_path / "stdout.jsonl"
    code, frames, last = _run_on_pty(argv, stdout)
    final = "\n".join(line.rstrip() for line in last).strip()
    assert code == int(ExitCode.FAILED), final
    bars = [BAR.findall(frame)[-1] for frame in frames if BAR.findall(frame)]
    assert bars, final
    counts = [(int(done), int(shards)) for done, _, _, _, shards, _ in bars]
    assert counts == sorted(counts)
    assert all(int(total) == REQUESTS and int(of) == SHARDS for _, total, _, _, _, of in bars)
    ended = BAR.findall(final)[-1]
    assert ended == (str(REQUESTS), str(REQUESTS), "100", str(missing), str(SHARDS), str(SHARDS))
    summary = SUMMARY.search(final)
    assert summary is not None, final
    assert summary.groups() == (str(REQUESTS), str(REQUESTS - missing), str(missing))
    text = stdout.read_text()
    assert "\r" not in text and "\x1b" not in text
    assert sorted(json.loads(line)["idx"] for line in text.splitlines()) == list(range(REQUESTS))


def test_progress_flags_are_honoured_on_a_pipe(
    cluster: Any, info_manifest: Tuple[str, int, int], tmp_path: Path
) -> None:
    manifest, missing, _ = info_manifest
    base = ["info", "--inputs", manifest, "--dask", cluster.scheduler_address]
    base += ["--shard-size", str(SHARD_SIZE)]
    shown = s3op(*base, "--progress", cwd=tmp_path, timeout=300)
    assert shown.code == int(ExitCode.FAILED), shown.stderr
    ended = BAR.findall(shown.stderr)[-1]
    assert ended == (str(REQUESTS), str(REQUESTS), "100", str(missing), str(SHARDS), str(SHARDS))
    assert SUMMARY.search(shown.stderr) is not None, shown.stderr
    for flags in (["--no-progress"], []):
        quiet = s3op(*base, *flags, cwd=tmp_path, timeout=300)
        assert quiet.code == int(ExitCode.FAILED)
        assert quiet.stderr == "", (flags, quiet.stderr)
        assert outcomes(quiet.stdout) == outcomes(shown.stdout)


def outcomes(stdout: str) -> List[Tuple[int, bool]]:
    return sorted((line["idx"], line["ok"]) for line in map(json.loads, stdout.splitlines()))

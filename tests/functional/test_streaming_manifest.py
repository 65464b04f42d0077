"""Manifests streamed through the real ``s3op`` binary, against moto (issue 18).

A manifest is checked whole before anything is sent (a bad line far down is
still exit 2 with nothing written), idx must ascend, a put's duplicate key is
found however far apart the lines are, and a manifest longer than the
scheduler's window (``s3op.feed.FEED_WINDOW``) gives every result, from a
file and from stdin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from s3op.feed import FEED_WINDOW
from tests.backends import Backend
from tests.functional.test_cli import REPO, keys_in, manifest, s3op

LINES = FEED_WINDOW * 12  # many windows: the feed refills again and again


@pytest.fixture
def client(s3backend: Backend) -> Any:
    return s3backend.client()


def put_rows(bk: Backend, tmp_path: Path, count: int) -> List[Dict[str, Any]]:
    src = tmp_path / "src"
    src.write_bytes(b"x")
    return [{"url": bk.root(f"k{i}"), "local": str(src)} for i in range(count)]


@pytest.mark.parametrize(
    "bad,needle",
    [
        ("not json", f"line {LINES}: not valid JSON"),
        ('{"idx": 0, "url": "s3://b/k", "local": "x"}', f"line {LINES}: idx 0 is not above"),
        ('{"url": "s3://b/k"}', f"line {LINES}: missing field 'local'"),
    ],
)
def test_a_bad_last_line_sends_nothing(
    s3backend: Backend, client: Any, tmp_path: Path, bad: str, needle: str
) -> None:
    rows = put_rows(s3backend, tmp_path, LINES - 1)
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + bad + "\n")
    run = s3op("put", "--inputs", str(path), cwd=tmp_path)
    assert (run.code, run.stdout) == (2, ""), run.stderr
    assert needle in run.stderr
    assert keys_in(client, s3backend) == []  # not even line 1 ran


def test_a_put_key_given_twice_far_apart_sends_nothing(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    rows = put_rows(s3backend, tmp_path, LINES)
    rows[-1]["url"] = rows[3]["url"]
    run = s3op("put", "--inputs", manifest(tmp_path / "m.jsonl", rows), cwd=tmp_path)
    assert (run.code, run.stdout) == (2, "")
    assert f"duplicate key in one batch: {rows[3]['url']}" in run.stderr
    assert keys_in(client, s3backend) == []


def info_rows(bk: Backend, client: Any, count: int) -> List[Dict[str, Any]]:
    for name in ("a", "b", "c"):
        client.put_object(Bucket=bk.bucket, Key=name, Body=name.encode() * 3)
    return [{"url": bk.root("abc"[i % 3]), "idx": 2 * i} for i in range(count)]


def check_every_result(stdout: str, rows: List[Dict[str, Any]]) -> None:
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert sorted(line["idx"] for line in lines) == [r["idx"] for r in rows]
    by_idx = {line["idx"]: line for line in lines}
    assert all(by_idx[r["idx"]]["url"] == r["url"] and by_idx[r["idx"]]["size"] == 3 for r in rows)


def test_a_manifest_of_many_windows_gives_every_result(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    rows = info_rows(s3backend, client, LINES)
    run = s3op("info", "--inputs", manifest(tmp_path / "m.jsonl", rows), cwd=tmp_path)
    assert run.code == 0, run.stderr
    check_every_result(run.stdout, rows)


def test_a_manifest_on_stdin_is_spooled_and_gives_every_result(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    """stdin cannot be read twice: the checking pass copies it to a private temp
    file (unlinked at once) and the run reads that; a bad line still sends nothing."""
    rows = info_rows(s3backend, client, LINES)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "s3op", "info", "--inputs", "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    check_every_result(proc.stdout, rows)

    bad = subprocess.run(
        [sys.executable, "-m", "s3op", "info", "--inputs", "-"],
        input=text + '{"url": "s3://b/k", "idx": 1}\n',
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert (bad.returncode, bad.stdout) == (2, "")
    assert f"line {LINES + 1}: idx 1 is not above" in bad.stderr

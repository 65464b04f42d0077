"""``copy_many`` against a fake engine: how the sources' HEAD batch is sent."""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

import pytest

from s3client import S3
from s3client.operations import INFO_START_WINDOW, SOURCE_HEAD_THREADS
from s3op.cli_batch import parse_batch_argv
from s3op.protocol import Request, Result
from tests.unit.client_fakes import clear_env, with_engine

ROOT = "s3://bkt/root"


@pytest.fixture
def tmproot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    clear_env(monkeypatch)
    monkeypatch.setenv("S3CLIENT_TMPROOT", str(tmp_path))
    return tmp_path


def found(op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
    """Every source is there (10 bytes); every copy succeeds."""
    return [Result(req.idx, req.url, size=10, etag='"e"') for req in requests]


def pairs(count: int) -> List[tuple]:
    return [(f"src/{i:05d}", f"dst/{i:05d}") for i in range(count)]


def test_many_sources_are_headed_with_a_copys_requests_in_flight(tmproot: Path) -> None:
    with S3(s3root=ROOT) as s3:
        engine = with_engine(s3, found)
        s3.copy_many(pairs(INFO_START_WINDOW + 1))
    (info_op, heads, flags), (copy_op, copies, _) = engine.calls
    assert (info_op, copy_op) == ("info", "copy")
    assert len(heads) == len(copies) == INFO_START_WINDOW + 1
    assert flags[flags.index("--threads") + 1] == str(SOURCE_HEAD_THREADS)


def test_a_few_sources_keep_the_engines_default_threads(tmproot: Path) -> None:
    with S3(s3root=ROOT) as s3:
        engine = with_engine(s3, found)
        s3.copy_many(pairs(INFO_START_WINDOW))
    (_, _, flags), _ = engine.calls
    assert "--threads" not in flags


def test_the_users_threads_win_over_the_heads_own(tmproot: Path) -> None:
    with S3(s3root=ROOT, threads=8) as s3:
        engine = with_engine(s3, found)
        s3.copy_many(pairs(INFO_START_WINDOW + 1))
    (op, heads, flags), _ = engine.calls
    command = parse_batch_argv([op, *flags, *(req.url for req in heads)], environ={})
    assert command.options.pool.threads == 8

"""Run the sync conformance tests (tests/sync_conformance.py) on SeaweedFS.

SeaweedFS lists a prefix depth first (``a/x`` before ``a b``), not in S3's
byte order, so its engines run with ``S3OP_SYNC_ORDER=path``; a test below
shows what happens without it: the sync stops, and deletes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from s3client import S3
from tests.backends import Backend
from tests.sync_conformance import *  # noqa: F401,F403
from tests.sync_conformance import make_tree, on_disk, upload


@pytest.fixture(autouse=True)
def path_order(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("S3OP_SYNC_ORDER", "path")
    yield


def test_sync_in_byte_order_stops_before_a_wrong_delete(
    s3backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3OP_SYNC_ORDER", "byte")
    upload(s3backend, "p/", {"a b": b"1", "a/x": b"2"})
    make_tree(tmp_path / "dst", {"a b": b"1", "a/x": b"2"})
    with S3() as s3:
        summary = s3.sync(s3backend.root("p"), str(tmp_path / "dst"), delete=True)
    assert summary.deleted == [] and len(summary.failed) == 1
    assert "S3OP_SYNC_ORDER=path" in str(summary.errors[0])
    assert on_disk(tmp_path / "dst") == {"a b": b"1", "a/x": b"2"}

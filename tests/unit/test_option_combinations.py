"""Options that meet across features: what composes, and what is refused up front."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from s3client import S3
from s3op.distributed import refuse_on_cluster
from s3op.journal import refuse_unjournaled
from s3op.options import BatchOptions, BatchUsageError
from s3op.progress import ProgressTracker
from s3op.progress_sink import counted
from s3op.protocol import DeleteRequest, Result


def test_a_dry_run_keeps_no_journal(tmp_path: Path) -> None:
    refuse_unjournaled("get", BatchOptions(journal=str(tmp_path)))  # allowed
    with pytest.raises(BatchUsageError, match="dry run"):
        refuse_unjournaled("get", BatchOptions(journal=str(tmp_path), dry_run=True))


@pytest.mark.parametrize(
    "options, word",
    [(BatchOptions(max_bandwidth=10**6), "max-bandwidth"), (BatchOptions(journal="/x"), "journal")],
)
def test_a_cluster_run_refuses_what_only_one_engine_can_keep(options: BatchOptions, word: str):
    refuse_on_cluster(BatchOptions())  # plain options pass
    with pytest.raises(BatchUsageError, match=word):
        refuse_on_cluster(options)


def test_counting_for_progress_keeps_the_batch_length() -> None:
    """run_batch sizes the pool and groups deletes by len(): progress must not hide it."""
    tracker = ProgressTracker("delete")
    requests = [DeleteRequest(i, f"s3://b/k{i}") for i in range(5000)]
    wrapped = counted("delete", requests, tracker, recursive=False)
    assert len(wrapped) == 5000  # type: ignore[arg-type]
    assert [r.idx for r in wrapped] == list(range(5000))
    assert tracker.total == 5000 and tracker.total_known


def test_a_recursive_delete_grows_its_total_as_keys_are_found() -> None:
    tracker = ProgressTracker("delete")
    list(counted("delete", [DeleteRequest(0, "s3://b/p/")], tracker, recursive=True))
    assert not tracker.total_known  # its listing is open
    tracker.found(3, 30)
    for i in range(3):
        tracker.result(Result(idx=0, url=f"s3://b/p/{i}", ok=True))
    tracker.listing_ended()
    assert tracker.total == 3 and tracker.done == 3 and tracker.total_known


def test_a_sync_total_is_what_it_did() -> None:
    tracker = ProgressTracker("sync")
    for i in range(4):
        tracker.result(Result(idx=0, url=f"s3://b/{i}", ok=True))
    assert tracker.total == 4 and not tracker.total_known


def test_dry_lines_move_no_bytes() -> None:
    tracker = ProgressTracker("get")
    tracker.expect()
    tracker.result(Result(idx=0, url="s3://b/k", ok=True, size=10**9, dry=True))
    assert tracker.bytes == 0


@pytest.mark.parametrize(
    "name", ["delete", "delete_many", "delete_recursive", "copy", "copy_many", "sync"]
)
def test_every_batch_method_takes_progress(name: str) -> None:
    param = inspect.signature(getattr(S3, name)).parameters.get("progress")
    assert param is not None and param.kind is inspect.Parameter.KEYWORD_ONLY

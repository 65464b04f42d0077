"""Progress counting, the summary line, and bandwidth values (pure logic, no server)."""

from __future__ import annotations

import io
import multiprocessing
import os
import threading
from pathlib import Path
from typing import List

import pytest

from s3op import bandwidth, jobs
from s3op.bandwidth import BandwidthError, parse_rate
from s3op.manifest_stream import ManifestSource
from s3op.progress import ProgressSnapshot, ProgressTracker, Throttled, summary_line
from s3op.progress_sink import ProgressSink, counted, wants_progress, wants_summary
from s3op.protocol import ErrorKind, GetRequest, ListRequest, PutRequest, Result
from s3op.retry import RetryPolicy, run_with_retries, tallying_retries


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_put_totals_come_from_the_files_and_results_fill_them(tmp_path: object) -> None:
    paths = []
    for i, size in enumerate([10, 20, 30]):
        path = os.path.join(str(tmp_path), f"f{i}")
        with open(path, "wb") as f:
            f.write(b"x" * size)
        paths.append(path)
    clock = Clock()
    tracker = ProgressTracker("put", clock)
    reqs = [PutRequest(i, f"s3://b/k{i}", p) for i, p in enumerate(paths)]
    reqs.append(PutRequest(3, "s3://b/k3", os.path.join(str(tmp_path), "missing")))
    seen = list(counted("put", iter(reqs), tracker, recursive=False))
    assert seen == reqs
    snap = tracker.snapshot()
    assert (snap.total, snap.total_known, snap.total_bytes, snap.done) == (4, True, 60, 0)
    tracker.result(Result(0, "s3://b/k0", size=10, attempts=3))
    tracker.result(Result(1, "s3://b/k1", skipped="exists"))
    tracker.result(Result.failure(3, "s3://b/k3", ErrorKind.LOCAL_FILE_MISSING, "gone", 1))
    clock.now += 2.0
    snap = tracker.snapshot()
    assert (snap.done, snap.bytes, snap.failures, snap.retries) == (3, 10, 1, 2)
    assert snap.elapsed == 2.0 and snap.rate == 5.0 and not snap.final
    line = summary_line("put", tracker, retries=7)
    assert line == (
        "s3op put: 3 done (1 ok, 1 skipped, 1 local_file_missing); 10 B in 2.0s (5 B/s); 7 retries"
    )


def test_the_total_is_unknown_while_requests_are_still_read() -> None:
    tracker = ProgressTracker("get")
    feed = counted(
        "get", iter([GetRequest(0, "s3://b/a"), GetRequest(1, "s3://b/b")]), tracker, False
    )
    next(feed)
    assert tracker.snapshot().total_known is False
    assert tracker.snapshot().total == 1
    assert len(list(feed)) == 1
    assert tracker.snapshot().total_known is True
    assert tracker.snapshot().total_bytes is None  # a get's sizes come with its results


def test_a_counted_manifest_gives_the_total_before_its_requests_are_read(tmp_path: Path) -> None:
    """The scheduler reads requests only as the pool has room: without the
    manifest's own count the bar would show its total only near the end."""
    manifest = tmp_path / "get.jsonl"
    manifest.write_text("".join(f'{{"url": "s3://b/k{i}"}}\n' for i in range(300)))
    tracker = ProgressTracker("get")
    with manifest.open() as stream:
        feed = iter(counted("get", ManifestSource.checked("get", stream), tracker, False))
        snap = tracker.snapshot()
        assert (snap.total, snap.total_known, snap.done) == (300, True, 0)
        next(feed)
        tracker.result(Result(0, "s3://b/k0", size=5))
        assert (tracker.snapshot().total, tracker.snapshot().done) == (300, 1)
        assert len(list(feed)) == 299
    assert tracker.snapshot().total == 300


def test_a_put_shows_its_byte_total_only_once_every_file_is_counted(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"f{i}")
        paths[-1].write_bytes(b"x" * 10)
    tracker = ProgressTracker("put")
    reqs = [PutRequest(i, f"s3://b/k{i}", str(p)) for i, p in enumerate(paths)]
    feed = iter(counted("put", reqs, tracker, recursive=False))
    next(feed)
    snap = tracker.snapshot()
    assert (snap.total, snap.total_known, snap.total_bytes) == (3, True, None)
    list(feed)
    assert tracker.snapshot().total_bytes == 30


def test_a_recursive_get_announces_no_total_its_requests_are_prefixes() -> None:
    tracker = ProgressTracker("get")
    feed = counted("get", [GetRequest(0, "s3://b/p/")], tracker, recursive=True)
    assert (tracker.snapshot().total, tracker.snapshot().total_known) == (0, False)
    list(feed)
    assert not tracker.snapshot().total_known  # its listing is still open


class Inner:
    """The sink a ProgressSink wraps: keeps what it was given."""

    def __init__(self) -> None:
        self.emitted: List[object] = []

    def emit(self, item: object) -> None:
        self.emitted.append(item)

    def flush(self) -> None:
        pass


def _page(found: List[int], more: bool) -> jobs.Page:
    listed = jobs.Listed(0, tuple((f"s3://b/p/{i}", size) for i, size in enumerate(found)))
    return jobs.Page(
        listed, jobs.ListJob(ListRequest(0, "s3://b/p/"), True, for_get=True) if more else None
    )


def test_a_recursive_get_counts_what_its_listings_found_until_they_end() -> None:
    tracker = ProgressTracker("get")
    inner = Inner()
    snaps: List[ProgressSnapshot] = []
    sink = ProgressSink(inner, tracker, snaps.append)
    reqs = [GetRequest(0, "s3://b/p/"), GetRequest(1, "s3://b/q/")]
    list(counted("get", iter(reqs), tracker, recursive=True))
    job = jobs.ListJob(ListRequest(0, "s3://b/p/"), True, for_get=True)
    sink.observe(job, _page([5, 5], more=True))
    assert (tracker.snapshot().total, tracker.snapshot().total_known) == (2, False)
    sink.observe(job, _page([7], more=False))
    sink.observe(job, [Result.failure(1, "s3://b/q/", ErrorKind.ACCESS_DENIED, "no")])
    snap = tracker.snapshot()
    assert (snap.total, snap.total_known, snap.total_bytes) == (4, True, 17)
    result = Result(0, "s3://b/p/0", size=5)
    sink.emit(result)
    assert inner.emitted == [result]  # passed on untouched
    sink.observe(jobs.GetJob(GetRequest(0, "s3://b/p/0"), "x"), result)  # not a listing
    sink.flush()
    assert snaps[-1].done == 1 and snaps[-1].total == 4
    assert sink.finish().final


def test_a_listing_batch_counts_its_pages_and_knows_its_total_only_at_the_end() -> None:
    tracker = ProgressTracker("list")
    list(counted("list", iter([ListRequest(0, "s3://b/p/")]), tracker, recursive=True))
    sink = ProgressSink(Inner(), tracker, lambda snap: None)
    sink.emit(
        jobs.Found(
            0, (("s3://b/p/a", 3, None, None), ("s3://b/p/b", 4, 1, '"e"')), ("s3://b/p/c/",)
        )
    )
    snap = tracker.snapshot()
    assert (snap.done, snap.total, snap.bytes, snap.total_known) == (3, 3, 7, False)
    assert tracker.snapshot(final=True).total_known


def test_snapshots_are_throttled_but_the_last_always_shown() -> None:
    clock = Clock()
    tracker = ProgressTracker("info", clock)
    shown: List[ProgressSnapshot] = []
    throttled = Throttled(tracker, shown.append, clock)
    for _ in range(10):
        tracker.result(Result(0, "s3://b/k"))
        throttled.tick()
        clock.now += 0.01
    assert len(shown) == 1
    clock.now += 1.0
    throttled.tick()
    assert len(shown) == 2
    assert throttled.finish().final and shown[-1].done == 10


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_when_a_bar_and_a_summary_are_drawn() -> None:
    tty, pipe = Tty(), io.StringIO()
    assert wants_progress(None, stdout=pipe, stderr=tty)
    assert not wants_progress(None, stdout=tty, stderr=tty)  # lines and bar on one screen
    assert not wants_progress(None, stdout=pipe, stderr=pipe)
    assert wants_progress(True, stdout=pipe, stderr=pipe)
    assert not wants_progress(False, stdout=pipe, stderr=tty)
    assert wants_summary(None, tty) and not wants_summary(None, pipe)
    assert not wants_summary(False, tty) and wants_summary(True, pipe)


@pytest.mark.parametrize(
    "text, rate",
    [
        ("50MB/s", 50_000_000),
        ("50 MB/s", 50_000_000),
        ("1.5GiB/s", 1_610_612_736),
        ("800KB", 800_000),
        ("64KiB/s", 65_536),
        ("2mib/s", 2_097_152),
        ("1GB/s", 10**9),
        ("100000", 100_000),
        ("4096B/s", 4096),
        (2_000_000, 2_000_000),
    ],
)
def test_rates_parse_with_their_units(text: object, rate: int) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "fast",
        "50XB/s",
        "50 MB/min",
        "-5MB/s",
        "0",
        "1KB/s/s",
        "nan",
        "inf MB",
        True,
        None,
        10,
        1e400,
    ],
)
def test_bad_rates_are_a_named_error(bad: object) -> None:
    with pytest.raises(BandwidthError):
        parse_rate(bad)


def test_no_cap_makes_no_bucket_and_a_cap_is_undone_after_the_batch() -> None:
    assert bandwidth.LIMITER is None
    with bandwidth.capped(None):
        assert bandwidth.LIMITER is None
    with bandwidth.capped(10**6):
        limiter = bandwidth.LIMITER
        assert limiter is not None and limiter.rate == 10**6
    assert bandwidth.LIMITER is None


def _child_takes(n: int) -> None:
    bandwidth.received(n)


def test_forked_workers_draw_from_the_parent_bucket() -> None:
    """The bucket's clock lives in shared memory: a child's bytes move the parent's."""
    with bandwidth.capped(10**9):
        limiter = bandwidth.LIMITER
        assert limiter is not None
        before = limiter.down._tat.value
        proc = multiprocessing.get_context("fork").Process(target=_child_takes, args=(10**8,))
        proc.start()
        proc.join()
        after = limiter.down._tat.value
        assert proc.exitcode == 0
        assert after - max(before, 0) >= 0.1 - 1e-9  # 100 MB at 1 GB/s: 0.1 s of credit used
        assert limiter.up._tat.value == 0.0  # the other direction untouched


def test_retries_are_tallied_across_threads() -> None:
    policy = RetryPolicy(max_attempts=3, deadline=30.0, inject_failure_rate=100)
    with tallying_retries() as tally:
        threads = [
            threading.Thread(
                target=run_with_retries,
                args=(lambda d: 1, policy),
                kwargs={"sleep": lambda s: None},
            )
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert tally() == 4 * 2  # each made 3 attempts: 2 retries

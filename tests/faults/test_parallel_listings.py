"""Listings of many prefixes run in parallel (issue 19): each prefix's listing is
a job of its own, so the pool's threads list many prefixes at once.

The proxy holds every request 0.2 s (``latency``) so that listings in flight
overlap visibly in its log; the test counts the most listing requests it had
in flight at one moment, for ``list_recursive`` and ``list_paths`` of 24
prefixes of 3 keys each, and for ``s3op list --recursive`` of the same. (One
prefix's pages are still asked for one after another, a page read ahead:
each needs the token of the one before.)
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from s3client import S3
from tests.faults.conftest import Target, figure, run_s3op, write_manifest

pytestmark = pytest.mark.faults

PREFIXES = 24


def _seed(target: Target) -> List[str]:
    client = target.direct()
    names = [f"p{i:02d}" for i in range(PREFIXES)]
    for name in names:
        for k in range(3):
            client.put_object(Bucket=target.bucket, Key=f"{name}/k{k}", Body=b"x")
    return names


def _most_listings_at_once(target: Target) -> int:
    edges = []
    for rec in target.proxy.log():
        if rec.method == "GET" and "list-type=2" in rec.target:
            edges += [(rec.start, 1), (rec.end, -1)]
    level = most = 0
    for _, step in sorted(edges):
        level += step
        most = max(most, level)
    return most


@pytest.mark.parametrize("how", ["list_recursive", "list_paths", "cli"])
def test_listings_of_many_prefixes_are_in_flight_together(
    seaweed_target: Target, tmp_path: Path, how: str
) -> None:
    target = seaweed_target
    names = _seed(target)
    target.proxy.reset_counts()
    target.proxy.set_mode("latency", delay=0.2)
    if how == "cli":
        rows = [{"idx": i, "url": target.url(name + "/")} for i, name in enumerate(names)]
        manifest = write_manifest(tmp_path / "m.jsonl", rows)
        run = run_s3op("list", "--inputs", manifest, "--recursive")
        assert run.code == 0 and len(run.results) == 3 * PREFIXES
    else:
        with S3(s3root=target.url().rstrip("/")) as s3:
            found = getattr(s3, how)(names)
        assert len(found) == 3 * PREFIXES
    target.proxy.set_mode("none")
    most = _most_listings_at_once(target)
    figure(f"parallel listings {how}", f"{PREFIXES} prefixes, at most {most} listings in flight")
    assert most >= 8  # one prefix at a time would be 1 (2 with the page read ahead)

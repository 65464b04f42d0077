"""HEADs sent together from one thread (``s3op.ops.multiget`` over ``head_many``).

Each job of a batch must end exactly as ``run_info`` alone would end it: the
same result fields, the same errors (a missing key, a missing bucket, a bad
URL), against moto and SeaweedFS; and a whole ``info`` batch through the
engine gives the same results batched as one HEAD a thread.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Tuple

from s3op import run_batch
from s3op.client import make_client
from s3op.jobs import InfoJob, Settings
from s3op.ops import OpContext
from s3op.ops.info import run_info
from s3op.ops.multiget import batchable, run_gets
from s3op.options import BatchOptions, PoolOptions
from s3op.protocol import ErrorKind, InfoRequest, Result
from tests.backends import Backend
from tests.functional.batches import QUICK_RETRIES, fast_config, run_one_batch


def _context(endpoint: str) -> OpContext:
    config, policy = fast_config(endpoint), QUICK_RETRIES
    return OpContext(make_client(config), policy, Settings(tmp_tag="mhtest"))


def _jobs(urls: List[str]) -> List[Tuple[int, InfoJob]]:
    return [(i, InfoJob(InfoRequest(idx=i, url=url))) for i, url in enumerate(urls)]


def _batch(ctx: OpContext, jobs: List[Tuple[int, InfoJob]], handed: List[int]) -> Dict[int, Any]:
    """Run ``jobs`` as one batch (``run_one_batch``)."""
    return run_one_batch(run_gets, ctx, jobs, handed)


def _seed(s3backend: Backend) -> Dict[str, bytes]:
    client = s3backend.client()
    data = {"empty": b"", "one": b"x", "text": b"hello multihead\n" * 20}
    for key, body in data.items():
        extra = {"ContentType": "text/x-mh", "Metadata": {"k": key}}
        client.put_object(Bucket=s3backend.bucket, Key=key, Body=body, **extra)
    return data


def test_a_batch_of_heads_ends_each_job_as_run_info_would(s3backend: Backend) -> None:
    data = _seed(s3backend)
    bucket = s3backend.bucket
    urls = [f"s3://{bucket}/{key}" for key in list(data) + ["missing", "text"]]
    urls += ["s3://", f"s3://{bucket}-no-such-bucket/k"]
    ctx = _context(s3backend.endpoint_url)
    jobs = _jobs(urls)
    assert all(batchable(ctx, job) for _, job in jobs)

    handed: List[int] = []
    batched = _batch(ctx, jobs, handed)
    alone = {i: run_info(ctx, job) for i, job in _jobs(urls)}

    assert sorted(batched) == list(range(len(urls)))
    for i, url in enumerate(urls):
        assert isinstance(batched[i], Result)
        assert batched[i] == alone[i], url
    for i, key in enumerate(data):
        got = batched[i]
        assert got.ok and got.size == len(data[key]) and got.metadata == {"k": key}
        assert got.content_type == "text/x-mh" and got.etag
    # only answers that are no 200 are handed off: the missing key and bucket
    assert sorted(handed) == [3, 6]
    assert batched[3].error.kind is ErrorKind.NOT_FOUND
    assert batched[5].error.kind is ErrorKind.INVALID_URL and batched[5].attempts == 0
    assert batched[6].error.kind is ErrorKind.BUCKET_NOT_FOUND


def test_an_info_batch_through_the_engine_matches_one_head_at_a_time(s3backend: Backend) -> None:
    """16 threads batch the HEADs (many in flight a thread): each result is the
    one ``run_info`` gives alone."""
    _seed(s3backend)
    client = s3backend.client()
    for i in range(60):
        client.put_object(Bucket=s3backend.bucket, Key=f"many/{i:03d}", Body=b"m" * i)
    urls = [f"s3://{s3backend.bucket}/many/{i:03d}" for i in range(65)]  # 5 missing
    requests = [InfoRequest(idx=i, url=url) for i, url in enumerate(urls)]
    results: List[Result] = []
    options = dataclasses.replace(BatchOptions(), pool=PoolOptions(num_workers=0, threads=16))

    run_batch("info", requests, options, results.append)

    ctx = _context(s3backend.endpoint_url)
    alone = {i: run_info(ctx, job) for i, job in _jobs(urls)}
    assert sorted(r.idx for r in results) == list(range(65))
    for got in results:
        assert got == alone[got.idx], got.url
    assert [r.ok for r in sorted(results, key=lambda r: r.idx)] == [True] * 60 + [False] * 5

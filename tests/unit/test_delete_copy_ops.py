"""The delete and copy ops against a scripted transport: per-key errors, retries,
and a copy's answer held to its source (a damaged answer is never accepted)."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import pytest

from s3op.assembly.copy import CopyAssembly
from s3op.checksum import crc32, crc32_b64
from s3op.errors import OpError
from s3op.jobs import (
    AbortUploadJob,
    CompleteCopyJob,
    CopyJob,
    CopyPartJob,
    DeleteJob,
    PartDone,
    Settings,
    SplitCopy,
)
from s3op.ops import OpContext
from s3op.ops.copy import Source, check_copy, run_complete_copy, run_copy
from s3op.ops.delete import delete_jobs, run_delete
from s3op.protocol import CopyRequest, DeleteRequest, ErrorKind, Result, S3Url
from s3op.retry import RetryPolicy

BODY = b"hello copy"
MD5 = '"a8e4d5b3d54b3c8a30e2ed14d5e54ca6"'  # not the real MD5: only compared as text


class Scripted:
    """A transport whose answers are scripted per call name (a list, used in order)."""

    batches_gets = False

    def __init__(self, **answers: List[Any]) -> None:
        self.answers = answers
        self.calls: List[tuple] = []

    def _next(self, name: str, kwargs: Mapping[str, Any]) -> Any:
        self.calls.append((name, dict(kwargs)))
        answer = self.answers[name].pop(0) if len(self.answers[name]) > 1 else self.answers[name][0]
        if isinstance(answer, Exception):
            raise answer
        return answer(kwargs) if callable(answer) else answer

    def __getattr__(self, name: str) -> Any:
        return lambda **kwargs: self._next(name, kwargs)


def ctx(transport: Any, **settings: Any) -> OpContext:
    policy = RetryPolicy(max_attempts=4, base=0.001, cap=0.001)
    return OpContext(transport, policy, Settings(**settings))


# ------------------------------------------------------------------ delete


def test_each_key_gets_its_own_answer_and_transient_ones_are_sent_again() -> None:
    first = {
        "Deleted": [{"Key": "a"}],
        "Errors": [
            {"Key": "b", "Code": "InternalError", "Message": "try again"},
            {"Key": "c", "Code": "AccessDenied", "Message": "no"},
        ],
    }  # "d" is not named at all: still pending
    second = {"Deleted": [{"Key": "b"}, {"Key": "d"}]}
    transport = Scripted(delete_objects=[first, second])
    items = tuple((i, f"s3://bkt/{k}") for i, k in enumerate("abcd"))
    results = run_delete(ctx(transport), DeleteJob("bkt", items))
    assert [r.ok for r in results] == [True, True, False, True]
    assert results[2].error is not None and results[2].error.kind is ErrorKind.ACCESS_DENIED
    assert [c[1]["Keys"] for c in transport.calls] == [["a", "b", "c", "d"], ["b", "d"]]


def test_a_key_that_keeps_failing_ends_with_its_own_last_error() -> None:
    stuck = {"Errors": [{"Key": "k", "Code": "SlowDown", "Message": "slow"}]}
    results = run_delete(
        ctx(Scripted(delete_objects=[stuck])), DeleteJob("bkt", ((0, "s3://bkt/k"),))
    )
    assert results[0].error is not None
    assert results[0].error.kind is ErrorKind.TRANSIENT and "SlowDown" in results[0].error.message
    assert results[0].attempts == 4


def test_keys_of_a_recursive_delete_share_an_idx() -> None:
    transport = Scripted(delete_objects=[lambda kw: {"Deleted": [{"Key": k} for k in kw["Keys"]]}])
    items = ((3, "s3://bkt/p/1"), (3, "s3://bkt/p/2"))
    results = run_delete(ctx(transport), DeleteJob("bkt", items))
    assert [(r.idx, r.url, r.ok) for r in results] == [(3, u, True) for _, u in items]


def test_a_dry_run_sends_nothing() -> None:
    transport = Scripted(delete_objects=[AssertionError("sent")])
    results = run_delete(ctx(transport, dry_run=True), DeleteJob("bkt", ((0, "s3://bkt/k"),)))
    assert results == [Result(idx=0, url="s3://bkt/k", dry=True)]
    assert transport.calls == []


def test_deletes_are_grouped_by_bucket_up_to_the_limit() -> None:
    reqs = [DeleteRequest(i, f"s3://{'ab'[i % 2]}bc/k{i}") for i in range(7)]
    jobs = list(delete_jobs(reqs, 2))
    assert [(j.bucket, [i for i, _ in j.items]) for j in jobs] == [
        ("abc", [0, 2]),
        ("bbc", [1, 3]),
        ("abc", [4, 6]),
        ("bbc", [5]),
    ]
    assert max(len(j.items) for j in delete_jobs(reqs, 5000)) <= 1000


# -------------------------------------------------------------------- copy

SRC_CRC = crc32(BODY)


def source(crc: Optional[int] = SRC_CRC, etag: str = MD5) -> Source:
    answer: Dict[str, Any] = {"ContentLength": len(BODY), "ETag": etag}
    return Source(S3Url("bkt", "src"), len(BODY), etag, crc, answer)


@pytest.mark.parametrize(
    "answer",
    [
        {"ETag": MD5, "ChecksumCRC32": crc32_b64(SRC_CRC ^ 1)},  # a flipped checksum
        {"ETag": MD5.replace("a", "b", 1)},  # no checksum, and a flipped ETag
        {"ChecksumCRC32": crc32_b64(SRC_CRC)},  # no ETag at all
        {"ETag": MD5, "ChecksumCRC32": "!!not base64!!"},
    ],
)
def test_a_damaged_copy_answer_is_never_accepted(answer: Dict[str, str]) -> None:
    with pytest.raises(OpError) as caught:
        check_copy(answer, source(crc=None if "ChecksumCRC32" not in answer else SRC_CRC), None)
    assert caught.value.kind is ErrorKind.CORRUPT


def test_a_sound_copy_answer_is_accepted() -> None:
    assert check_copy({"ETag": MD5, "ChecksumCRC32": crc32_b64(SRC_CRC)}, source(), None) == MD5
    assert check_copy({"ETag": MD5}, source(crc=None), None) == MD5


def test_a_copy_is_retried_until_its_answer_matches_the_source() -> None:
    head = {"ContentLength": len(BODY), "ETag": MD5, "ChecksumCRC32": crc32_b64(SRC_CRC)}
    bad = {"CopyObjectResult": {"ETag": MD5, "ChecksumCRC32": crc32_b64(SRC_CRC ^ 4)}}
    good = {"CopyObjectResult": {"ETag": MD5, "ChecksumCRC32": crc32_b64(SRC_CRC)}}
    transport = Scripted(head_object=[head], copy_object=[bad, good])
    req = CopyRequest(0, "s3://bkt/dst", "s3://bkt/src")
    out = run_copy(ctx(transport), CopyJob(req))
    assert isinstance(out, Result) and out.ok and out.attempts == 2
    always_bad = Scripted(head_object=[head], copy_object=[bad])
    out = run_copy(ctx(always_bad), CopyJob(req))
    assert isinstance(out, Result) and out.error is not None
    assert out.error.kind is ErrorKind.CORRUPT
    copy_args = transport.calls[1][1]
    assert copy_args["CopySourceIfMatch"] == MD5 and copy_args["ChecksumAlgorithm"] == "CRC32"


def test_a_missing_source_never_reaches_the_destination() -> None:
    from botocore.exceptions import ClientError

    missing = ClientError(
        {"Error": {"Code": "404"}, "ResponseMetadata": {"HTTPStatusCode": 404}}, "HeadObject"
    )
    transport = Scripted(head_object=[missing], head_bucket=[{}])
    out = run_copy(ctx(transport), CopyJob(CopyRequest(0, "s3://bkt/d", "s3://bkt/s")))
    assert isinstance(out, Result) and out.error is not None
    assert out.error.kind is ErrorKind.NOT_FOUND and "source s3://bkt/s" in out.error.message
    assert [name for name, _ in transport.calls] == ["head_object", "head_bucket"]


def test_a_large_copy_is_split_into_parts_and_completed_with_the_combined_crc() -> None:
    size = 10 * 1024 * 1024 + 1
    req = CopyRequest(0, "s3://bkt/dst", "s3://bkt/src")
    split = SplitCopy("up1", size, MD5, checksum=True, source_crc32=77)
    assembly = CopyAssembly(CopyJob(req), split, Settings(part_size=5 * 1024 * 1024))
    parts = assembly.start().parts
    assert [(p.start, p.end) for p in parts if isinstance(p, CopyPartJob)] == [
        (0, 5242879),
        (5242880, 10485759),
        (10485760, 10485760),
    ]
    steps = [assembly.part_done(PartDone(n, f'"{n}"', 1, 1)) for n in (3, 1, 2)]
    (complete,) = steps[-1].jobs
    assert isinstance(complete, CompleteCopyJob) and complete.source_crc32 == 77
    assert complete.crc32 is not None and [n for n, _, _ in complete.parts] == [1, 2, 3]


def test_a_failed_part_aborts_the_multipart_copy() -> None:
    req = CopyRequest(0, "s3://bkt/dst", "s3://bkt/src")
    assembly = CopyAssembly(CopyJob(req), SplitCopy("up1", 20, MD5), Settings(part_size=10))
    assembly.start()
    failure = Result.failure(0, req.url, ErrorKind.ACCESS_DENIED, "no")
    step = assembly.part_failed(failure)
    assert step.result == failure and step.cleanup == (AbortUploadJob(0, req.url, "up1"),)
    assert assembly.failed


def test_parts_whose_crc_differs_from_the_source_are_never_completed() -> None:
    transport = Scripted(abort_multipart_upload=[{}], complete_multipart_upload=[AssertionError()])
    job = CompleteCopyJob(
        CopyRequest(0, "s3://bkt/dst", "s3://bkt/src"), "up1", ((1, '"e"', 5),), 5, 5, 6
    )
    out = run_complete_copy(ctx(transport), job)
    assert out.error is not None and out.error.kind is ErrorKind.CORRUPT
    assert [name for name, _ in transport.calls] == ["abort_multipart_upload"]


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="UTFC8"?>'
        b'<CopyObjectResult><ETag>"e"</ETag></CopyObjectResult>',
        b"<CopyObjectResult><ETag>&quot;e&quot;</ETag></CopyObjectResu",
    ],
)
def test_an_unreadable_fast_copy_answer_is_corrupt(body: bytes) -> None:
    from s3op.fastcopy import parse_copy_answer

    with pytest.raises(OpError) as caught:
        parse_copy_answer(body, {})
    assert caught.value.kind is ErrorKind.CORRUPT


def test_an_error_inside_a_200_copy_answer_is_that_error() -> None:
    from botocore.exceptions import ClientError

    from s3op.errors import classify
    from s3op.fastcopy import parse_copy_answer

    body = b"<Error><Code>InternalError</Code><Message>later</Message></Error>"
    with pytest.raises(ClientError) as caught:
        parse_copy_answer(body, {})
    assert classify(caught.value)[0] is ErrorKind.TRANSIENT


def test_a_copy_whose_request_describes_its_source_sends_no_head() -> None:
    good = {"CopyObjectResult": {"ETag": MD5, "ChecksumCRC32": crc32_b64(SRC_CRC)}}
    transport = Scripted(copy_object=[good])
    facts = {"source_size": len(BODY), "source_etag": MD5, "source_crc32": crc32_b64(SRC_CRC)}
    req = CopyRequest(0, "s3://bkt/dst", "s3://bkt/src", **facts, source_encryption="AES256")
    out = run_copy(ctx(transport), CopyJob(req))
    assert isinstance(out, Result) and out.ok and out.size == len(BODY)
    ((name, args),) = transport.calls
    assert name == "copy_object" and args["CopySourceIfMatch"] == MD5
    assert args["ServerSideEncryption"] == "AES256" and args["ChecksumAlgorithm"] == "CRC32"


def test_a_source_replaced_since_its_head_is_a_named_failure() -> None:
    from botocore.exceptions import ClientError

    changed = ClientError(
        {"Error": {"Code": "PreconditionFailed"}, "ResponseMetadata": {"HTTPStatusCode": 412}},
        "CopyObject",
    )
    transport = Scripted(copy_object=[changed])
    req = CopyRequest(0, "s3://bkt/dst", "s3://bkt/src", source_size=3, source_etag=MD5)
    out = run_copy(ctx(transport), CopyJob(req))
    assert isinstance(out, Result) and out.error is not None
    assert out.error.kind is ErrorKind.PRECONDITION_FAILED and out.attempts == 1
    assert "s3://bkt/src is no longer the version" in out.error.message
    assert [name for name, _ in transport.calls] == ["copy_object"]


def test_part_copies_in_flight_are_capped_per_process() -> None:
    """48 threads copy a part each: at most COPY_PARTS_IN_FLIGHT are ever at the server."""
    import threading
    import time

    from s3op.ops.copy import COPY_PARTS_IN_FLIGHT, run_copy_part

    full = threading.Condition()
    now = [0]
    peak = [0]

    def part(kwargs: Mapping[str, Any]) -> Dict[str, Any]:
        # Each part stays at the "server" until the cap is reached (48 is
        # three full waves), so the peak does not depend on thread timing;
        # without the cap, later threads pile in during the hold.
        with full:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
            full.notify_all()
            full.wait_for(lambda: now[0] >= COPY_PARTS_IN_FLIGHT, timeout=10)
        time.sleep(0.02)
        with full:
            now[0] -= 1
        return {"CopyPartResult": {"ETag": MD5}}

    context = ctx(Scripted(upload_part_copy=[part]))
    done: List[Any] = []

    def copy(number: int) -> None:
        job = CopyPartJob(0, "s3://bkt/dst", "u", number, "s3://bkt/src", MD5, 0, 9)
        done.append(run_copy_part(context, job))

    threads = [threading.Thread(target=copy, args=(n,)) for n in range(1, 49)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) == 48 and all(isinstance(d, PartDone) for d in done)
    assert peak[0] == COPY_PARTS_IN_FLIGHT

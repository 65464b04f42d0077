"""The logic of batched small PUTs (``s3op.ops.multiput``), on a stubbed transport.

What a batch sends (one ``put_many`` with the single PUT's headers), which
jobs it settles on its own thread (2xx with our MD5 as ETag) and which it
hands off (anything else), how a handed-off job is finished (the batch's
attempt counts as attempt 1 of the same retry loop; a SlowDown tells the
throttle), and that every job is answered exactly once, also when the
transport raises or nobody listens. Real servers: tests/functional/test_multiput.py.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
from botocore.exceptions import ClientError

from s3op.checksum import crc32_b64
from s3op.jobs import GetJob, PutJob, Settings
from s3op.ops import OpContext, upload_check
from s3op.ops.multiget import Resume, finish_resumed
from s3op.ops.multiput import PUT_INLINE_MAX, batchable, run_puts
from s3op.ops.runner import OpRunner
from s3op.protocol import ErrorKind, GetRequest, PutRequest
from s3op.retry import RetryPolicy
from s3op.transport import GetFailed, NotSent, PutReply, PutUpload


def _etag(body: bytes) -> str:
    return f'"{hashlib.md5(body).hexdigest()}"'


def _slow_down() -> ClientError:
    error: Any = {
        "Error": {"Code": "SlowDown", "Message": "reduce your rate"},
        "ResponseMetadata": {"HTTPStatusCode": 503},
    }
    return ClientError(error, "PutObject")


class Stub:
    """A transport that keeps many in flight: ``put_many`` answers from ``plan``
    (by key: a reply, or None for a 2xx with the body's MD5); ``put_object``
    (the retry loop's) answers 2xx with the body's MD5."""

    batches_gets = True

    def __init__(self, plan: Optional[Dict[str, Any]] = None) -> None:
        self.plan = plan or {}
        self.batches: List[List[PutUpload]] = []
        self.singles: List[Tuple[str, bytes]] = []
        self.closed = 0

    def put_many(self, uploads: Sequence[PutUpload]) -> Iterator[Tuple[int, PutReply]]:
        self.batches.append(list(uploads))
        try:
            for index, up in reversed(list(enumerate(uploads))):  # answers in any order
                reply = self.plan.get(up.key)
                yield index, {"ETag": _etag(up.body)} if reply is None else reply
        finally:
            self.closed += 1

    def put_object(self, *, Bucket: str, Key: str, Body: Any, **args: Any) -> Dict[str, str]:
        data = Body if isinstance(Body, bytes) else Body.read()
        self.singles.append((Key, data))
        return {"ETag": _etag(data)}


@pytest.fixture(autouse=True)
def no_silent_buckets() -> Iterator[None]:
    """No bucket known to echo no CRC32 (the stub echoes none: one test teaches it)."""
    upload_check.forget()
    yield
    upload_check.forget()


def _context(stub: Stub, **settings: Any) -> Tuple[OpContext, List[int]]:
    throttled: List[int] = []
    policy = RetryPolicy(max_attempts=3, base=0.001, cap=0.002, deadline=10.0)
    ctx = OpContext(stub, policy, Settings(**settings), lambda: throttled.append(1))  # type: ignore[arg-type]
    return ctx, throttled


def _jobs(tmp_path: Path, bodies: Dict[str, bytes]) -> List[Tuple[int, PutJob]]:
    jobs = []
    for i, (key, body) in enumerate(bodies.items()):
        path = tmp_path / f"f{i}"
        path.write_bytes(body)
        jobs.append((i, PutJob(PutRequest(idx=i, url=f"s3://bkt/{key}", local=str(path)))))
    return jobs


def _run(ctx: OpContext, jobs: List[Tuple[int, PutJob]]) -> Tuple[Dict[int, Any], List[int]]:
    """Run one batch; finish what it hands off right after (as another thread would)."""
    answers: Dict[int, Any] = {}
    handed: List[Tuple[int, Resume]] = []

    def answer(job_id: int, outcome: Any) -> bool:
        assert job_id not in answers, f"job {job_id} answered twice"
        answers[job_id] = outcome
        return True

    assert run_puts(ctx, jobs, answer, lambda job_id, resume: handed.append((job_id, resume)))
    for job_id, resume in handed:
        answer(job_id, finish_resumed(ctx, resume))
    return answers, [job_id for job_id, _ in handed]


BODIES = {"a": b"alpha", "b": b"", "c": b"c" * 5000}


def test_one_put_many_carries_every_put_with_the_single_puts_headers(tmp_path: Path) -> None:
    stub = Stub()
    ctx, _ = _context(stub, no_overwrite=True)

    answers, handed = _run(ctx, _jobs(tmp_path, BODIES))

    assert handed == [] and stub.singles == []
    assert len(stub.batches) == 1 and stub.closed == 1
    for up, (key, body) in zip(stub.batches[0], BODIES.items()):
        assert (up.bucket, up.key, up.body) == ("bkt", key, body)
        assert up.args["ContentMD5"] is None  # the CRC32 alone (s3op.ops.upload_check)
        assert up.args["ChecksumCRC32"] == crc32_b64(zlib.crc32(body))
        assert up.args["IfNoneMatch"] == "*"
    for i, body in enumerate(BODIES.values()):
        assert answers[i].ok and answers[i].attempts == 1 and answers[i].size == len(body)
        assert answers[i].etag == _etag(body)


def test_a_failed_put_is_handed_off_and_retried_as_attempt_two(tmp_path: Path) -> None:
    stub = Stub({"a": GetFailed(_slow_down()), "c": GetFailed(ConnectionResetError("reset"))})
    ctx, throttled = _context(stub)

    answers, handed = _run(ctx, _jobs(tmp_path, BODIES))

    assert sorted(handed) == [0, 2]
    assert throttled == [1]  # the SlowDown the batch met tells the throttle
    assert sorted(stub.singles) == [("a", b"alpha"), ("c", b"c" * 5000)]  # once each
    assert [answers[i].attempts for i in range(3)] == [2, 1, 2]
    assert all(answers[i].ok for i in range(3))


def test_an_etag_that_is_not_our_md5_is_never_accepted(tmp_path: Path) -> None:
    stub = Stub({"a": {"ETag": _etag(b"something else")}})
    ctx, _ = _context(stub)

    answers, handed = _run(ctx, _jobs(tmp_path, {"a": b"alpha"}))

    assert handed == [0] and stub.singles == [("a", b"alpha")]
    assert answers[0].ok and answers[0].attempts == 2 and answers[0].etag == _etag(b"alpha")


def test_a_put_the_batch_did_not_send_is_sent_whole_by_run_put(tmp_path: Path) -> None:
    stub = Stub({"b": NotSent()})
    ctx, _ = _context(stub)

    answers, handed = _run(ctx, _jobs(tmp_path, BODIES))

    assert handed == [1] and stub.singles == [("b", b"")]
    assert answers[1].ok and answers[1].attempts == 1


def test_a_412_with_no_overwrite_is_exists_on_the_first_attempt(tmp_path: Path) -> None:
    error: Any = {
        "Error": {"Code": "PreconditionFailed"},
        "ResponseMetadata": {"HTTPStatusCode": 412},
    }
    stub = Stub({"a": GetFailed(ClientError(error, "PutObject"))})
    ctx, _ = _context(stub, no_overwrite=True)

    answers, handed = _run(ctx, _jobs(tmp_path, {"a": b"alpha"}))

    assert handed == [0] and stub.singles == []  # permanent: never sent again
    assert answers[0].skipped == "exists" and answers[0].attempts == 1


def test_bad_requests_are_answered_before_anything_is_sent(tmp_path: Path) -> None:
    stub = Stub()
    ctx, _ = _context(stub)
    jobs = _jobs(tmp_path, {"a": b"alpha", "b": b"beta"})
    jobs.append((2, PutJob(PutRequest(idx=2, url="s3://", local=jobs[0][1].req.local))))
    jobs.append((3, PutJob(PutRequest(idx=3, url="s3://bkt/x", local=str(tmp_path / "none")))))

    answers, handed = _run(ctx, jobs)

    assert handed == [] and [up.key for up in stub.batches[0]] == ["a", "b"]
    assert answers[2].error.kind is ErrorKind.INVALID_URL and answers[2].attempts == 0
    assert answers[3].error.kind is ErrorKind.LOCAL_FILE_MISSING


def test_answers_stop_when_nobody_listens_and_the_requests_are_dropped(tmp_path: Path) -> None:
    stub = Stub()
    ctx, _ = _context(stub)
    told: List[int] = []

    assert run_puts(ctx, _jobs(tmp_path, BODIES), lambda i, o: told.append(i) or False) is False
    assert len(told) == 1 and stub.closed == 1


def test_a_transport_bug_answers_every_job_once_as_internal(tmp_path: Path) -> None:
    class Broken(Stub):
        def put_many(self, uploads: Sequence[PutUpload]) -> Iterator[Tuple[int, PutReply]]:
            yield 0, {"ETag": _etag(uploads[0].body)}
            raise RuntimeError("bug")

    ctx, _ = _context(Broken())

    answers, _ = _run(ctx, _jobs(tmp_path, BODIES))

    assert answers[0].ok
    assert [answers[i].error.kind for i in (1, 2)] == [ErrorKind.INTERNAL] * 2


def test_only_small_files_outside_a_dry_run_are_batchable(tmp_path: Path) -> None:
    sizes = {"limit": PUT_INLINE_MAX, "over": PUT_INLINE_MAX + 1, "none": 0}
    jobs = dict(
        (key, job)
        for (_, job), key in zip(_jobs(tmp_path, {k: b"x" * n for k, n in sizes.items()}), sizes)
    )
    ctx, _ = _context(Stub())
    assert batchable(ctx, jobs["limit"]) and batchable(ctx, jobs["none"])
    assert not batchable(ctx, jobs["over"])
    assert not batchable(
        ctx, PutJob(PutRequest(idx=9, url="s3://bkt/k", local=str(tmp_path / "gone")))
    )
    assert not batchable(_context(Stub(), dry_run=True)[0], jobs["limit"])
    assert not batchable(_context(Stub(), multipart_threshold=10)[0], jobs["limit"])
    unbatched = Stub()
    unbatched.batches_gets = False
    assert not batchable(_context(unbatched)[0], jobs["limit"])


def test_the_runner_batches_puts_and_gets_each_with_their_own(tmp_path: Path) -> None:
    stub = Stub()
    runner = OpRunner(_context(stub)[0])
    put_jobs = _jobs(tmp_path, BODIES)
    get = GetJob(GetRequest(idx=7, url="s3://bkt/k"), str(tmp_path / "out"))
    assert all(runner.batchable(job) for _, job in put_jobs)
    assert runner.batchable(get)  # whole-object GETs batch too, in batches of their own
    answers: Dict[int, Any] = {}

    listening = runner.run_batch(list(put_jobs), lambda i, o: answers.setdefault(i, o) is o, print)

    assert listening and sorted(answers) == [0, 1, 2] and len(stub.batches) == 1


@pytest.mark.parametrize("inject", [100])
def test_an_injected_failure_is_attempt_one_and_sends_nothing(tmp_path: Path, inject: int) -> None:
    stub = Stub()
    ctx, _ = _context(stub)
    ctx.policy = RetryPolicy(
        max_attempts=2, base=0.001, cap=0.002, deadline=10.0, inject_failure_rate=inject
    )

    answers, handed = _run(ctx, _jobs(tmp_path, {"a": b"alpha"}))

    assert handed == [0] and stub.batches == [[]] and stub.singles == []
    assert not answers[0].ok and answers[0].attempts == 2

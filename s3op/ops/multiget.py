"""Many small downloads, or HEADs, on one thread: the requests go out together.

A worker thread that finds several whole-object ``GetJob``s waiting takes
up to ``GET_BATCH`` of them (as many as its worker's window of requests in
flight has room for: see ``s3op.worker``, ``s3op.throttle``) and hands
them to the transport's ``get_many``, which sends every request
at once and yields each reply as it arrives (``s3op.transport``). A small
whole object (200, up to ``INLINE_MAX`` bytes, in at most
``INLINE_BUDGET``) is saved right there: ``run_get``'s first attempt
without the loop around it. Anything else (an error status, a large,
chunked or slow body, a broken connection, no answer within the read
timeout, a request the transport did not send) is handed to any free
thread as a ``Resume``, and ``continue_get`` finishes it with what the
batch got as its first attempt and the deadline that started when the
request went out. So retries, errors, splits of large objects, checks,
deadlines and results are those of one-at-a-time gets, and no retry
sleeps while other answers wait.

``InfoJob``s are batched the same way (``head_many``): a HEAD's answer has
no body, so a 200 is described right there, and anything else is resumed
by ``s3op.ops.info.continue_info`` on any free thread.

Results travel one request at a time: ``run_gets`` calls ``answer`` for
each request as its reply is handled (saved, described, or handed off),
never when the batch ends, and the worker sends each answer on to the
parent at once (``s3op.worker``; an in-process worker's ``Channel`` may
hold a few, at most 0.1 s: ``s3op.pool.HELD_MAX``). So the result lines and
the progress bar follow the requests, whatever the window. Decided against
flushing a batch's results on a timer: per-request answers cost nothing
extra here (one pipe send or deque append each, which a result needs
anyway), and a timer would only add delay.

Known cost: a new TLS 1.3 connection may turn readable with a session
ticket before its answer; its read then waits for the answer while other
answers of the batch queue up behind it (once per new connection).
"""

from __future__ import annotations

from typing import (
    Any,
    Callable,
    Generator,
    List,
    NoReturn,
    Optional,
    Sequence,
    Set,
    Tuple,
    TypeVar,
    Union,
)

from s3op.errors import OpError
from s3op.jobs import CopyJob, GetJob, InfoJob, Job, Outcome, PutJob
from s3op.ops import OpContext, internal_failure
from s3op.ops.copy import continue_copy
from s3op.ops.get import FirstAttempt, continue_get, needs_parts, run_get, save_whole
from s3op.ops.info import continue_info, describe, run_info
from s3op.ops.put import continue_put
from s3op.protocol import ErrorKind, Result, parse_object_url
from s3op.retry import Deadline, InjectedFailure, inject_failure
from s3op.transport import (
    GetFailed,
    GetReplies,
    GetReply,
    GetTarget,
    HeadReplies,
    HeadReply,
    NotSent,
    ReplyHead,
    S3Answer,
)

#: Whole-object GETs one worker thread keeps in flight at once, at most (what waits
#: in its inbox, twice its threads, bounds it too). W1-shaped runs (1,000 x 10 KiB,
#: 16 threads), engine CPU, median of 8: one at a time 0.62 s; 8 at once 0.54 s;
#: 32 at once 0.49 s.
GET_BATCH = 32
#: Bodies up to this size are saved by the batch's own thread; larger ones stream on
#: another (one thread reading a large body would stall every other answer of its batch).
INLINE_MAX = 256 * 1024
#: The longest the batch's thread spends saving one small body. A slower one (a server
#: dripping bytes) is given up there, as a counted attempt, and fetched again on
#: another thread, so it cannot hold up the other answers of its batch.
INLINE_BUDGET = 1.0


#: The jobs a batch takes (all of one type).
Batched = Union[GetJob, InfoJob]
#: The jobs a batch may hand off (small PUTs are batched by ``s3op.ops.multiput``,
#: copies by ``s3op.ops.multicopy``).
Resumable = Union[GetJob, InfoJob, PutJob, CopyJob]


def batchable(ctx: OpContext, job: object) -> bool:
    """True for a job ``run_gets`` can take: a whole-object GET, or a HEAD, on a
    transport that keeps many in flight."""
    if type(job) is GetJob:
        return job.req.range is None and ctx.transport.batches_gets
    return type(job) is InfoJob and ctx.transport.batches_gets


class Resume:
    """A batched GET (or HEAD) whose answer needs more than the batch's thread gives it.

    Retries sleep, and large bodies stream for a while: either would hold up
    every other answer of the batch, so the batch hands the job, with what
    its first attempt got and the deadline that started when its request
    went out, to any free thread (``finish_resumed``).
    """

    __slots__ = ("job", "first", "deadline", "injected")

    def __init__(
        self,
        job: Resumable,
        first: Optional[FirstAttempt],
        deadline: Optional[Deadline] = None,
        injected: bool = False,
    ) -> None:
        self.job, self.first, self.deadline = job, first, deadline
        self.injected = injected  # attempt 1 failed by --inject-failure-rate, nothing sent


def finish_resumed(ctx: OpContext, resumed: Resume) -> Outcome:
    """Finish a handed-off GET, HEAD or PUT: ``continue_get``, ``continue_info`` or
    ``continue_put``, the first attempt being what the batch got (none: the
    transport did not send it)."""
    if isinstance(resumed.job, InfoJob):
        return continue_info(ctx, resumed.job, resumed.first, resumed.deadline)
    if isinstance(resumed.job, PutJob):  # a batch of small PUTs' (s3op.ops.multiput)
        return continue_put(ctx, resumed.job, resumed.first, resumed.deadline)
    if isinstance(resumed.job, CopyJob):  # a batch of copies' (s3op.ops.multicopy)
        return continue_copy(ctx, resumed.job, resumed.first, resumed.deadline)
    return continue_get(ctx, resumed.job, resumed.first, resumed.deadline)


#: ``answer(job_id, outcome)``: False once nobody listens any more.
Answer = Callable[[int, Outcome], bool]
#: ``hand_off(job_id, resume)``: see that ``finish_resumed`` runs and is answered.
HandOff = Callable[[int, Resume], None]


def run_gets(
    ctx: OpContext,
    batch: Sequence[Tuple[int, Batched]],
    answer: Answer,
    hand_off: Optional[HandOff] = None,
) -> bool:
    """Run every job of ``batch``, calling ``answer(job_id, outcome)`` as each ends.

    Only small whole-object answers are saved on this thread. Everything
    else goes to ``hand_off(job_id, resume)`` (None: finished here too).
    Returns False as soon as ``answer`` does (nobody is listening any
    more); the connections of requests still out are closed then.
    """
    return _Batch(ctx, answer, hand_off).run(batch)


class _Sending:
    """A job whose request goes out in the batch, and its clock."""

    __slots__ = ("job_id", "job", "target", "deadline")

    def __init__(self, job_id: int, job: Batched, target: GetTarget, deadline: Deadline) -> None:
        self.job_id, self.job, self.target = job_id, job, target
        self.deadline = deadline  # the operation's, from just before the request went out


#: What becomes of one job of a batch on its thread.
Settled = Union[Outcome, Resume]


class _Batch:
    """One batch on one thread: its jobs settled exactly once each."""

    #: What ``prepare`` returns for a job whose request goes out in the batch.
    sending_type: type = _Sending

    def __init__(self, ctx: OpContext, answer: Answer, hand_off: Optional[HandOff]) -> None:
        self.ctx, self.answer, self.hand_off = ctx, answer, hand_off
        self.settled: Set[int] = set()

    def run(self, batch: Sequence[Tuple[int, Job]]) -> bool:
        """Send the batch, settle each job as its reply comes; False: nobody listens."""
        replies: Optional[Generator[Tuple[int, Any], None, None]] = None
        try:
            sending: List[Any] = []
            for job_id, job in batch:
                early = _guarded(job, self.prepare, job_id, job)
                if isinstance(early, self.sending_type):
                    sending.append(early)
                elif not self.settle(job_id, job, early):
                    return False
            replies = self.send(sending)
            for index, reply in replies:
                out = sending[index]
                settled = _guarded(out.job, self.on_reply, out, reply)
                if not self.settle(out.job_id, out.job, settled):
                    return False
            return True
        except Exception as exc:  # noqa: BLE001 - a bug here: answer the rest, lose no job
            return self.fail_rest(batch, exc)
        finally:
            if replies is not None:
                replies.close()

    # The three steps of a batch; GETs and HEADs here, small PUTs in ``multiput``.

    def prepare(self, job_id: int, job: Any) -> Any:
        """What to send for ``job`` (a ``_Sending``), or its outcome already."""
        return _before_sending(self.ctx, job_id, job)

    def send(self, sending: List[Any]) -> Union[GetReplies, HeadReplies]:
        """Send every request at once; (index into ``sending``, reply) as each ends."""
        targets = [out.target for out in sending]
        if sending and isinstance(sending[0].job, InfoJob):
            return self.ctx.transport.head_many(targets)
        return self.ctx.transport.get_many(targets)

    def on_reply(self, out: Any, reply: Any) -> Settled:
        """What becomes of ``out``'s job, given its reply."""
        if isinstance(out.job, InfoJob):
            return _on_head_reply(self.ctx, out, reply)
        return _on_reply(self.ctx, out, reply)

    def settle(self, job_id: int, job: Job, outcome: Settled) -> bool:
        """Answer a job, or hand it off; False when nobody listens any more."""
        self.settled.add(job_id)
        if not isinstance(outcome, Resume):
            return self.answer(job_id, outcome)
        if self.hand_off is not None:
            self.hand_off(job_id, outcome)
            return True
        return self.answer(job_id, _guarded(job, finish_resumed, self.ctx, outcome))

    def fail_rest(self, batch: Sequence[Tuple[int, Job]], exc: Exception) -> bool:
        """Answer every job not settled yet as an internal error."""
        for job_id, job in batch:
            if job_id not in self.settled and not self.answer(job_id, internal_failure(job, exc)):
                return False
        return True


T = TypeVar("T")


def _guarded(job: Job, run: Callable[..., T], *args: object) -> Union[T, Result]:
    """``run(*args)``; a bug in it answers ``job`` as an internal error instead."""
    try:
        return run(*args)
    except Exception as exc:  # noqa: BLE001 - a bug in an op: answered, not lost
        return internal_failure(job, exc)


def _before_sending(ctx: OpContext, job_id: int, job: Batched) -> Union[_Sending, Settled]:
    """What to send for ``job``; or its outcome (a bad URL), or a ``Resume`` (a
    failure injected as attempt 1, which sends nothing)."""
    try:
        loc = parse_object_url(job.req.url)
    except ValueError:  # rejected at once, as it always is
        return run_info(ctx, job) if isinstance(job, InfoJob) else run_get(ctx, job)
    deadline = Deadline(ctx.policy.deadline)
    try:
        inject_failure(ctx.policy)  # attempt 1 is made here, outside the retry loop
    except InjectedFailure as exc:
        return Resume(job, _raising(exc), deadline, injected=True)
    return _Sending(job_id, job, GetTarget(loc.bucket, loc.key), deadline)


def _unanswered(out: _Sending, reply: Union[NotSent, GetFailed]) -> Resume:
    """A request the batch did not send, or whose attempt failed: resumed."""
    if isinstance(reply, NotSent):
        return Resume(out.job, None)
    return Resume(out.job, _raising(reply.error), out.deadline)


def _on_head_reply(ctx: OpContext, out: _Sending, reply: HeadReply) -> Settled:
    """A HEAD's answer described here (as ``run_info`` does); anything else resumed."""
    if isinstance(reply, (NotSent, GetFailed)):
        return _unanswered(out, reply)
    return describe(out.job.req.idx, out.job.req.url, reply)


def _on_reply(ctx: OpContext, out: _Sending, reply: GetReply) -> Settled:
    """A small whole object is saved here (the outcome); anything else is resumed."""
    if isinstance(reply, (NotSent, GetFailed)):
        return _unanswered(out, reply)
    assert isinstance(out.job, GetJob)
    size = reply.length
    small = size is not None and size <= INLINE_MAX and size < ctx.settings.multipart_threshold
    if reply.status != 200 or not small:
        return Resume(out.job, reply.open, out.deadline)
    return _save_inline(ctx, out, reply)


def _save_inline(ctx: OpContext, out: _Sending, reply: ReplyHead) -> Settled:
    """``run_get``'s first attempt, without the loop around it, within the budget."""
    budget = Deadline(min(INLINE_BUDGET, out.deadline.left()))
    job = out.job
    assert isinstance(job, GetJob)
    try:
        answer = reply.open()
        if needs_parts(ctx, answer):  # one more request: not on the batch's thread
            return Resume(job, _given(answer), out.deadline)
        return save_whole(ctx, job, answer, budget, attempts=1)
    except Exception as exc:  # noqa: BLE001 - counted and classified as attempt 1
        reply.close()
        if budget.passed() and not out.deadline.passed():
            slow = f"body slower than {INLINE_BUDGET:g}s on a batch's thread: {exc}"
            exc = OpError(ErrorKind.TRANSIENT, slow)
        return Resume(out.job, _raising(exc), out.deadline)


def _given(answer: S3Answer) -> FirstAttempt:
    return lambda: answer


def _raising(exc: BaseException) -> Callable[[], NoReturn]:
    def first() -> NoReturn:
        raise exc

    return first

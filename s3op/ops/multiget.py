"""Many small downloads on one thread: the requests go out together.

A worker thread that finds several whole-object ``GetJob``s waiting takes
up to ``GET_BATCH`` of them (only while S3 is calm: see ``s3op.pool``),
sends every request at once, each on its own keep-alive connection of the
fast path, and reads the answers as they arrive (``selectors``). A small
whole object (200, up to ``INLINE_MAX`` bytes, in at most
``INLINE_BUDGET``) is saved right there: ``run_get``'s first attempt
without the loop around it. Anything else (an error status, a large,
chunked or slow body, a broken connection, no answer within the read
timeout) is handed to any free thread as a ``Resume``, and ``run_get``
finishes it with what the batch got as its first attempt and the deadline
that started when the request went out. So retries, errors, splits of
large objects, checks, deadlines and results are those of one-at-a-time
gets, and no retry sleeps while other answers wait. A connection the
server closed while it sat idle is resent and not counted, as
``http1.Pool.request`` does.

Why: with a thread per request in flight, every answer costs a thread
switch, a GIL hand-off and a wake-up of its own; one thread with many
requests out reads whichever answer is in and goes on.

Known cost: a new TLS 1.3 connection may turn readable with a session
ticket before its answer; its read then waits for the answer while other
answers of the batch queue up behind it (once per new connection).
"""

from __future__ import annotations

import selectors
import time
from typing import Any, Callable, Dict, List, NoReturn, Optional, Tuple

from s3op.errors import OpError
from s3op.jobs import GetJob, Job, Outcome
from s3op.ops import OpContext, internal_failure
from s3op.ops.get import needs_parts, run_get, save_whole
from s3op.protocol import ErrorKind, parse_object_url
from s3op.retry import Deadline, InjectedFailure, inject_failure

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


def batchable(ctx: OpContext, job: Job) -> bool:
    """True for a job ``run_gets`` can take (a whole-object GET on the fast path)."""
    return type(job) is GetJob and job.req.range is None and hasattr(ctx.client, "start_get")


class _Sent:
    """One request out: its job, where its answer will come, and its clocks."""

    __slots__ = ("job_id", "job", "bucket", "key", "pool", "conn", "deadline", "due")

    def __init__(
        self, job_id: Any, job: GetJob, loc: Any, started: Any, deadline: Deadline
    ) -> None:
        self.job_id, self.job, self.bucket, self.key = job_id, job, loc.bucket, loc.key
        self.pool, self.conn = started
        self.deadline = deadline  # the operation's, from just before the request went out
        self.due = time.monotonic() + self.pool.timeouts[1]  # no answer by then: timed out


class Resume:
    """A batched GET whose answer needs more than the batch's thread gives it.

    Retries sleep, and large bodies stream for a while: either would hold up
    every other answer of the batch, so the batch hands the job, with what
    its first attempt got and the deadline that started when its request
    went out, to any free thread (``finish_resumed``).
    """

    __slots__ = ("job", "first", "deadline", "injected")

    def __init__(
        self,
        job: GetJob,
        first: Optional[Callable[[], Dict[str, Any]]],
        deadline: Optional[Deadline] = None,
        injected: bool = False,
    ) -> None:
        self.job, self.first, self.deadline = job, first, deadline
        self.injected = injected  # attempt 1 failed by --inject-failure-rate, nothing sent


def finish_resumed(ctx: OpContext, resumed: Resume) -> Outcome:
    """Finish a handed-off GET: ``run_get``, the first attempt being what the batch got
    (none: never sent, or sent on a connection found closed while idle; sent again,
    uncounted, as ``http1.Pool.request`` does)."""
    return run_get(ctx, resumed.job, first=resumed.first, deadline=resumed.deadline)


def run_gets(
    ctx: OpContext,
    batch: List[Tuple[Any, GetJob]],
    answer: Callable[[Any, Outcome], bool],
    hand_off: Optional[Callable[[Any, Resume], None]] = None,
) -> bool:
    """Run every job of ``batch``, calling ``answer(job_id, outcome)`` as each ends.

    Only small whole-object answers are saved on this thread. Everything
    else goes to ``hand_off(job_id, resume)`` (None: finished here too),
    which must see that ``finish_resumed`` runs and its outcome is answered.
    Once a request cannot be sent (no connection), the rest of the batch is
    handed off unsent rather than each waiting here for the same failure.
    Returns False as soon as ``answer`` does (nobody is listening any
    more); the connections of requests still out are closed then.
    """
    sel = selectors.DefaultSelector()
    settled = set()

    def done(job_id: Any, job: GetJob, outcome: Any) -> bool:
        settled.add(job_id)
        if not isinstance(outcome, Resume):
            return answer(job_id, outcome)
        if hand_off is not None:
            hand_off(job_id, outcome)
            return True
        return answer(job_id, _guarded(job, finish_resumed, ctx, outcome))

    try:
        unsendable = False
        for job_id, job in batch:
            sent = Resume(job, None) if unsendable else _guarded(job, _start, ctx, job_id, job)
            if isinstance(sent, _Sent):
                sel.register(sent.conn.sock, selectors.EVENT_READ, sent)
                continue
            unsendable = unsendable or (
                isinstance(sent, Resume) and sent.first is not None and not sent.injected
            )
            if not done(job_id, job, sent):
                return False
        while sel.get_map():
            waiting = [key.data for key in sel.get_map().values()]
            ready = sel.select(max(0.0, min(s.due for s in waiting) - time.monotonic()))
            for key, _ in ready:
                sel.unregister(key.fileobj)
                sent = key.data
                if not done(sent.job_id, sent.job, _guarded(sent.job, _finish, ctx, sent)):
                    return False
            now = time.monotonic()
            for sent in waiting:
                if sent.due <= now and sent.conn.sock in sel.get_map():
                    sel.unregister(sent.conn.sock)
                    if not done(sent.job_id, sent.job, _timed_out(sent)):
                        return False
        return True
    except Exception as exc:  # noqa: BLE001 - a bug here: answer the rest, lose no job
        for job_id, job in batch:
            if job_id not in settled and not answer(job_id, internal_failure(job, exc)):
                return False
        return True
    finally:
        for key in list(sel.get_map().values()):
            key.data.conn.close()
        sel.close()


def _guarded(job: Job, run: Callable[..., Any], *args: Any) -> Any:
    """``run(*args)``; a bug in it answers ``job`` as an internal error instead."""
    try:
        return run(*args)
    except Exception as exc:  # noqa: BLE001 - a bug in an op: answered, not lost
        return internal_failure(job, exc)


def _start(ctx: OpContext, job_id: Any, job: GetJob) -> Any:
    """Send ``job``'s request: a ``_Sent``, else an outcome or a ``Resume``."""
    try:
        loc = parse_object_url(job.req.url)
    except ValueError:
        return run_get(ctx, job)  # rejects it at once, as it always does
    deadline = Deadline(ctx.policy.deadline)
    try:
        inject_failure(ctx.policy)  # attempt 1 is made here, outside the retry loop
    except InjectedFailure as exc:
        return Resume(job, _raising(exc), deadline, injected=True)
    try:
        started = ctx.client.start_get(loc.bucket, loc.key)
    except Exception as exc:  # noqa: BLE001 - counted and classified as attempt 1
        return Resume(job, _raising(exc), deadline)
    if started is None:
        return Resume(job, None)
    return _Sent(job_id, job, loc, started, deadline)


def _finish(ctx: OpContext, sent: _Sent) -> Any:
    """Read ``sent``'s answer: a small whole object is saved here (the outcome),
    anything else becomes a ``Resume``."""
    try:
        resp = sent.pool.finish(sent.conn, "GET")
    except Exception as exc:  # noqa: BLE001 - counted and classified as attempt 1
        stale = isinstance(exc, ConnectionError) and getattr(exc, "before_response", True)
        if stale and sent.conn.reused:  # closed while idle: sent again, uncounted
            return Resume(sent.job, None, sent.deadline)
        return Resume(sent.job, _raising(exc), sent.deadline)
    size = resp.length
    small = size is not None and size <= INLINE_MAX and size < ctx.settings.multipart_threshold
    if resp.status == 200 and small:
        budget = Deadline(min(INLINE_BUDGET, sent.deadline.left()))
        try:  # run_get's first attempt, without the loop around it
            answer = ctx.client.get_answer(resp, sent.bucket, sent.key)
            if needs_parts(ctx, answer):  # one more request: not on the batch's thread
                return Resume(sent.job, lambda: answer, sent.deadline)
            return save_whole(ctx, sent.job, answer, budget, attempts=1)
        except Exception as exc:  # noqa: BLE001 - counted and classified as attempt 1
            resp.close()
            if budget.passed() and not sent.deadline.passed():
                slow = f"body slower than {INLINE_BUDGET:g}s on a batch's thread: {exc}"
                exc = OpError(ErrorKind.TRANSIENT, slow)
            return Resume(sent.job, _raising(exc), sent.deadline)

    def first() -> Dict[str, Any]:
        answer: Dict[str, Any] = ctx.client.get_answer(resp, sent.bucket, sent.key)
        return answer

    return Resume(sent.job, first, sent.deadline)


def _timed_out(sent: _Sent) -> Resume:
    sent.conn.close()
    timeout = sent.pool.timeouts[1]
    return Resume(sent.job, _raising(TimeoutError(f"no answer in {timeout:g}s")), sent.deadline)


def _raising(exc: BaseException) -> Callable[[], NoReturn]:
    def first() -> NoReturn:
        raise exc

    return first

"""Many small server-side copies on one thread: the CopyObjects go out together.

A worker thread that finds several ``CopyJob``s waiting, each a copy of
one request whose source is known from the request itself
(``copy.known_source``: the caller's HEAD gave its size, ETag, CRC32 and
encryption), takes up to ``GET_BATCH`` of them (as many as its window of
requests in flight has room for: ``s3op.worker``, ``s3op.throttle``) and
hands them to the transport's ``copy_many``, which sends every CopyObject
at once and yields each answer as it arrives (``s3op.fastcopy``). Each
request is the one a single copy sends (``copy.copy_call``: pinned to the
source's ETag with ``x-amz-copy-source-if-match``, keeping its encryption,
asking its CRC32), and an answer that shows the copy holds the source's
bytes (``copy.copy_done``) is the result right there. Anything else (an
error status, 412 and 503 included; an ``<Error>`` inside a 200; an answer
that does not check out; a broken connection; no answer within the read
timeout; a copy the transport did not send) is handed to any free thread
as a ``Resume``, and ``copy.continue_copy`` finishes it with the batch's
attempt as attempt 1 and the deadline that started when the request went
out: the same retry loop, backoff and error lines as a single copy.
Nothing is sent twice outside the retry loop.

Copies whose source must be HEADed (a plain manifest line, new metadata,
an SSE-KMS source, a multipart copy) and dry runs run one at a time.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

from s3op.errors import OpError
from s3op.jobs import CopyJob
from s3op.ops import OpContext
from s3op.ops.copy import (
    Source,
    checked_request,
    copy_args,
    copy_call,
    copy_done,
    known_source,
)
from s3op.ops.multiget import Answer, HandOff, Resume, Settled, _Batch, _raising
from s3op.protocol import Result, parse_object_url
from s3op.retry import Deadline, InjectedFailure, inject_failure
from s3op.transport import CopyReplies, GetFailed, HeadReply, NotSent


def batchable(ctx: OpContext, job: object) -> bool:
    """True for a ``CopyJob`` ``run_copies`` can take: a one-request copy whose source
    the request describes, outside a dry run, on a transport that keeps many
    requests in flight."""
    if type(job) is not CopyJob or not ctx.transport.batches_gets or ctx.settings.dry_run:
        return False
    try:
        loc = parse_object_url(job.req.source)
        return known_source(ctx, job.req, loc) is not None
    except ValueError:
        return False  # run_copy answers it, before any request


def run_copies(
    ctx: OpContext,
    batch: Sequence[Tuple[int, CopyJob]],
    answer: Answer,
    hand_off: Optional[HandOff] = None,
) -> bool:
    """Run every job of ``batch``, calling ``answer(job_id, outcome)`` as each ends.

    Only answers that check out are settled on this thread; the rest go to
    ``hand_off(job_id, resume)`` (None: finished here too). Returns False as
    soon as ``answer`` does; the connections of requests still out are
    closed then.
    """
    return _CopyBatch(ctx, answer, hand_off).run(batch)


class _Sending:
    """A job whose CopyObject goes out in the batch: what it sends, and its clock."""

    __slots__ = ("job_id", "job", "call", "source", "encryption", "deadline")

    def __init__(
        self, job_id: int, job: CopyJob, call: Any, source: Source, deadline: Deadline
    ) -> None:
        self.job_id, self.job, self.call, self.source = job_id, job, call, source
        self.encryption = call.get("ServerSideEncryption")
        self.deadline = deadline  # the operation's, from just before the request went out


class _CopyBatch(_Batch):
    """One batch of small copies on one thread: its jobs settled exactly once each."""

    sending_type = _Sending

    def prepare(self, job_id: int, job: Any) -> Union[_Sending, Settled]:
        """What to send for ``job``, or its outcome already."""
        return _before_sending(self.ctx, job_id, job)

    def send(self, sending: List[Any]) -> CopyReplies:
        """Send every CopyObject at once; (index into ``sending``, answer) as each ends."""
        return self.ctx.transport.copy_many([out.call for out in sending])

    def on_reply(self, out: Any, reply: Any) -> Settled:
        """What becomes of ``out``'s job, given its answer."""
        return _on_reply(out, reply)


def _before_sending(ctx: OpContext, job_id: int, job: CopyJob) -> Union[_Sending, Settled]:
    """What to send for ``job``; or its outcome (a bad request), or a ``Resume``
    (a failure injected as attempt 1, which sends nothing)."""
    req = job.req
    checked = checked_request(req)
    if isinstance(checked, Result):
        return checked  # a bad request: answered before any request, as run_copy does
    dst, loc, _ = checked
    src = known_source(ctx, req, loc)
    if src is None:
        return Resume(job, None)
    deadline = Deadline(ctx.policy.deadline)
    try:
        inject_failure(ctx.policy)  # attempt 1 is made here, outside the retry loop
    except InjectedFailure as exc:
        return Resume(job, _raising(exc), deadline, injected=True)
    call = copy_call(dst, src, copy_args(req, src, None))
    return _Sending(job_id, job, call, src, deadline)


def _on_reply(out: _Sending, reply: HeadReply) -> Settled:
    """An answer that checks out is the result; anything else is resumed."""
    if isinstance(reply, NotSent):
        return Resume(out.job, None)
    if isinstance(reply, GetFailed):
        return Resume(out.job, _raising(reply.error), out.deadline)
    try:
        return copy_done(out.job.req, reply, out.source, out.encryption, attempts=1)
    except OpError as exc:  # a damaged or mismatching answer: attempt 1, retried
        return Resume(out.job, _raising(exc), out.deadline)

"""Many small uploads on one thread: the PUTs go out together, as GETs do.

A worker thread that finds several small ``PutJob``s waiting takes up to
``GET_BATCH`` of them (as many as its worker's window of requests in flight
has room for: ``s3op.worker``, ``s3op.throttle``) and hands them to the
transport's ``put_many``, which sends every PUT at once and yields each
answer as it arrives (``s3op.transport``). Each file is read once (one
open, one read) and hashed, and its PUT carries what a single PUT's does
(``put.upload_args``): its CRC32 (and ``Content-MD5`` to a server that
echoes no CRC32: ``s3op.ops.upload_check``), content type, metadata,
encryption, and ``If-None-Match: *`` with no-overwrite. A 2xx answer that
checks out (its CRC32 echo, or its ETag) is the result right there
(``put.put_done``). Anything else (an error status, 412 and 503 included,
a broken connection, no answer within the read timeout, a CRC32 or ETag
that is not ours, a PUT the transport did not send) is handed to any free
thread as a ``Resume``, and
``put.continue_put`` finishes it with the batch's attempt as attempt 1 and
the deadline that started when the request went out: the same retry loop,
backoff, resolution of a 412 (our own earlier write, or someone else's)
and result as a single PUT. Nothing is sent twice outside the retry loop.

Which PUTs are batched: files of at most ``PUT_INLINE_MAX`` bytes (and below
the multipart threshold), outside a dry run, on a transport that keeps many
requests in flight. ``PUT_INLINE_MAX`` is 128 KiB because:

- memory: a worker holds at most its window of bodies (``throttle.window_max``
  requests), 512 x 128 KiB = 64 MiB with the default 64 threads: the bound
  one-at-a-time PUTs already had (64 threads x ``put.SMALL_BODY``, 1 MiB);
- such PUTs are latency-bound: 128 KiB takes 1.3 ms to send at 100 MB/s a
  connection, against 10-30 ms for S3's first byte, so a thread per
  request mostly waits; larger bodies are bandwidth-bound, and their send
  (``sendall``, which blocks while the socket's buffer is full) would hold
  up the other requests of the batch.
"""

from __future__ import annotations

import os
from typing import Any, List, Optional, Sequence, Tuple, Union

from s3op.errors import OpError
from s3op.jobs import PutJob
from s3op.ops import OpContext
from s3op.ops.multiget import Answer, HandOff, Resume, Settled, _Batch, _raising
from s3op.ops.put import put_args, put_done, read_small, run_put, upload_args
from s3op.ops.upload_check import Digests, memory_digests
from s3op.protocol import parse_object_url
from s3op.retry import Deadline, InjectedFailure, inject_failure
from s3op.transport import GetFailed, NotSent, PutReplies, PutReply, PutUpload

#: The largest file sent in a batch of PUTs (see the module's docstring).
PUT_INLINE_MAX = 128 * 1024


def batchable(ctx: OpContext, job: object) -> bool:
    """True for a ``PutJob`` ``run_puts`` can take: a small file (``PUT_INLINE_MAX``),
    outside a dry run, on a transport that keeps many requests in flight."""
    if type(job) is not PutJob or not ctx.transport.batches_gets or ctx.settings.dry_run:
        return False
    try:
        size = os.stat(job.req.local).st_size
    except OSError:
        return False  # run_put answers it, with the error table's kind
    return size <= PUT_INLINE_MAX and size < ctx.settings.multipart_threshold


def run_puts(
    ctx: OpContext,
    batch: Sequence[Tuple[int, PutJob]],
    answer: Answer,
    hand_off: Optional[HandOff] = None,
) -> bool:
    """Run every job of ``batch``, calling ``answer(job_id, outcome)`` as each ends.

    Only 2xx answers whose ETag checks out are settled on this thread; the
    rest go to ``hand_off(job_id, resume)`` (None: finished here too).
    Returns False as soon as ``answer`` does (nobody is listening any
    more); the connections of requests still out are closed then.
    """
    return _PutBatch(ctx, answer, hand_off).run(batch)


class _Sending:
    """A job whose PUT goes out in the batch: what it sends, and its clock."""

    __slots__ = ("job_id", "job", "upload", "digests", "deadline")

    def __init__(
        self, job_id: int, job: PutJob, upload: PutUpload, digests: Digests, deadline: Deadline
    ) -> None:
        self.job_id, self.job, self.upload, self.digests = job_id, job, upload, digests
        self.deadline = deadline  # the operation's, from just before the request went out


class _PutBatch(_Batch):
    """One batch of small PUTs on one thread: its jobs settled exactly once each."""

    sending_type = _Sending

    def prepare(self, job_id: int, job: Any) -> Union[_Sending, Settled]:
        """What to send for ``job``, or its outcome already."""
        return _before_sending(self.ctx, job_id, job)

    def send(self, sending: List[Any]) -> PutReplies:
        """Send every PUT at once; (index into ``sending``, answer) as each ends."""
        return self.ctx.transport.put_many([out.upload for out in sending])

    def on_reply(self, out: Any, reply: Any) -> Settled:
        """What becomes of ``out``'s job, given its answer."""
        return _on_reply(out, reply)


def _before_sending(ctx: OpContext, job_id: int, job: PutJob) -> Union[_Sending, Settled]:
    """What to send for ``job``; or its outcome (a bad URL or metadata, an
    unreadable file: ``run_put`` answers those before any request), or a
    ``Resume`` (a file grown past the batch's limit, or a failure injected as
    attempt 1, which sends nothing)."""
    req = job.req
    try:
        loc = parse_object_url(req.url)
        extra = put_args(req)
        data = read_small(req.local)
    except (ValueError, OSError):  # rejected at once, as run_put always does
        return run_put(ctx, job)
    if len(data) > PUT_INLINE_MAX or len(data) >= ctx.settings.multipart_threshold:
        return Resume(job, None)  # it grew since it was batched: run_put, on any thread
    deadline = Deadline(ctx.policy.deadline)
    try:
        inject_failure(ctx.policy)  # attempt 1 is made here, outside the retry loop
    except InjectedFailure as exc:
        return Resume(job, _raising(exc), deadline, injected=True)
    digests = memory_digests(loc.bucket, data)
    conditional = "*" if ctx.settings.no_overwrite else None
    args = upload_args(digests, extra, conditional)
    upload = PutUpload(loc.bucket, loc.key, data, args, extra.metadata)
    return _Sending(job_id, job, upload, digests, deadline)


def _on_reply(out: _Sending, reply: PutReply) -> Settled:
    """A 2xx answer whose ETag checks out is the result; anything else is resumed."""
    if isinstance(reply, NotSent):
        return Resume(out.job, None)
    if isinstance(reply, GetFailed):
        return Resume(out.job, _raising(reply.error), out.deadline)
    try:
        return put_done(out.job.req, reply, out.digests, len(out.upload.body), attempts=1)
    except OpError as exc:  # corrupt (CRC32 or ETag): attempt 1, retried by continue_put
        return Resume(out.job, _raising(exc), out.deadline)

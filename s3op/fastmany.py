"""Batched GETs and HEADs of the fast path: many requests in flight on one thread.

``get_many`` signs and sends every GET at once, each on its own
keep-alive connection (``s3op.inflight``), and yields each reply's status
and headers as they arrive (``ReplyHead``), its body left to the caller;
``opened`` turns a reply into ``get_object``'s answer (or its error).
``head_many`` does the same for HEADs, whose replies have no body: it
yields ``head_object``'s answer itself (an error status: ``GetFailed``
with ``head_object``'s error). A request with no reply within the read
timeout yields a ``TimeoutError``; a connection the server closed while
idle is sent again inside ``s3op.http1``. Once a request cannot be sent
(no connection), the rest are left unsent (``NotSent``) rather than each
failing the same way on this thread; so is any the fast path does not
serve (``Sender.serves``, or a bucket found to be in another region).
"""

from __future__ import annotations

import functools
from typing import Callable, Dict, Iterable, Iterator, Optional, Sequence, Tuple, Union

from s3op.fastsend import CHECKSUM_MODE, NotOurs, Sender
from s3op.http1_conn import Response
from s3op.inflight import InFlight
from s3op.responses import describe_headers
from s3op.transport import (
    GetFailed,
    GetReplies,
    GetTarget,
    HeadReplies,
    HeadReply,
    NotSent,
    ReplyHead,
    S3Answer,
)

#: Builds get_object's answer from a reply (raising its error for an error status).
Opener = Callable[[Response, GetTarget], S3Answer]
#: One request of a batch: (method, bucket, key, headers, body: a small PUT's, or None).
Outgoing = Tuple[str, str, str, Dict[str, str], Optional[bytes]]
#: (index, reply or what went wrong) as each ends; or (index, NotSent | GetFailed) unsent.
_Sent = Iterator[Tuple[int, Union[Response, Exception, NotSent, GetFailed]]]


def get_many(sender: Sender, targets: Sequence[GetTarget], opened: Opener) -> GetReplies:
    """(index, reply) for every target, as each ends (``Transport.get_many``)."""
    for index, got in _exchange(sender, "GET", targets):
        if isinstance(got, (NotSent, GetFailed)):
            yield index, got
        elif isinstance(got, Exception):
            yield index, GetFailed(got)
        else:
            answer = functools.partial(opened, got, targets[index])
            yield index, ReplyHead(got.status, got.length, answer, got.close)


def head_many(sender: Sender, targets: Sequence[GetTarget]) -> HeadReplies:
    """(index, head_object's answer, or why not) for every target, as each ends
    (``Transport.head_many``)."""
    for index, got in _exchange(sender, "HEAD", targets):
        yield index, answer_of(sender, got, targets[index].bucket, "HEAD")


def answer_of(
    sender: Sender, got: Union[Response, Exception, NotSent, GetFailed], bucket: str, method: str
) -> HeadReply:
    """The answer of a reply whose body is empty (a HEAD's, a PUT's) as
    head_object/put_object give it; or why there is none (an error status:
    ``GetFailed``; a bucket in another region: ``NotSent``, botocore sends it)."""
    if isinstance(got, (NotSent, GetFailed)):
        return got
    if isinstance(got, Exception):
        return GetFailed(got)
    try:
        checked = sender.check(got, bucket, method)
        if method != "HEAD":  # a HEAD's Content-Length is the object's: no body follows
            checked.read_all()  # an empty body; its connection goes back
    except NotOurs:
        return NotSent()
    except Exception as exc:  # noqa: BLE001 - the error status, classified later
        return GetFailed(exc)
    return describe_headers(checked.headers)


def _exchange(sender: Sender, method: str, targets: Sequence[GetTarget]) -> _Sent:
    """Send every target's request at once; yield each reply (or failure) as it ends."""
    return exchange(
        sender, ((method, t.bucket, t.key, {CHECKSUM_MODE: "ENABLED"}, None) for t in targets)
    )


def exchange(sender: Sender, requests: Iterable[Outgoing]) -> _Sent:
    """Send every request at once (GETs, HEADs, small PUTs: ``Outgoing``), indexed
    in order; yield each reply (or failure) as it ends."""
    flight: InFlight[int] = InFlight()
    try:
        yield from _send_all(sender, flight, requests)
        yield from flight.replies()
    finally:
        flight.close()


def _send_all(
    sender: Sender, flight: InFlight[int], requests: Iterable[Outgoing]
) -> Iterator[Tuple[int, Union[NotSent, GetFailed]]]:
    """Send each request; yield the ones that went no further."""
    broken = False
    for index, (method, bucket, key, headers, body) in enumerate(requests):
        if broken or not sender.serves(bucket, key):
            yield index, NotSent()
            continue
        try:
            pool, path, signed = sender.prepare(method, bucket, key, headers, body)
            flight.send(pool, method, path, signed, index, body)
        except Exception as exc:  # noqa: BLE001 - the attempt's failure, classified later
            broken = True
            yield index, GetFailed(exc)

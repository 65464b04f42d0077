"""Batched GETs of the fast path: many whole-object GETs in flight on one thread.

``get_many`` signs and sends every GET at once, each on its own
keep-alive connection (``s3op.inflight``), and yields each reply's status
and headers as they arrive (``ReplyHead``), its body left to the caller;
``opened`` turns a reply into ``get_object``'s answer (or its error). A
request with no reply within the read timeout yields a ``TimeoutError``;
a connection the server closed while idle is sent again inside
``s3op.http1``. Once a request cannot be sent (no connection), the rest
are left unsent (``NotSent``) rather than each failing the same way on
this thread; so is any the fast path does not serve (``Sender.serves``).
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

from s3op.fastsend import CHECKSUM_MODE, Sender
from s3op.http1_conn import Response
from s3op.inflight import InFlight
from s3op.transport import GetFailed, GetReplies, GetTarget, NotSent, ReplyHead, S3Answer

#: Builds get_object's answer from a reply (raising its error for an error status).
Opener = Callable[[Response, GetTarget], S3Answer]


def get_many(sender: Sender, targets: Sequence[GetTarget], opened: Opener) -> GetReplies:
    """(index, reply) for every target, as each ends (``Transport.get_many``)."""
    flight: InFlight[int] = InFlight()
    try:
        yield from _send_all(sender, flight, targets)
        for index, got in flight.replies():
            if isinstance(got, Exception):
                yield index, GetFailed(got)
            else:
                answer = functools.partial(opened, got, targets[index])
                yield index, ReplyHead(got.status, got.length, answer, got.close)
    finally:
        flight.close()


def _send_all(sender: Sender, flight: InFlight[int], targets: Sequence[GetTarget]) -> GetReplies:
    """Send each target's GET; yield the ones that went no further."""
    broken = False
    for index, target in enumerate(targets):
        if broken or not sender.serves(target.bucket, target.key):
            yield index, NotSent()
            continue
        headers = {CHECKSUM_MODE: "ENABLED"}
        try:
            pool, path, signed = sender.prepare("GET", target.bucket, target.key, headers)
            flight.send(pool, "GET", path, signed, index)
        except Exception as exc:  # noqa: BLE001 - the attempt's failure, classified later
            broken = True
            yield index, GetFailed(exc)

"""Many requests in flight on one thread, replies taken as they arrive.

``InFlight`` sends each request on its own keep-alive connection
(``http1.Pool.start``) and waits on all their sockets at once
(``select.poll``); ``replies`` yields each reply's status and headers as
they come in, its body left to the caller, and a ``TimeoutError`` for a
request with no reply within its pool's read timeout. A connection the
server closed while it sat idle is sent again by ``http1.Pool.answer``
(the one place that happens); the fresh connection is waited on instead.

Why: with a thread per request in flight, every reply costs a thread
switch, a GIL hand-off and a wake-up of its own; one thread with many
requests out reads whichever reply is in and goes on.

Why ``poll`` and not ``selectors`` (epoll): each request's socket is waited
on once, so epoll cost two ``epoll_ctl`` system calls a request (register,
unregister) and the ``selectors`` bookkeeping in Python; ``poll``
registers in user space, and passing the few dozen sockets of a batch to
the kernel at each wait costs less than that. (POSIX only, as the engine.)
"""

from __future__ import annotations

import math
import select
import time
from typing import Dict, Generic, Iterator, Optional, Tuple, TypeVar, Union

from s3op.http1 import Pending, Pool
from s3op.http1_conn import Response

T = TypeVar("T")


class _Waiting(Generic[T]):
    """A request out and the caller's tag for it."""

    __slots__ = ("pending", "tag", "fd", "done")

    def __init__(self, pending: Pending, tag: T) -> None:
        self.pending, self.tag, self.done = pending, tag, False
        self.fd = pending.conn.sock.fileno()  # its socket's, while it is open


class InFlight(Generic[T]):
    """Requests sent from one thread, each known by the caller's tag."""

    def __init__(self) -> None:
        self._poll = select.poll()
        self._waiting: Dict[int, _Waiting[T]] = {}  # by socket fd: one entry per request out

    def send(
        self,
        pool: Pool,
        method: str,
        target: str,
        headers: Dict[str, str],
        tag: T,
        body: Optional[bytes] = None,
    ) -> None:
        """Send a request (``body``: a small PUT's, in memory); raises what went
        wrong when it cannot be sent."""
        self._wait_for(pool.start(method, target, headers, body), tag)

    def replies(self) -> Iterator[Tuple[T, Union[Response, Exception]]]:
        """(tag, reply or what went wrong) for every request sent, as each ends."""
        while self._waiting:
            entries = list(self._waiting.values())
            soonest = min(entry.pending.due for entry in entries)
            wait_ms = math.ceil(max(0.0, soonest - time.monotonic()) * 1000)
            for fd, _ in self._poll.poll(wait_ms):
                entry = self._waiting.get(fd)
                if entry is None:  # pragma: no cover - every fd polled is registered
                    continue
                got = self._take(entry)
                if got is not None:
                    yield entry.tag, got
            now = time.monotonic()
            for entry in entries:
                if not entry.done and entry.pending.due <= now:
                    self._forget(entry)
                    entry.pending.close()
                    timeout = entry.pending.pool.timeouts[1]
                    yield entry.tag, TimeoutError(f"no answer in {timeout:g}s")

    def close(self) -> None:
        """Close the connections of requests still out (their replies never read)."""
        for entry in list(self._waiting.values()):
            self._forget(entry)
            entry.pending.close()

    def _take(self, entry: _Waiting[T]) -> Union[Response, Exception, None]:
        """``entry``'s reply; None when it was sent again (now waited for anew)."""
        self._forget(entry)
        pending = entry.pending
        try:
            got = pending.pool.answer(pending)
        except Exception as exc:  # noqa: BLE001 - the request's failure, for its caller
            return exc
        if isinstance(got, Pending):
            self._wait_for(got, entry.tag)
            return None
        return got

    def _wait_for(self, pending: Pending, tag: T) -> None:
        entry = _Waiting(pending, tag)
        self._poll.register(entry.fd, select.POLLIN)
        self._waiting[entry.fd] = entry

    def _forget(self, entry: _Waiting[T]) -> None:
        """Stop waiting for ``entry`` (before its socket is closed: its fd may be reused)."""
        entry.done = True
        del self._waiting[entry.fd]
        self._poll.unregister(entry.fd)

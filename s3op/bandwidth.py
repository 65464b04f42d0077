"""The bandwidth cap: one token bucket per direction, shared by every worker.

``--max-bandwidth 50MB/s`` (``S3(max_bandwidth=...)``) caps the whole
engine: bytes received (response bodies) and bytes sent (request heads and
bodies) are each held to the rate, over all worker processes and threads
together. ``parse_rate`` reads the value (``B``, ``KB``, ``MB``, ``GB``
are powers of 1000, ``KiB``, ``MiB``, ``GiB`` of 1024, ``/s`` optional; a
bare number is bytes a second); anything else is a ``BandwidthError``.

How it is shared: ``capped(rate)`` puts a ``Limiter`` in the module global
``LIMITER`` for the batch. Its two buckets live in one block of
``multiprocessing`` shared memory with one lock, made before the pool
forks, so forked workers inherit the very same buckets (threads read the
same global). Each bucket is a virtual clock (GCRA): taking ``n`` bytes
moves the bucket's "theoretical arrival time" on by ``n / rate`` under the
lock, and the caller then sleeps, outside the lock, until that time less a
burst allowance (``BURST_SECONDS`` of the rate). Long-run throughput is
thus exactly the rate, and a transfer ends at most the burst early. The
allowance is half a second, not a few milliseconds, so that gaps when no
bytes flow (a new request's round trip, the server's first byte) are made
up instead of lost: with 0.05 s, a 100 MB download at 25 MB/s on a busy
machine ran 25% long, with 0.5 s within 5% (bytes flowing at the rate from
first to last).
``time.monotonic`` is ``CLOCK_MONOTONIC``: one clock for all processes.

Where bytes are counted: the fast path's sends (``s3op.http1``) and body
reads (``s3op.http1_conn.Response``), and botocore's bodies
(``s3op.botocore_transport``). Each hook is ``if LIMITER is not None``:
with no cap there is no bucket, no shared memory and no lock.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any, Iterator, Optional

#: How far the bytes may run ahead of the rate, in seconds of it (see the module).
BURST_SECONDS = 0.5
#: Multipliers of the units ``parse_rate`` accepts (lower-cased).
UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3,
}  # fmt: skip
_RATE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-z]*)\s*(?:/\s*s)?\s*", re.IGNORECASE)
#: The smallest cap accepted, in bytes a second (below, one request would take minutes).
MIN_RATE = 1024


class BandwidthError(ValueError):
    """A ``--max-bandwidth`` / ``max_bandwidth=`` value that is not a rate."""


def parse_rate(value: Any) -> int:
    """Bytes a second of ``value``: ``"50MB/s"``, ``"1.5 GiB/s"``, ``"800KB"``, or a
    number of bytes a second. ``BandwidthError`` for anything else, or below ``MIN_RATE``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BandwidthError(f"a bandwidth is a rate such as '50MB/s', not {value!r}")
    if isinstance(value, str):
        match = _RATE.fullmatch(value)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in UNITS:
            raise BandwidthError(
                f"{value!r} is not a rate: give a number and a unit of "
                "B, KB, MB, GB, KiB, MiB or GiB per second, such as '50MB/s'"
            )
        rate = float(match.group(1)) * UNITS[unit]
    else:
        rate = float(value)
    if not rate >= MIN_RATE or rate == float("inf"):
        raise BandwidthError(f"{value!r}: a bandwidth cap is at least {MIN_RATE} bytes/s")
    return int(rate)


#: How long a take waits for the buckets' lock before deciding that its holder
#: died inside the few instructions it holds it for (a worker SIGKILLed there
#: would otherwise leave the lock taken, and every other worker, and every
#: worker forked to replace it, waiting for ever). The take then goes on and
#: frees the lock. A holder that was only descheduled that long loses nothing
#: but the exactness of one take's accounting.
LOCK_TIMEOUT_SECONDS = 1.0


def _release(lock: Any) -> None:
    """Release the lock, which someone else may have released already (above)."""
    try:
        lock.release()
    except ValueError:  # "released too many times": a waiter freed it meanwhile
        pass


class Bucket:
    """One direction's virtual clock, in shared memory (see the module docstring)."""

    def __init__(self, rate: int, cell: Any, lock: Any) -> None:
        self.per_byte = 1.0 / rate
        self.burst = BURST_SECONDS
        self._tat = cell  # a shared double: when the bytes taken so far are paid for
        self._lock = lock

    def take(self, n: int) -> None:
        """Account for ``n`` bytes; sleep until the rate allows them."""
        now = time.monotonic()
        self._lock.acquire(timeout=LOCK_TIMEOUT_SECONDS)  # False: its holder died
        try:
            tat = max(self._tat.value, now) + n * self.per_byte
            self._tat.value = tat
        finally:
            _release(self._lock)  # ours, or the dead holder's
        wait = tat - self.burst - now
        if wait > 0:
            time.sleep(wait)


class Limiter:
    """The two buckets of a capped batch: ``down`` (bytes received), ``up`` (sent)."""

    def __init__(self, rate: int) -> None:
        import ctypes  # here: s3client imports this module (parse_rate), not these
        import multiprocessing

        self.rate = rate
        lock = multiprocessing.Lock()  # one lock: taking is a few instructions
        clocks = multiprocessing.RawArray(ctypes.c_double, 2)
        self.down = Bucket(rate, _Cell(clocks, 0), lock)
        self.up = Bucket(rate, _Cell(clocks, 1), lock)


class _Cell:
    """One slot of a shared array, read and written as ``.value``."""

    def __init__(self, array: Any, index: int) -> None:
        self._array = array
        self._index = index

    @property
    def value(self) -> float:
        return float(self._array[self._index])

    @value.setter
    def value(self, new: float) -> None:
        self._array[self._index] = new


#: The cap of the batch running now, or None (no cap: the hooks do nothing).
LIMITER: Optional[Limiter] = None


@contextlib.contextmanager
def capped(rate: Optional[int]) -> Iterator[None]:
    """Cap the bytes of whatever runs (and is forked) meanwhile at ``rate`` bytes a
    second each way; None: no cap, nothing made."""
    global LIMITER
    if rate is None:
        yield
        return
    previous, LIMITER = LIMITER, Limiter(rate)
    try:
        yield
    finally:
        LIMITER = previous


def received(n: int) -> None:
    """``n`` bytes came in (a hook calls this only while ``LIMITER`` is set)."""
    limiter = LIMITER
    if limiter is not None and n > 0:
        limiter.down.take(n)


def sending(n: int) -> None:
    """``n`` bytes are about to go out (called only while ``LIMITER`` is set)."""
    limiter = LIMITER
    if limiter is not None and n > 0:
        limiter.up.take(n)


class MeteredBody:
    """An upload body whose reads are counted against the cap (botocore's PUTs)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, amt: Optional[int] = -1) -> Any:
        """Read from the body, then wait for the cap."""
        data = self._body.read(-1 if amt is None else amt)
        sending(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._body, name)  # seek, tell, len...: the body's own


def metered(body: Any) -> Any:
    """``body``, counted against the cap if there is one: bytes in memory are
    counted now (before they go), a file object as it is read."""
    if LIMITER is None:
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        sending(len(body))
        return body
    return MeteredBody(body)


__all__ = [
    "BURST_SECONDS", "BandwidthError", "Bucket", "LIMITER", "Limiter", "MIN_RATE",
    "MeteredBody", "UNITS", "capped", "metered", "parse_rate", "received",
    "sending",
]  # fmt: skip

"""The one retry policy: exponential backoff with full jitter, a cap, a deadline.

Transient kinds (``ErrorKind.retryable``, decided by ``errors.classify``)
are retried; permanent kinds are returned at once. botocore's own retries
are switched off (``s3op.client.make_botocore_client``), so sleeps never
multiply across nested loops.

Every layer that may do work again, who owns it, and why it is there
(nothing else in s3op or s3client repeats a request):

1. The retry loop, ``run_with_retries`` (here; used by every op in
   ``s3op.ops``): each attempt of one operation, up to
   ``RetryPolicy.max_attempts`` within ``RetryPolicy.deadline`` (a "slow
   down" answer counts half an attempt: ``spent``). The only
   layer that counts attempts (``Result.attempts``). A batched GET's first
   attempt is made outside it, by the batch (``s3op.ops.multiget``), and
   counted here as attempt 1 (``first_sent``); it is not an extra one.
2. The stale-connection resend, in ``s3op.http1`` only (``_stale``): a GET
   or HEAD sent on a kept-alive connection that the server had closed
   while it sat idle (the connection broke before a response head was
   read) is sent once more on a fresh connection, uncounted: the server
   never saw it. Never a PUT (a server may apply a write and close without
   answering; the loop counts that one and resolves a later 412,
   ``ops/put.py``), never on a timeout or a malformed status line, never
   twice. It is the rare case: an idle connection the server has already
   closed is found so before any request goes out on it (``http1``'s
   ``_closed_while_idle``) and dropped, for every method: nothing sent,
   nothing repeated. What is left is a close racing the request.
3. The multipart upload's create fallback (``ops/put.py``,
   ``_create_upload``): after a store refuses the full-object CRC32
   (``invalid_request``, permanent: its loop ends at once) the create is
   made without it, in a second loop. A different request, made once; it
   stays because a store that refuses full-object checksums must still
   take large uploads (their parts are still verified by ETag), and
   folding it into one loop would decide the refusal outside
   ``errors.classify``.
4. The whole-object restart of a large download (the parent's assembly,
   ``s3op.assembly.download``): an assembled file that fails its checksum
   was damaged in a part that itself verified, so the object is fetched
   again from scratch, up to ``max_object_tries`` whole-object attempts,
   then reported ``corrupt``.
5. The dead-worker requeue (``s3op.scheduler``): jobs in flight on a
   worker process that died (OOM, a kill) are queued again, up to
   ``max_deaths`` deaths per job, then reported ``worker_died``. A job may
   have been half done; every op is safe to run again (downloads write a
   fresh temp file, no-overwrite puts are conditional).
6. The library restarting a server (``s3client.server``): a warm server
   found dead before a batch reached it gets the batch sent once more, to
   a fresh one; and a shared server that answered nothing gets the batch
   run privately (``s3client.shared``). Their docstrings say when either
   is safe.
7. The listing read-ahead (``s3op.readahead``): the next page is asked for
   early; a read-ahead that failed is dropped, and the op's own request
   for that page goes through the loop as usual.
8. A resumed journaled batch (``s3op.journal``): requests that finished
   in the killed run but whose records were not yet synced (at most one
   group) are done again; everything else the journal records is checked
   and skipped.

Failure injection (``--inject-failure-rate N``), for testing the layers
above: every attempt of every op passes through ``run_with_retries``,
which fails about N% of them with an ``InjectedFailure`` (transient)
before the real request, so retries, backoff and the give-up path can be
exercised against any server. The one attempt made outside the loop, a
batched GET's first (``s3op.ops.multiget``), draws there, and the loop
does not draw again for it (``first_sent``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional, TypeVar

from s3op.errors import THROTTLE_CODES, OpError, classify, error_code
from s3op.protocol import ErrorKind, Result

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one operation."""

    # 10: under 30% transient failures a key fails all of them with p = 0.3**10
    # = 6e-6 (with 6 it was 7e-4: ~7 failures in a batch of 10,000); a SlowDown
    # counts half an attempt (``spent``), so 30% throttling fails one with 3.5e-11.
    max_attempts: int = 10  # attempts in all, the first included
    base: float = 0.1  # seconds; the n-th backoff is up to base * 2**n
    cap: float = 5.0  # no single sleep is longer than this
    deadline: float = 300.0  # seconds for all attempts of one operation
    inject_failure_rate: int = 0  # percent of attempts failed on purpose (testing only)

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Sleep before attempt ``attempt + 1`` (full jitter)."""
        return rng() * min(self.cap, self.base * (2**attempt))


@dataclass(frozen=True)
class Failure:
    """An operation that gave up: why, and after how many attempts."""

    kind: ErrorKind
    message: str
    attempts: int


class Deadline:
    """The time left for one operation (monotonic clock)."""

    def __init__(self, seconds: float) -> None:
        self.expires = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left (may be negative)."""
        return self.expires - time.monotonic()

    def passed(self) -> bool:
        """True once the deadline has passed."""
        return self.left() <= 0


class InjectedFailure(OpError):
    """A transient failure made up by ``--inject-failure-rate``; no request was sent."""

    def __init__(self, rate: int) -> None:
        super().__init__(
            ErrorKind.TRANSIENT, f"injected failure (--inject-failure-rate {rate}), nothing sent"
        )


#: One generator per process, keyed by pid: a forked worker must not replay its
#: parent's (or a sibling's) draws. Seeded from the OS on first use.
_RNGS: Dict[int, random.Random] = {}


def _process_rng() -> random.Random:
    pid = os.getpid()
    rng = _RNGS.get(pid)
    if rng is None:
        _RNGS.clear()  # a fork copied the parent's: drop it
        rng = _RNGS.setdefault(pid, random.Random())
    return rng


def inject_failure(policy: RetryPolicy) -> None:
    """Raise ``InjectedFailure`` for about ``policy.inject_failure_rate`` % of calls."""
    rate = policy.inject_failure_rate
    if rate > 0 and _process_rng().random() * 100 < rate:
        raise InjectedFailure(rate)


def _count_attempts(value: T, tries: int) -> T:
    """Results say how many attempts they took (the fault tests check the bound)."""
    if isinstance(value, Result) or (
        dataclasses.is_dataclass(value) and hasattr(value, "attempts")
    ):
        return dataclasses.replace(value, attempts=tries)  # type: ignore[type-var]
    return value


def spent(policy: RetryPolicy, tries: int, throttled: int) -> bool:
    """True once ``tries`` attempts, ``throttled`` of them answered "slow down"
    (``THROTTLE_CODES``), use up the policy's attempts.

    A throttle answer counts half an attempt: the server is well and asks for
    fewer requests (the AIMD throttle sends fewer), so a request answered
    SlowDown every time is tried ``2 * max_attempts`` times, any other
    transient failure ``max_attempts`` times. With 10 attempts, a request
    meeting 30% SlowDowns fails for good with p = 0.3**20 = 3.5e-11 instead of
    0.3**10 = 5.9e-6 (2,000 such requests: 1 batch in 85 failed a key).
    ``max_attempts=1`` is one attempt whatever the answer."""
    if policy.max_attempts <= 1:
        return True
    return 2 * tries - throttled >= 2 * policy.max_attempts


def most_attempts(policy: RetryPolicy, throttled: bool) -> int:
    """The most attempts one request can make: all throttled, or none."""
    if policy.max_attempts <= 1:
        return 1
    return policy.max_attempts * (2 if throttled else 1)


#: Retries made by every worker of the batch running now, when someone counts them
#: (``tallying_retries``): a counter in shared memory, made before the pool forks.
RETRY_TALLY: Optional[Any] = None


def _tally_one() -> None:
    tally = RETRY_TALLY
    if tally is not None:
        with tally.get_lock():
            tally.value += 1


@contextlib.contextmanager
def tallying_retries() -> Iterator[Callable[[], int]]:
    """Count every retry made meanwhile, in this process and in workers forked
    meanwhile; yields a function reading the count (the end-of-batch summary's)."""
    import multiprocessing  # here: only a CLI run's progress counts retries

    global RETRY_TALLY
    previous, RETRY_TALLY = RETRY_TALLY, multiprocessing.Value("q", 0)
    tally = RETRY_TALLY
    try:
        yield lambda: int(tally.value)
    finally:
        RETRY_TALLY = previous


def run_with_retries(
    attempt: Callable[[Deadline], T],
    policy: RetryPolicy,
    on_throttle: Optional[Callable[[], None]] = None,
    sleep: Callable[[float], None] = time.sleep,
    deadline: Optional[Deadline] = None,
    first_sent: bool = False,
) -> T | Failure:
    """Call ``attempt(deadline)`` until it returns, fails permanently or time is up.

    ``deadline``: one that started earlier (the first attempt's request went
    out before this call); by default the policy's, from now. ``first_sent``:
    the first attempt was made before this call (its failure injection drawn
    then), so only later attempts draw here.
    """
    deadline = deadline or Deadline(policy.deadline)
    tries = throttled = 0
    while True:
        tries += 1
        try:
            if tries > 1 or not first_sent:
                inject_failure(policy)
            return _count_attempts(attempt(deadline), tries)
        except Exception as exc:  # classified right below; nothing is swallowed
            kind, message = classify(exc)
            if error_code(exc) in THROTTLE_CODES:
                throttled += 1
                if on_throttle is not None:
                    on_throttle()
        if not kind.retryable or spent(policy, tries, throttled):
            return Failure(kind, message, tries)
        pause = policy.backoff(tries)
        if deadline.left() < pause:
            return Failure(kind, f"{message} (deadline of {policy.deadline:g}s reached)", tries)
        if RETRY_TALLY is not None:
            _tally_one()
        sleep(pause)

"""The one retry policy: exponential backoff with full jitter, a cap, a deadline.

Transient kinds (``ErrorKind.retryable``) are retried; permanent kinds are
returned at once. botocore's own retries are switched off (see
``s3op.client``) so sleeps never multiply across nested loops.

Failure injection (``--inject-failure-rate N``): every attempt of every op
passes through ``run_with_retries``, which fails about N% of them with an
``InjectedFailure`` (transient) before the real request, so retries,
backoff and the give-up path can be exercised against any server. The one
attempt made outside the loop, a batched GET's first (``s3op.ops.multiget``),
draws there, and the loop does not draw again for it (``first_sent``).
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, TypeVar

from s3op.errors import THROTTLE_CODES, OpError, classify, error_code
from s3op.protocol import ErrorKind, Result

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one operation."""

    # 10: under 30% throttling a key fails all of them with p = 0.3**10 = 6e-6
    # (with 6 it was 7e-4: ~7 failures in a batch of 10,000).
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
    tries = 0
    while True:
        tries += 1
        try:
            if tries > 1 or not first_sent:
                inject_failure(policy)
            return _count_attempts(attempt(deadline), tries)
        except Exception as exc:  # classified right below; nothing is swallowed
            kind, message = classify(exc)
            if on_throttle is not None and error_code(exc) in THROTTLE_CODES:
                on_throttle()
        if not kind.retryable or tries >= policy.max_attempts:
            return Failure(kind, message, tries)
        pause = policy.backoff(tries)
        if deadline.left() < pause:
            return Failure(kind, f"{message} (deadline of {policy.deadline:g}s reached)", tries)
        sleep(pause)

"""The one retry policy: exponential backoff with full jitter, a cap, a deadline.

Transient kinds (``ErrorKind.retryable``) are retried; permanent kinds are
returned at once. botocore's own retries are switched off (see
``s3op.client``) so sleeps never multiply across nested loops.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

from s3op.errors import THROTTLE_CODES, classify, error_code
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
) -> T | Failure:
    """Call ``attempt(deadline)`` until it returns, fails permanently or time is up.

    ``deadline``: one that started earlier (the first attempt's request went
    out before this call); by default the policy's, from now.
    """
    deadline = deadline or Deadline(policy.deadline)
    tries = 0
    while True:
        tries += 1
        try:
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

"""Per-worker concurrency that backs off while S3 says "slow down".

Additive increase, multiplicative decrease: every throttling answer halves
the number of threads allowed to run requests at once (never below one);
every success while below the maximum adds one back.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator


class Throttle:
    """A resizable semaphore driven by throttling signals."""

    def __init__(self, maximum: int) -> None:
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.running = 0
        self._cond = threading.Condition()
        self._last_cut = 0.0

    def slow_down(self) -> None:
        """A throttling response was seen: halve the limit (at most every 0.5 s)."""
        with self._cond:
            now = time.monotonic()
            if now - self._last_cut >= 0.5:
                self.limit = max(1, self.limit // 2)
                self._last_cut = now

    def calm(self, seconds: float = 5.0) -> bool:
        """True when the limit is at its maximum and no throttling answer came
        in the last ``seconds``.

        A thread that sends many GETs at once holds one slot for all of them
        (a slot per request would park every other thread on this lock, all
        woken at each release). So the pool sends GETs together only while
        S3 is calm, and one per slot from the first "slow down" on.
        """
        return self.limit >= self.maximum and time.monotonic() - self._last_cut >= seconds

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the allowed concurrent slots while running a job."""
        with self._cond:
            while self.running >= self.limit:
                self._cond.wait()
            self.running += 1
        try:
            yield
        finally:
            with self._cond:
                self.running -= 1
                if self.limit < self.maximum:
                    self.limit += 1 if time.monotonic() - self._last_cut >= 0.5 else 0
                self._cond.notify_all()

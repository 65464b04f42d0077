"""Per-worker concurrency: threads and requests in flight, fitted to the conditions.

Two numbers, one mechanism (additive increase, multiplicative decrease):

- ``Throttle.limit``: threads allowed to run jobs at once. Every throttling
  answer (503 SlowDown and the like: ``s3op.errors``) halves it (never
  below one); every job finished while below the maximum adds one back.
- ``Window.size``: requests the worker keeps in flight at once, counting
  each request of a batch (many GETs, HEADs or small PUTs sent together
  from one thread: ``s3op.worker``). It grows by a step while throughput grows,
  holds when throughput flattens (the server, the network or our CPU is
  the bottleneck: more requests out would only wait), and halves with the
  thread limit when S3 says slow down. A thread holding batchable work
  that finds it full waits for room (``reserve_some`` grants 0, then
  ``wait_for_room``); each request that ends wakes one such thread while
  there is room, and all of them once nothing is in flight, so no thread
  waits on nothing.

Throughput is measured by the worker itself, in periods of at least
``PERIOD_MIN_SECONDS`` and a window's worth of requests, and only a period
in which work was waiting for room in the window says anything about a
bigger one (``Window.observe``'s ``full``). On loopback, where the engine is
CPU-bound, the window starts where the fixed limit used to be and a bigger
one brings no more throughput, so it stays (nothing is paid for it). Over a
network (20 ms a request in the benchmark's model), each round trip holds
requests for a while and the window grows until our CPU or the server caps
throughput.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator, Optional

#: Throughput must beat the best seen by this factor for the window to grow again.
GAIN = 1.1
#: The shortest measurement period (completions come in bursts, one per round trip).
PERIOD_MIN_SECONDS = 0.05
#: Requests in flight a worker may grow to, per thread (its window's ceiling). W1 and
#: W6 over the benchmark's network model (20 ms a request) flatten near 64-128 in
#: flight on this 2-CPU machine; a window bigger than the work waiting costs nothing.
REQUESTS_PER_THREAD = 8
#: Requests in flight a worker starts from, per thread (then grows, as above). At
#: 2 a thread, 29-35% of a 1,000-GET batch's requests ran alone (a thread that
#: found the window full then sent the one it took; it now waits for room), each
#: paying a whole round of the fast path; at 4 about 12%, and the engine's CPU
#: per GET and PUT fell.
START_PER_THREAD = 4


def window_max(op: str, threads: int) -> int:
    """The window's ceiling for a batch of ``op`` on ``threads`` threads a worker
    (``WorkerSpec.window_max``). GETs, HEADs, small PUTs and one-request copies
    are sent many a thread (get, info, put, copy, and a sync's transfers); the
    others run one request a thread: 0, the default."""
    return threads * REQUESTS_PER_THREAD if op in ("get", "info", "put", "sync", "copy") else 0


class Window:
    """Requests in flight allowed: a hill-climb on measured throughput (pure logic).

    ``observe`` is fed one measurement period at a time; it grows the window
    by ``step`` while each period's throughput beats the best seen by
    ``GAIN`` with the window full, and holds it otherwise. ``slow_down``
    halves it and forgets the best, so that it climbs back from there.
    """

    def __init__(self, start: int, ceiling: int, step: int) -> None:
        self.ceiling = max(1, ceiling)
        self.size = min(max(1, start), self.ceiling)
        self.step = max(1, step)
        self.best = 0.0  # the best throughput seen (requests/s) since the last cut

    def observe(self, done: int, seconds: float, full: bool) -> int:
        """One period: ``done`` requests finished in ``seconds``; ``full``: work
        waited for room in the window during it. Returns the new size."""
        if done <= 0 or seconds <= 0:
            return self.size
        rate = done / seconds
        if full and rate > self.best * GAIN:
            self.best = rate
            self.size = min(self.ceiling, self.size + self.step)
        return self.size

    def slow_down(self) -> int:
        """S3 said slow down: halve the window (never below one)."""
        self.size = max(1, self.size // 2)
        self.best = 0.0
        return self.size


class Throttle:
    """A resizable semaphore of threads and a window of requests, driven by
    throttling signals and measured throughput."""

    def __init__(self, maximum: int, window: int = 0, window_max: int = 0) -> None:
        """``maximum``: threads; ``window``: requests in flight to start from
        (default ``START_PER_THREAD`` a thread); ``window_max``: the most it may grow to."""
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.running = 0
        start = window or START_PER_THREAD * self.maximum
        self.window = Window(start, max(window_max, start), step=self.maximum)
        self.in_flight = 0  # requests reserved by running jobs and batches
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # a slot came free
        self._room = threading.Condition(lock)  # the window has room again
        self.waiting = 0  # threads in ``wait_for_room`` now
        self._last_cut = 0.0
        self._period_start = time.monotonic()
        self._period_done = 0
        self._period_full = False

    def slow_down(self) -> None:
        """A throttling response was seen: halve the limit and the window (at
        most every 0.5 s: one burst of throttling answers is one signal)."""
        with self._cond:
            now = time.monotonic()
            if now - self._last_cut >= 0.5:
                self.limit = max(1, self.limit // 2)
                self.window.slow_down()
                self._last_cut = now
                self._new_period(now)

    def calm(self, seconds: float = 5.0) -> bool:
        """True when the limit is at its maximum and no throttling answer came
        in the last ``seconds``."""
        return self.limit >= self.maximum and time.monotonic() - self._last_cut >= seconds

    def reserve(self, wanted: int) -> int:
        """Room for up to ``wanted`` requests in the window: at least one (a
        thread always runs the job it holds). Give back what goes unused
        with ``finished``."""
        return self._grant(wanted, least=1)

    def reserve_some(self, wanted: int) -> int:
        """Room for up to ``wanted`` requests in the window, or 0 when it is full
        and requests are in flight (their end makes room: the caller puts its
        work back and calls ``wait_for_room``). With nothing in flight it grants
        at least one. Give back what goes unused with ``finished``."""
        return self._grant(wanted, least=0)

    def _grant(self, wanted: int, least: int) -> int:
        with self._cond:
            room = self.window.size - self.in_flight
            if wanted > room:
                self._period_full = True
            floor = least if self.in_flight > 0 else 1  # nothing out: nothing makes room
            granted = max(floor, min(wanted, room))
            self.in_flight += granted
            self._pass_room()
            return granted

    def wait_for_room(self, timeout: Optional[float] = None) -> bool:
        """Wait until the window has room or nothing is in flight (no request
        would end to make room then: never waits on nothing); False if
        ``timeout`` seconds passed first."""
        with self._cond:
            self._period_full = True  # work waited for room
            self.waiting += 1
            try:
                return self._room.wait_for(self._has_room, timeout)
            finally:
                self.waiting -= 1

    def _has_room(self) -> bool:
        return self.in_flight <= 0 or self.in_flight < self.window.size

    def _pass_room(self) -> None:
        """Wake one thread waiting for room, if there is room (lock held): it
        passes the turn on in its own ``reserve_some`` while room is left."""
        if self.waiting and self._has_room():
            self._room.notify()

    def finished(self, reserved: int, done: int) -> None:
        """``done`` requests of a ``reserve(...)`` of ``reserved`` ended (the rest
        were never sent); measures throughput, may resize the window, and wakes
        a thread waiting for room (all of them once nothing is in flight)."""
        with self._cond:
            self.in_flight -= reserved
            self._period_done += done
            now = time.monotonic()
            elapsed = now - self._period_start
            if elapsed >= PERIOD_MIN_SECONDS and self._period_done >= self.window.size:
                self.window.observe(self._period_done, elapsed, self._period_full)
                self._new_period(now)
            if self.waiting and self.in_flight <= 0:
                self._room.notify_all()  # nothing in flight: no one else would wake them
            else:
                self._pass_room()

    def _new_period(self, now: float) -> None:
        self._period_start, self._period_done, self._period_full = now, 0, False

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

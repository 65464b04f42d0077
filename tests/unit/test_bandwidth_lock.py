"""The bandwidth cap's shared lock outlives a worker SIGKILLed while holding it.

The two buckets share one ``multiprocessing`` lock (``s3op.bandwidth``); a
worker killed inside the few instructions it holds it for must not leave
every other worker (and each one forked to replace it) waiting for ever.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

from s3op.bandwidth import LOCK_TIMEOUT_SECONDS, Limiter


def _hold_for_ever(lock: object, ready: object) -> None:
    lock.acquire()  # type: ignore[attr-defined]
    ready.set()  # type: ignore[attr-defined]
    time.sleep(600)


def test_a_take_goes_on_after_the_locks_holder_is_killed() -> None:
    limiter = Limiter(10_000_000)
    lock = limiter.down._lock
    context = multiprocessing.get_context("fork")  # as the engine's workers are made
    ready = context.Event()
    holder = context.Process(target=_hold_for_ever, args=(lock, ready))
    holder.start()
    assert ready.wait(30)
    os.kill(holder.pid or 0, signal.SIGKILL)
    holder.join(30)
    taker = threading.Thread(target=limiter.down.take, args=(1000,), daemon=True)
    started = time.monotonic()
    taker.start()
    taker.join(LOCK_TIMEOUT_SECONDS + 20)
    assert not taker.is_alive(), "a take waits for ever on a dead worker's lock"
    assert time.monotonic() - started >= LOCK_TIMEOUT_SECONDS * 0.9  # it did wait for it
    # The lock is free again: the next takes do not wait for the timeout.
    assert lock.acquire(timeout=0.5)
    lock.release()
    limiter.up.take(1000)  # the other direction, same lock


def test_a_take_that_holds_the_lock_releases_it() -> None:
    limiter = Limiter(10_000_000)
    for _ in range(3):
        limiter.down.take(10)
        limiter.up.take(10)
    assert limiter.down._lock.acquire(timeout=0.1)

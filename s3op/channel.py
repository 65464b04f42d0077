"""The in-process worker's link to the parent: queues, not a pipe.

A run on a small machine (or a small batch in ``s3op serve``) has one
worker of threads inside the parent's own process (``s3op.pool``). Its
``Channel`` stands where a forked worker's pipe would: jobs and outcomes
are handed over as objects (no pickling, no pump thread), and a self-pipe
wakes the parent's ``wait`` when outcomes are there.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from typing import Callable, Deque, Optional, Tuple

from s3op.protocol import Result

#: Sent to a worker to make it finish its jobs and exit.
SHUTDOWN_SIGNAL = None

#: (job id, job or outcome), or ``SHUTDOWN_SIGNAL``.
Parcel = Optional[Tuple[int, object]]


class Channel:
    """The parent's end of an in-process worker's link: queues, not a pipe.

    Jobs and outcomes are handed over as objects (no pickling, no pump
    thread); a self-pipe makes the parent's ``wait`` wake up when outcomes
    arrive. Duck-types the parts of ``multiprocessing.Connection`` the pool
    and the worker use.

    The parent is woken once per ``batch`` outcomes, not once per outcome,
    while the worker still holds more than ``batch`` jobs (queued, or being
    run: a thread sending GETs together takes many off the inbox at once):
    the threads have work, so the parent is not needed yet, and every
    wake-up costs it a poll, a pipe read and the GIL back from busy threads.
    Once the worker holds that few, every outcome wakes it, so the threads
    never run dry and the last outcomes are never held back. An outcome that
    makes more work (a split download or upload, a listing page, a part)
    always wakes it at once, and ``Pool.poll`` takes held outcomes at least
    every ``s3op.pool.HELD_MAX`` (0.1 s; it was the scheduler's 1 s poll
    timeout), so none reaches the scheduler, and the progress bar, later
    than that: holding saves wake-ups only while outcomes stream in, and
    costs at most one wake-up per 0.1 s when they trickle. 1,000 small puts on 64
    threads woke the parent ~1,000 times before; engine CPU went 0.405 ->
    0.38 s (puts) and 0.65 -> 0.61 s (gets, 16 threads), median of 10
    interleaved runs. The 0.1 s bound: 24 x 512 KiB gets at 2 MB/s, longest
    hold 0.95-0.97 s -> 0.08-0.09 s; ``s3op get``/``info`` of 1,000 x 10 KiB,
    engine CPU (median of 8 interleaved runs, loaded 2-CPU machine) +0.09 s
    and +0.11 s, within the noise of that probe (trees whose executed code was
    the same differed by up to 0.12 s), so the bound stays.
    """

    def __init__(self, batch: int = 1) -> None:
        self.inbox: queue.SimpleQueue[Parcel] = queue.SimpleQueue()  # parent -> worker
        self.outbox: Deque[Tuple[int, object]] = deque()  # worker -> parent
        self.batch = max(1, batch)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._signalled = False
        self._closed = False
        self._held = 0  # jobs sent and not answered yet: queued, or running on a thread
        self._lock = threading.Lock()
        self._on_send: Optional[Callable[[], None]] = None
        self.worker_end = WorkerEnd(self)

    # parent side
    def fileno(self) -> int:
        """What the parent's ``wait`` watches: readable when outcomes are there."""
        return self._wake_r

    def send(self, msg: Parcel) -> None:
        """Hand a job (or ``SHUTDOWN_SIGNAL``) to the worker."""
        if msg is SHUTDOWN_SIGNAL:
            self.inbox.put(msg)
            return
        with self._lock:
            self._held += 1
            on_send = self._on_send
        self.inbox.put(msg)
        if on_send is not None:
            on_send()

    def poll(self) -> bool:
        """True while an outcome waits."""
        return bool(self.outbox)

    def recv(self) -> Tuple[int, object]:
        """The next (job id, outcome)."""
        with self._lock:
            msg = self.outbox.popleft()
            if not self.outbox and self._signalled and not self._closed:
                self._signalled = False
                try:
                    os.read(self._wake_r, 4096)
                except BlockingIOError:
                    pass
        return msg

    def close(self) -> None:
        """Tell the worker to stop; the parent's side is closed."""
        self.inbox.put(SHUTDOWN_SIGNAL)
        with self._lock:  # never write to a closed (maybe reused) descriptor
            if self._closed:
                return
            self._closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)

    # worker side
    def watch(self, on_send: Callable[[], None]) -> None:
        """Call ``on_send()`` after each job sent from now on (the worker's threads
        start as jobs arrive: ``s3op.job_threads``)."""
        with self._lock:
            self._on_send = on_send

    def deliver(self, msg: Tuple[int, object], urgent: bool = True) -> None:
        """An outcome for the parent; ``urgent`` ones wake it at once."""
        with self._lock:
            if self._closed:
                return  # the parent is gone (shut down mid-job): nobody to tell
            self.outbox.append(msg)
            self._held -= 1
            if not self._signalled and (
                urgent or len(self.outbox) >= self.batch or self._held <= self.batch
            ):
                self._signalled = True
                try:
                    os.write(self._wake_w, b"x")
                except (BlockingIOError, OSError):
                    pass


class WorkerEnd:
    """The worker's side of a ``Channel``."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def send(self, msg: Tuple[int, object]) -> None:
        """Hand (job id, outcome) to the parent (a plain result may wait: ``Channel``)."""
        _job_id, outcome = msg
        self.channel.deliver(msg, urgent=not isinstance(outcome, Result))

"""A worker's job threads: one to start, more as work waits for them.

A worker may run ``most`` threads (``s3op.worker``). A batch's worker starts
one (``WorkerSpec.eager``), and more only when work waits and no thread is
idle to take it: a single ``s3.get`` runs on one thread, where starting and
joining 16 cost ~1.8 ms beside a 0.8 ms GET on loopback, and a burst of
small GETs or HEADs is gathered by the first thread (up to 32 at a time,
``s3op.worker._gather``) while the next ones start for what it leaves:
``get_many`` of 10 on a warm engine 7.8-9.6 -> 6.1-7.4 ms, ``info_many`` of
10 5.6-6.9 -> 3.3-4.4 ms against starting as many threads as requests, with
no change beyond the noise on batches of 1,000 (docs/benchmarks.md).

A thread is started beyond those:

- when a job arrives (``arrived``) and no thread is idle; a thread counts
  as idle from the moment it is started until it takes its first task;
- when a thread has taken its task (and gathered what it batches) and more
  still waits with no thread idle (``took``): the parts of one large
  download or upload thus get a thread each, up to ``most``;
- when a runner hands a task back to the inbox (``arrived`` again).
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, List, Optional, Set, TypeVar

#: The name of a worker's job threads (and a number): what a thread dump shows.
WORKER_THREAD_NAME = "s3op-worker"

T = TypeVar("T")


class JobThreads:
    """Up to ``most`` threads running ``target``, started as work waits for them
    (``most`` 0: none; whoever calls ``take`` runs threads of its own)."""

    def __init__(self, most: int) -> None:
        self.most = max(0, most)
        self.target: Callable[[], None] = lambda: None  # set before the first arrival
        self.started: List[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a task, or started and not yet taking one
        self._fresh: Set[threading.Thread] = set()  # started, not yet in ``take``

    def start(self, count: int) -> None:
        """Start ``count`` threads now (at most ``most`` in all), idle until they take work."""
        with self._lock:
            fresh = [self._new() for _ in range(min(count, self.most - len(self.started)))]
        for thread in fresh:
            thread.start()

    def arrived(self) -> None:
        """A task was put in the inbox: start a thread for it if none is idle."""
        with self._lock:
            thread = self._new_if_none_idle()
        if thread is not None:
            thread.start()

    def take(self, inbox: queue.SimpleQueue[T]) -> T:
        """The next task of ``inbox``, waiting for one as an idle thread."""
        with self._lock:
            me = threading.current_thread()
            if me in self._fresh:
                self._fresh.discard(me)  # counted idle since it was started
            else:
                self._idle += 1
        try:
            return inbox.get()
        finally:
            with self._lock:
                self._idle -= 1

    def took(self, more_waiting: bool) -> None:
        """A thread has what it will run; ``more_waiting``: the inbox is not empty."""
        if more_waiting:
            self.arrived()

    def join(self) -> None:
        """Wait for every thread started, including any started while waiting."""
        joined = 0
        while True:
            with self._lock:
                if joined == len(self.started):
                    return
                thread = self.started[joined]
            thread.join()
            joined += 1

    def _new_if_none_idle(self) -> Optional[threading.Thread]:
        if self._idle > 0 or len(self.started) >= self.most:
            return None
        return self._new()

    def _new(self) -> threading.Thread:
        name = f"{WORKER_THREAD_NAME}-{len(self.started)}"
        thread = threading.Thread(target=self.target, name=name, daemon=True)
        self.started.append(thread)
        self._fresh.add(thread)
        self._idle += 1  # until it takes its first task
        return thread


__all__ = ["WORKER_THREAD_NAME", "JobThreads"]

"""A worker's job threads, started as work waits for them (``s3op.worker``).

A worker may run ``most`` threads. Starting them all for every batch cost
~1.8 ms beside a 0.8 ms GET on loopback (a single ``s3.get`` in a loop of
them), and ten threads sharing ten small GETs send them one a thread,
each paying a hand-over of the GIL per system call, where one thread would
have sent all ten at once (``s3op.fastmany``). So a thread is started only
when work waits and no thread is free to take it:

- when a job arrives (``arrived``) and no thread is idle; a thread counts
  as idle from the moment it is started until it takes its first task, so
  a burst of jobs sent together starts one thread, which takes the first
  and gathers the rest;
- when a thread has taken its task (and gathered what it batches) and more
  still waits with no thread idle (``took``): a burst of long jobs (parts of
  a large upload) thus starts one more thread per job taken, until ``most``;
- when a runner hands a task back to the inbox (``arrived`` again).

Every job therefore finds a thread as soon as one is needed, as when all
``most`` ran from the start; only threads that would have sat idle are
never started.
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
        name = f"{WORKER_THREAD_NAME}-{len(self.started)}"
        thread = threading.Thread(target=self.target, name=name, daemon=True)
        self.started.append(thread)
        self._fresh.add(thread)
        self._idle += 1  # until it takes its first task
        return thread


__all__ = ["WORKER_THREAD_NAME", "JobThreads"]

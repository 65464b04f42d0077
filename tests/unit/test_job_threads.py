"""``s3op.job_threads``: threads start as work waits for them, never more than ``most``."""

from __future__ import annotations

import queue
import threading
from typing import List, Optional

import pytest

from s3op.job_threads import JobThreads

STOP = None


def _threads(most: int, inbox: queue.SimpleQueue[Optional[int]], run) -> JobThreads:  # type: ignore[no-untyped-def]
    threads = JobThreads(most)

    def target() -> None:
        while True:
            task = threads.take(inbox)
            if task is STOP:
                inbox.put(STOP)  # for the next thread
                return
            threads.took(more_waiting=not inbox.empty())
            run(task)

    threads.target = target
    return threads


def test_a_burst_of_jobs_starts_one_thread_that_takes_them_all() -> None:
    inbox: queue.SimpleQueue[Optional[int]] = queue.SimpleQueue()
    gate = threading.Event()
    threads = JobThreads(16)

    def target() -> None:
        gate.wait()  # the burst is all sent before the thread takes anything
        while threads.take(inbox) is not STOP:
            pass
        inbox.put(STOP)

    threads.target = target
    for task in range(10):
        inbox.put(task)
        threads.arrived()
    assert len(threads.started) == 1  # started idle: it will take them
    gate.set()
    inbox.put(STOP)
    threads.join()


@pytest.mark.parametrize("jobs,most", [(5, 16), (5, 3)])
def test_long_jobs_get_a_thread_each_up_to_most(jobs: int, most: int) -> None:
    inbox: queue.SimpleQueue[Optional[int]] = queue.SimpleQueue()
    running: List[int] = []
    release = threading.Event()
    all_running = threading.Event()

    def run(task: int) -> None:
        running.append(task)
        if len(running) == min(jobs, most):
            all_running.set()
        release.wait()  # a long job: holds its thread

    threads = _threads(most, inbox, run)
    for task in range(jobs):
        inbox.put(task)
        threads.arrived()
    assert all_running.wait(10), running
    assert len(threads.started) == min(jobs, most)
    release.set()
    inbox.put(STOP)
    threads.join()
    assert sorted(running) == list(range(jobs))


def test_a_job_arriving_while_every_thread_is_busy_starts_one_more() -> None:
    inbox: queue.SimpleQueue[Optional[int]] = queue.SimpleQueue()
    busy, release = threading.Event(), threading.Event()
    done: List[int] = []

    def run(task: int) -> None:
        if task == 0:
            busy.set()
            release.wait()
        done.append(task)

    threads = _threads(4, inbox, run)
    inbox.put(0)
    threads.arrived()
    assert busy.wait(10)
    inbox.put(1)  # e.g. a task a runner handed back
    threads.arrived()
    assert len(threads.started) == 2
    inbox.put(STOP)
    release.set()
    threads.join()
    assert sorted(done) == [0, 1]

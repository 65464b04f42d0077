"""How many threads each engine process runs when --threads is not given."""

from __future__ import annotations

import pytest

from s3op.batch import default_threads, threads_per_process
from s3op.options import COPY_THREADS, DEFAULT_THREADS, INFO_THREADS, PUT_THREADS
from s3op.throttle import START_PER_THREAD


@pytest.mark.parametrize(
    "default,processes,want",
    [
        (PUT_THREADS, 0, PUT_THREADS),  # in-process: all of them
        (PUT_THREADS, 1, PUT_THREADS),
        (PUT_THREADS, 2, PUT_THREADS // 2),  # forked: shared out
        (PUT_THREADS, 32, DEFAULT_THREADS),  # ... never below the default per process
        (DEFAULT_THREADS, 0, DEFAULT_THREADS),
        (DEFAULT_THREADS, 8, DEFAULT_THREADS),
    ],
)
def test_threads_per_process(default: int, processes: int, want: int) -> None:
    assert threads_per_process(default, processes) == want


@pytest.mark.parametrize(
    "op,count,want",
    [
        ("get", 10_000, DEFAULT_THREADS),
        ("put", 1, PUT_THREADS),
        ("copy", 1, COPY_THREADS),
        ("info", DEFAULT_THREADS * START_PER_THREAD, DEFAULT_THREADS),  # all start in flight
        ("info", DEFAULT_THREADS * START_PER_THREAD + 1, INFO_THREADS),
    ],
)
def test_default_threads(op: str, count: int, want: int) -> None:
    assert default_threads(op, count) == want

"""How many threads each engine process runs when --threads is not given."""

from __future__ import annotations

import pytest

from s3op.batch import threads_per_process
from s3op.options import DEFAULT_THREADS, PUT_THREADS


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

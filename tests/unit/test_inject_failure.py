"""--inject-failure-rate in the one retry loop (s3op.retry): what fails, how often, where.

The end-to-end runs (a real s3op against moto, every path) are in
tests/functional/test_cli_messages.py.
"""

from __future__ import annotations

import os

import pytest

from s3op import retry
from s3op.errors import OpError
from s3op.protocol import ErrorKind
from s3op.retry import Deadline, Failure, InjectedFailure, RetryPolicy, run_with_retries


class Counting:
    """An attempt that succeeds, counting its calls (the real requests)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, deadline: Deadline) -> str:
        self.calls += 1
        return "done"


def test_rate_100_fails_every_attempt_and_sends_nothing() -> None:
    attempt = Counting()
    policy = RetryPolicy(max_attempts=4, inject_failure_rate=100)
    out = run_with_retries(attempt, policy, sleep=lambda s: None)
    assert isinstance(out, Failure)
    assert out.kind is ErrorKind.TRANSIENT and out.attempts == 4
    assert "injected failure" in out.message
    assert attempt.calls == 0  # injected before the real request, every time


def test_rate_0_never_draws() -> None:
    attempt = Counting()
    assert run_with_retries(attempt, RetryPolicy(inject_failure_rate=0)) == "done"
    assert attempt.calls == 1


def test_rate_50_fails_about_half_the_attempts() -> None:
    policy = RetryPolicy(inject_failure_rate=50)
    failed = 0
    for _ in range(4000):
        try:
            retry.inject_failure(policy)
        except InjectedFailure:
            failed += 1
    assert 1700 < failed < 2300  # 50% +- 7 standard deviations


def test_retries_cure_injected_failures() -> None:
    attempt = Counting()
    policy = RetryPolicy(max_attempts=40, inject_failure_rate=50)
    for _ in range(50):
        assert run_with_retries(attempt, policy, sleep=lambda s: None) == "done"
    assert attempt.calls == 50  # one real request per success; failures sent nothing


def test_a_first_attempt_made_before_the_loop_does_not_draw_again() -> None:
    """A batched GET draws for attempt 1 where it sends it (ops.multiget)."""
    calls = []

    def attempt(deadline: Deadline) -> str:
        calls.append(1)
        raise OpError(ErrorKind.TRANSIENT, "503 from the server")

    policy = RetryPolicy(max_attempts=3, inject_failure_rate=100)
    out = run_with_retries(attempt, policy, sleep=lambda s: None, first_sent=True)
    assert isinstance(out, Failure) and out.attempts == 3
    assert len(calls) == 1  # attempt 1 ran; attempts 2 and 3 were injected
    assert "injected failure" in out.message


def test_an_injected_failure_is_transient() -> None:
    exc = InjectedFailure(30)
    assert exc.kind is ErrorKind.TRANSIENT and exc.kind.retryable
    assert "injected failure" in str(exc) and "30" in str(exc)


def test_each_process_draws_from_its_own_generator() -> None:
    """A forked worker does not replay its parent's draws."""
    parent_rng = retry._process_rng()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first draw, to the parent
        try:
            os.write(write, repr(retry._process_rng().random()).encode())
        finally:
            os._exit(0)
    os.close(write)
    child_draw = float(os.read(read, 64).decode())
    os.close(read)
    os.waitpid(pid, 0)
    assert retry._process_rng() is parent_rng
    assert parent_rng.random() != child_draw


@pytest.mark.parametrize("rate", [1, 99])
def test_the_policy_carries_the_rate_to_workers(rate: int) -> None:
    import pickle

    policy = RetryPolicy(inject_failure_rate=rate)
    assert pickle.loads(pickle.dumps(policy)).inject_failure_rate == rate

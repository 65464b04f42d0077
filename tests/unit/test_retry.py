"""s3op.retry (the one retry loop) and s3op.throttle (concurrency under "slow down")."""

from __future__ import annotations

import random
import threading
from contextlib import ExitStack
from typing import Any, Callable, List

import pytest
from botocore import exceptions as bexc
from botocore.exceptions import ClientError

from s3op import throttle as throttle_module
from s3op.errors import THROTTLE_CODES, OpError
from s3op.protocol import ErrorKind
from s3op.retry import Deadline, Failure, RetryPolicy, most_attempts, run_with_retries
from s3op.throttle import Throttle


def client_error(status: int, code: str) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "GetObject")  # type: ignore[arg-type]


class Flaky:
    """An attempt that raises ``errors`` in turn, then returns ``value``."""

    def __init__(self, errors: List[BaseException], value: Any = "done") -> None:
        self.errors = list(errors)
        self.value = value
        self.calls = 0
        self.deadlines: List[Deadline] = []

    def __call__(self, deadline: Deadline) -> Any:
        self.calls += 1
        self.deadlines.append(deadline)
        if self.errors:
            raise self.errors.pop(0)
        return self.value


class Always:
    """An attempt that always raises a fresh copy of one error."""

    def __init__(self, make: Callable[[], BaseException]) -> None:
        self.make = make
        self.calls = 0

    def __call__(self, deadline: Deadline) -> Any:
        self.calls += 1
        raise self.make()


@pytest.fixture
def pauses() -> List[float]:
    return []


def transient() -> BaseException:
    return bexc.EndpointConnectionError(endpoint_url="http://h")


# ------------------------------------------------------------------- retries


def test_transient_errors_are_retried_up_to_max_attempts(pauses: List[float]) -> None:
    attempt = Always(transient)
    out = run_with_retries(attempt, RetryPolicy(max_attempts=4), sleep=pauses.append)
    assert isinstance(out, Failure)
    assert out.kind is ErrorKind.TRANSIENT
    assert out.attempts == 4
    assert attempt.calls == 4
    assert len(pauses) == 3  # a pause between attempts, none after the last
    assert "EndpointConnectionError" in out.message


def test_a_slow_down_answer_counts_half_an_attempt(pauses: List[float]) -> None:
    attempt = Always(lambda: client_error(503, "SlowDown"))
    throttles: List[int] = []
    policy = RetryPolicy(max_attempts=4)
    out = run_with_retries(attempt, policy, lambda: throttles.append(1), sleep=pauses.append)
    assert isinstance(out, Failure) and out.kind is ErrorKind.TRANSIENT
    assert out.attempts == attempt.calls == 8 == most_attempts(policy, throttled=True)
    assert len(pauses) == 7 and len(throttles) == 8


def test_throttles_and_other_failures_share_one_budget(pauses: List[float]) -> None:
    # 2 SlowDowns (one attempt's worth) then resets: gives up after 4 + 1 = 5 attempts.
    slow = [client_error(503, "SlowDown"), client_error(503, "SlowDown")]
    attempt = Flaky(slow + [transient()] * 10)
    out = run_with_retries(attempt, RetryPolicy(max_attempts=4), sleep=pauses.append)
    assert isinstance(out, Failure) and out.attempts == attempt.calls == 5
    assert "EndpointConnectionError" in out.message


def test_one_attempt_means_no_retry_even_when_throttled(pauses: List[float]) -> None:
    attempt = Always(lambda: client_error(503, "SlowDown"))
    out = run_with_retries(attempt, RetryPolicy(max_attempts=1), sleep=pauses.append)
    assert isinstance(out, Failure) and out.attempts == attempt.calls == 1
    assert pauses == [] and most_attempts(RetryPolicy(max_attempts=1), throttled=True) == 1


def test_one_attempt_means_no_retry(pauses: List[float]) -> None:
    attempt = Always(transient)
    out = run_with_retries(attempt, RetryPolicy(max_attempts=1), sleep=pauses.append)
    assert isinstance(out, Failure) and out.attempts == 1
    assert attempt.calls == 1 and pauses == []


@pytest.mark.parametrize(
    "make,kind",
    [
        (lambda: client_error(404, "NoSuchKey"), ErrorKind.NOT_FOUND),
        (lambda: client_error(403, "AccessDenied"), ErrorKind.ACCESS_DENIED),
        (lambda: client_error(416, "InvalidRange"), ErrorKind.INVALID_RANGE),
        (lambda: OSError(28, "No space left on device", "/d/f"), ErrorKind.OUT_OF_DISK),
        (lambda: client_error(412, "PreconditionFailed"), ErrorKind.PRECONDITION_FAILED),
        (lambda: KeyError("bug"), ErrorKind.INTERNAL),
    ],
)
def test_permanent_errors_are_never_retried(
    make: Callable[[], BaseException], kind: ErrorKind, pauses: List[float]
) -> None:
    attempt = Always(make)
    out = run_with_retries(attempt, RetryPolicy(max_attempts=6), sleep=pauses.append)
    assert isinstance(out, Failure)
    assert (out.kind, out.attempts) == (kind, 1)
    assert attempt.calls == 1 and pauses == []


def test_corrupt_is_retried(pauses: List[float]) -> None:
    attempt = Flaky([OpError(ErrorKind.CORRUPT, "short body")] * 2, value=b"ok")
    assert run_with_retries(attempt, RetryPolicy(max_attempts=3), sleep=pauses.append) == b"ok"
    assert attempt.calls == 3


def test_success_after_failures_returns_the_value(pauses: List[float]) -> None:
    attempt = Flaky([transient(), client_error(503, "SlowDown"), client_error(500, "500")], 42)
    out = run_with_retries(attempt, RetryPolicy(max_attempts=6), sleep=pauses.append)
    assert out == 42
    assert attempt.calls == 4
    assert len(pauses) == 3
    assert len({id(d) for d in attempt.deadlines}) == 1  # one deadline for all attempts


def test_a_permanent_error_after_transient_ones_stops_at_once(pauses: List[float]) -> None:
    attempt = Flaky([transient(), client_error(404, "NoSuchKey"), transient()])
    out = run_with_retries(attempt, RetryPolicy(max_attempts=6), sleep=pauses.append)
    assert isinstance(out, Failure)
    assert (out.kind, out.attempts) == (ErrorKind.NOT_FOUND, 2)


def test_backoff_is_full_jitter_under_the_capped_exponential(pauses: List[float]) -> None:
    policy = RetryPolicy(max_attempts=12, base=0.1, cap=1.0, deadline=1e6)
    random.seed(1234)  # RetryPolicy.backoff draws from the random module
    out = run_with_retries(Always(transient), policy, sleep=pauses.append)
    assert isinstance(out, Failure) and out.attempts == 12
    assert len(pauses) == 11
    for n, pause in enumerate(pauses, start=1):
        assert 0 <= pause <= min(policy.cap, policy.base * 2**n)
    # Jitter, not a fixed schedule: the capped pauses are not all equal.
    assert len(set(pauses[4:])) > 1


@pytest.mark.parametrize("attempt_no", range(0, 10))
def test_backoff_bounds_with_a_fixed_rng(attempt_no: int) -> None:
    policy = RetryPolicy(base=0.1, cap=5.0)
    ceiling = min(5.0, 0.1 * 2**attempt_no)
    assert policy.backoff(attempt_no, rng=lambda: 0.0) == 0.0
    assert policy.backoff(attempt_no, rng=lambda: 0.5) == pytest.approx(ceiling / 2)
    assert policy.backoff(attempt_no, rng=lambda: 0.999999) <= ceiling


def test_a_passed_deadline_stops_retrying_early(pauses: List[float]) -> None:
    attempt = Always(transient)
    out = run_with_retries(attempt, RetryPolicy(max_attempts=50, deadline=0.0), sleep=pauses.append)
    assert isinstance(out, Failure)
    assert out.kind is ErrorKind.TRANSIENT
    assert out.attempts == 1 and attempt.calls == 1
    assert pauses == []
    assert "deadline" in out.message


def test_a_deadline_shorter_than_the_next_pause_stops_retrying(pauses: List[float]) -> None:
    # base and cap make every pause huge; the deadline leaves no room for one.
    policy = RetryPolicy(max_attempts=50, base=1e6, cap=1e6, deadline=60.0)
    random.seed(7)
    out = run_with_retries(Always(transient), policy, sleep=pauses.append)
    assert isinstance(out, Failure) and out.attempts == 1
    assert pauses == []


@pytest.mark.parametrize(
    "make,throttled",
    [
        (lambda: client_error(503, "SlowDown"), True),
        (lambda: client_error(503, "503"), True),
        (lambda: client_error(400, "Throttling"), True),
        (lambda: client_error(500, "InternalError"), False),
        (transient, False),
    ],
)
def test_on_throttle_is_called_for_slow_down_answers(
    make: Callable[[], BaseException], throttled: bool, pauses: List[float]
) -> None:
    calls: List[int] = []
    policy = RetryPolicy(max_attempts=3)
    run_with_retries(Always(make), policy, lambda: calls.append(1), sleep=pauses.append)
    assert len(calls) == (most_attempts(policy, throttled=True) if throttled else 0)
    assert len(pauses) + 1 == most_attempts(policy, throttled)


def test_every_throttle_code_calls_on_throttle(pauses: List[float]) -> None:
    for code in sorted(THROTTLE_CODES):
        calls: List[int] = []
        run_with_retries(
            Always(lambda code=code: client_error(503, code)),  # type: ignore[misc]
            RetryPolicy(max_attempts=1),
            on_throttle=lambda calls=calls: calls.append(1),  # type: ignore[misc]
            sleep=pauses.append,
        )
        assert calls == [1], code


# ------------------------------------------------------------------ throttle


class Clock:
    """A stand-in for the ``time`` module seen by s3op.throttle."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(throttle_module, "time", fake)
    return fake


def test_slow_down_halves_the_limit_and_never_goes_below_one(clock: Clock) -> None:
    t = Throttle(16)
    seen = []
    for _ in range(7):
        t.slow_down()
        seen.append(t.limit)
        clock.now += 1.0
    assert seen == [8, 4, 2, 1, 1, 1, 1]
    assert t.maximum == 16


def test_slow_down_cuts_at_most_once_per_half_second(clock: Clock) -> None:
    t = Throttle(16)
    t.slow_down()
    t.slow_down()  # the same burst of throttling answers
    assert t.limit == 8
    clock.now += 0.6
    t.slow_down()
    assert t.limit == 4


def test_finished_jobs_grow_the_limit_back_to_the_maximum(clock: Clock) -> None:
    t = Throttle(4)
    t.slow_down()
    assert t.limit == 2
    clock.now += 1.0
    for _ in range(10):
        with t.slot():
            pass
    assert t.limit == 4


def test_calm_means_at_the_maximum_and_no_cut_for_a_while(clock: Clock) -> None:
    t = Throttle(2)
    assert t.calm()
    t.slow_down()
    assert not t.calm()
    clock.now += 1.0
    with t.slot():
        pass
    assert t.limit == 2  # back at the maximum...
    assert not t.calm()  # ...but the cut was 1 s ago
    clock.now += 4.5
    assert t.calm()


def test_maximum_is_at_least_one() -> None:
    assert Throttle(0).limit == 1


def test_slots_block_beyond_the_limit(clock: Clock) -> None:
    t = Throttle(2)
    entered = threading.Event()
    release = threading.Event()

    def third() -> None:
        with t.slot():
            entered.set()
            release.wait(10)

    with ExitStack() as held:
        held.enter_context(t.slot())
        held.enter_context(t.slot())
        assert t.running == 2
        worker = threading.Thread(target=third, daemon=True)
        worker.start()
        # While two slots are held, the third thread cannot get in.
        assert not entered.wait(0.2)
        assert t.running == 2
    # Released: it gets in.
    assert entered.wait(10)
    release.set()
    worker.join(10)
    assert not worker.is_alive()
    assert t.running == 0


def test_a_cut_limit_blocks_new_slots_until_running_ones_finish(clock: Clock) -> None:
    t = Throttle(4)
    got_in = threading.Event()

    def late() -> None:
        with t.slot():
            got_in.set()

    with ExitStack() as held:
        held.enter_context(t.slot())
        held.enter_context(t.slot())
        t.slow_down()
        t.slow_down()  # within 0.5 s: no second cut
        clock.now += 1.0
        t.slow_down()  # limit 4 -> 2 -> 1
        assert t.limit == 1
        worker = threading.Thread(target=late, daemon=True)
        worker.start()
        assert not got_in.wait(0.2)
    assert got_in.wait(10)
    worker.join(10)
    assert not worker.is_alive()

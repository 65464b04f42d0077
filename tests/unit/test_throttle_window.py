"""s3op.throttle's window of requests in flight: fed synthetic measurements.

No timing: the ``Window`` is pure logic, and the ``Throttle`` around it reads
a fake clock.
"""

from __future__ import annotations

import pytest

from s3op import throttle as throttle_module
from s3op.throttle import GAIN, Throttle, Window, window_max


def test_the_window_grows_while_throughput_grows() -> None:
    w = Window(start=32, ceiling=1000, step=16)
    sizes = [w.observe(done=rate, seconds=1.0, full=True) for rate in (100, 200, 300, 400)]
    assert sizes == [48, 64, 80, 96]


def test_the_window_stays_flat_when_throughput_flattens() -> None:
    w = Window(start=32, ceiling=1000, step=16)
    w.observe(1000, 1.0, full=True)
    w.observe(2000, 1.0, full=True)  # grew twice: 64
    flat = [w.observe(rate, 1.0, full=True) for rate in (2100, 2000, 2150, 1900, 2050)]
    assert flat == [64] * 5  # no period beat the best by GAIN
    assert w.observe(int(2000 * GAIN) + 10, 1.0, full=True) == 80  # it grows again


def test_a_period_with_room_to_spare_says_nothing_about_a_bigger_window() -> None:
    w = Window(start=32, ceiling=1000, step=16)
    assert [w.observe(rate, 1.0, full=False) for rate in (100, 200, 400)] == [32, 32, 32]


def test_slow_down_halves_the_window_and_it_climbs_back_from_there() -> None:
    w = Window(start=64, ceiling=1000, step=16)
    assert w.slow_down() == 32
    assert w.slow_down() == 16
    # the best throughput was forgotten: the next full period grows it again
    assert w.observe(500, 1.0, full=True) == 32
    for _ in range(10):
        w.slow_down()
    assert w.size == 1


def test_the_window_never_passes_its_ceiling() -> None:
    w = Window(start=10, ceiling=40, step=16)
    assert [w.observe(r, 1.0, True) for r in (100, 200, 400, 800)] == [26, 40, 40, 40]


def test_empty_periods_change_nothing() -> None:
    w = Window(start=8, ceiling=64, step=4)
    assert w.observe(0, 1.0, True) == 8 and w.observe(10, 0.0, True) == 8


def test_batched_ops_may_grow_their_window_and_the_others_keep_the_default() -> None:
    assert window_max("get", 16) == window_max("info", 16) > 2 * 16
    assert window_max("put", 64) == window_max("sync", 64) > 2 * 64  # small PUTs batch
    assert window_max("copy", 128) > 2 * 128  # one-request copies batch (ops.multicopy)
    assert window_max("delete", 64) == window_max("list", 64) == 0


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


def _round_trip(t: Throttle, clock: Clock, seconds: float) -> int:
    """One full window of requests out while more work waits, all back after
    ``seconds``: one measurement period. Returns the window's size then."""
    granted = t.reserve(t.window.size + 1)
    clock.now += seconds
    t.finished(granted, granted)
    return t.window.size


def test_the_window_grows_while_requests_wait_on_latency(clock: Clock) -> None:
    """Latency-bound: each round trip takes as long whatever the window, so a
    bigger window is more throughput, until the gain falls under GAIN."""
    t = Throttle(4, window_max=64)
    assert t.window.size == 16 and t.window.step == 4  # starts at START_PER_THREAD a thread
    sizes = [_round_trip(t, clock, seconds=0.1) for _ in range(12)]
    assert sizes[:4] == [20, 24, 28, 32]
    # at 44 the last step (40 -> 44) gained exactly GAIN (440 vs 400 a period): no more
    assert sizes[-1] == sizes[-2] == 44


def test_the_window_holds_when_the_cpu_is_the_bottleneck(clock: Clock) -> None:
    """CPU-bound (loopback): time grows with the requests out, throughput is flat."""
    t = Throttle(4, window_max=64)
    sizes = [_round_trip(t, clock, seconds=0.01 * t.window.size) for _ in range(10)]
    assert sizes == [20] * 10  # one step (16 -> 20) on the first measurement, then flat


def test_reserve_grants_at_least_one_and_the_rest_of_the_window(clock: Clock) -> None:
    t = Throttle(2, window=4)
    assert t.reserve(3) == 3
    assert t.reserve(3) == 1  # one left
    assert t.reserve(1) == 1  # a thread always runs the job it holds
    assert t.in_flight == 5
    t.finished(5, 5)
    assert t.in_flight == 0


def test_slow_down_halves_threads_and_window_together(clock: Clock) -> None:
    t = Throttle(16, window_max=128)
    t.slow_down()
    assert (t.limit, t.window.size) == (8, 32)  # from 64 (START_PER_THREAD x 16)
    t.slow_down()  # the same burst: no second cut
    assert (t.limit, t.window.size) == (8, 32)

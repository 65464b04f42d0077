"""``stop_process_group`` with real processes: what it stops, and what it leaves alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Iterator, List

import pytest

from s3client import runner
from s3client.runner import stop_process_group
from tests.unit.test_pool import alive

#: A leader that exits on SIGTERM after starting a child (same group) that ignores
#: SIGTERM and does not die with its parent; it prints the child's pid.
LEADER_WITH_STUBBORN_CHILD = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.fixture
def procs() -> Iterator[List[subprocess.Popen[bytes]]]:
    started: List[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def sleeper(procs: List[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    procs.append(proc)
    return proc


def test_a_reaped_leader_s_id_is_not_signalled(procs: List[subprocess.Popen[bytes]]) -> None:
    # Once reaped, a leader's id may name another group. Simulate that reuse: an
    # engine that has exited and been reaped, whose pid is now another group's leader.
    engine = subprocess.Popen(["true"], start_new_session=True)
    engine.wait()
    other = sleeper(procs)
    engine.pid = other.pid
    stop_process_group(engine)
    time.sleep(0.1)
    assert other.poll() is None, "an unrelated process group was signalled"


def test_the_group_is_stopped_even_when_a_member_ignores_sigterm(
    procs: List[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "KILL_GRACE_SECONDS", 1.0)
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER_WITH_STUBBORN_CHILD],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    procs.append(leader)
    assert leader.stdout is not None
    child = int(leader.stdout.readline())
    leader.stdout.close()
    stop_process_group(leader)
    assert leader.returncode == -signal.SIGTERM
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)  # init reaps the orphan
    assert not alive(child), "a member left running after the stop"


def test_a_running_leader_is_killed_after_the_grace(
    procs: List[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "KILL_GRACE_SECONDS", 0.3)
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time\n"
         "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint(flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    procs.append(stubborn)
    assert stubborn.stdout is not None
    stubborn.stdout.readline()  # its handler is set
    stubborn.stdout.close()
    start = time.monotonic()
    stop_process_group(stubborn)
    assert stubborn.returncode == -signal.SIGKILL
    assert time.monotonic() - start >= 0.3

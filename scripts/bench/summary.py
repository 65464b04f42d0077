"""Medians of a run's samples by condition and (workload, tool), and the ratios the tables show."""

from __future__ import annotations

import statistics
from typing import Dict, Iterable, List, Optional, Tuple

from .model import MIB, Sample, Summaries, Summary


def by_condition(samples: Iterable[Sample]) -> Dict[str, Summaries]:
    """The summaries of each network condition, in the order the samples first show it."""
    groups: Dict[str, List[Sample]] = {}
    for s in samples:
        groups.setdefault(s.condition, []).append(s)
    return {name: summarise(group) for name, group in groups.items()}


def summarise(samples: Iterable[Sample]) -> Summaries:
    """Group samples (of one condition) by (workload, tool) and take medians."""
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
            group[0].condition,
        )
    return out


def ratio(summaries: Summaries, wl: str, tool: str, peer: str) -> Optional[float]:
    """Median wall time of ``tool`` over that of ``peer`` on ``wl`` (None if unknown)."""
    a, b = summaries.get((wl, tool)), summaries.get((wl, peer))
    if a is None or b is None or a.wall is None or not b.wall:
        return None
    return a.wall / b.wall


def fastest_peer(summaries: Summaries, wl: str, tool: str = "s3client") -> Optional[str]:
    """The tool other than ``tool`` with the best median wall time on ``wl`` (None: none ran)."""
    peers = [
        (s.wall, peer)
        for (w, peer), s in summaries.items()
        if w == wl and peer != tool and s.wall is not None
    ]
    return min(peers)[1] if peers else None


def fastest(summaries: Summaries, wl: str) -> Optional[float]:
    """The best median wall time of any tool on ``wl``."""
    walls = [s.wall for (w, _), s in summaries.items() if w == wl and s.wall is not None]
    return min(walls) if walls else None


def render_progress_table(summaries: Summaries, title: str = "") -> str:
    """A plain-text table of the medians so far (stderr), under ``title``."""
    head = f"{'workload':<9}{'tool':<10}{'wall s':>9}{'cpu s':>9}{'rss MiB':>9}{'runs':>6}"
    lines = ["", *([title] if title else []), head]
    for (wl, tool), s in sorted(summaries.items(), key=lambda kv: _wl_order(kv[0][0])):
        wall = f"{s.wall:9.2f}" if s.wall is not None else f"{'FAIL':>9}"
        cpu = f"{s.cpu:9.2f}" if s.cpu is not None else f"{'':>9}"
        rss = f"{s.rss / MIB:9.1f}" if s.rss is not None else f"{'':>9}"
        lines.append(f"{wl:<9}{tool:<10}{wall}{cpu}{rss}{s.runs:>6}")
    return "\n".join(lines) + "\n"


def _wl_order(name: str) -> Tuple[int, int]:
    head, _, n = name.partition("-")
    return int(head[1:]), int(n) if n.isdigit() else (-1 if not n else 0)

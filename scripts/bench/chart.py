"""docs/benchmarks.png: median wall time per workload and tool, grouped bars, log scale;
one panel per network condition."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from .model import NETWORK, RunReport, Summaries, Workload

TOOL_COLORS = {
    "s3client": "#d62728",
    "metaflow": "#7f7f7f",
    "s5cmd": "#1f77b4",
    "obstore": "#9467bd",
    "boto3": "#2ca02c",
    "boto3-crt": "#17becf",
    "awscli": "#ff7f0e",
}


def _tick_label(wl: Workload) -> str:
    op, _, rest = wl.title.partition(" ")
    return f"{wl.name}\n{op}\n" + rest.replace(", ", "\n")


def _seconds(y: float) -> str:
    return f"{y:.0f}" if y >= 10 else f"{y:.1f}" if y >= 1 else f"{y:.2f}"


def _bar_positions(
    sm: Summaries, wls: List[Workload], tools: Sequence[str]
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


def _draw_bars(ax: Any, r: RunReport, sm: Summaries) -> None:
    """One bar per (workload, tool) that ran, labelled with its seconds; s3client's outlined."""
    width = 0.8 / len(r.tools)
    for tool, bars in _bar_positions(sm, r.workloads, r.tools).items():
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


def _dress_axes(ax: Any, r: RunReport, where: str) -> None:
    """Log scale, workload ticks, title (``where``: the condition), grid and legend."""
    ax.set_yscale("log")
    ax.set_ylim(top=ax.get_ylim()[1] * 4)  # head room for the labels and the legend
    ax.set_xticks(range(len(r.workloads)))
    ax.set_xticklabels([_tick_label(wl) for wl in r.workloads], fontsize=8)
    ax.set_ylabel("median wall time, s (log scale; lower is better)")
    runs = r.sizes.repeats
    ax.set_title(
        f"s3client vs peers: median wall time of {runs} run{'s' if runs != 1 else ''} "
        f"per bar, {where}, {r.machine['cpus']} CPUs, {r.date}",
        fontsize=10,
    )
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(ncol=len(r.tools), loc="upper center", frameon=False)


def _where(r: RunReport, cond: str) -> str:
    """The condition as the chart's titles say it."""
    return f"through the network model ({r.network})" if cond == NETWORK else "loopback"


def render_chart(path: str, r: RunReport) -> None:
    """Grouped bar charts, one per condition: median wall time per workload and tool."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(r.conditions)
    fig, axes = plt.subplots(n, 1, figsize=(15, 6.5 * n), squeeze=False)
    for ax, cond in zip(axes[:, 0], r.conditions):
        _draw_bars(ax, r, r.summaries.get(cond, {}))
        _dress_axes(ax, r, _where(r, cond))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

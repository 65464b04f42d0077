"""The tools' side of the server-side workloads (W9 delete, W10 and W12 copy).

Imported by the Python tools' child (:mod:`.tools`, run by its path, so as a
sibling module: only the standard library at module level) and by
:mod:`.clis` for the CLI peers' argv. Jobs: ``delete_many`` deletes the
job's ``count`` keys under ``Job.prefix``; ``copy_prefix`` copies the
``count`` keys under ``Job.source`` to ``Job.prefix``; ``copy_one`` copies
the one object ``Job.source + 00000`` to ``Job.prefix + 00000``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Tuple

if TYPE_CHECKING:
    from .tools import Job

OPS = ("delete_many", "copy_prefix", "copy_one", "sync_tree")  # sync_tree: W11 (sync_tools)
BOTO3_THREADS = 32  # as the plain-boto3 adapter of the other workloads

Counted = Tuple[int, int]  # objects and bytes a run handled


def _url(job: Job, prefix: str, key: str = "") -> str:
    return f"s3://{job.bucket}/{prefix}{key}"


def run_s3client(job: Job) -> Counted:
    """Do the job with ``s3client.S3``."""
    from s3client import S3

    with S3(tmproot=job.dest) as s3:
        if job.op == "delete_many":
            deleted = s3.delete_many([_url(job, job.prefix, k) for k in job.keys()])
            return len(deleted), len(deleted) * job.size
        pairs = [(_url(job, job.source, k), _url(job, job.prefix, k)) for k in job.keys()]
        return len(s3.copy_many(pairs)), job.count * job.size


def run_boto3(job: Job) -> Counted:
    """Do the job with plain boto3: one delete_objects; copy_object on a thread pool;
    s3transfer's managed copy for one large object."""
    import boto3
    from botocore.config import Config

    client: Any = boto3.client("s3", config=Config(max_pool_connections=BOTO3_THREADS))
    if job.op == "delete_many":
        objects = [{"Key": job.prefix + k} for k in job.keys()]
        client.delete_objects(Bucket=job.bucket, Delete={"Objects": objects, "Quiet": True})
        return job.count, job.count * job.size
    if job.op == "copy_one":
        source = {"Bucket": job.bucket, "Key": job.source + job.keys()[0]}
        client.copy(source, job.bucket, job.prefix + job.keys()[0])
        return 1, job.size
    from concurrent.futures import ThreadPoolExecutor

    def copy(key: str) -> None:
        source = {"Bucket": job.bucket, "Key": job.source + key}
        client.copy_object(Bucket=job.bucket, Key=job.prefix + key, CopySource=source)

    with ThreadPoolExecutor(BOTO3_THREADS) as pool:
        list(pool.map(copy, job.keys()))
    return job.count, job.count * job.size


def run_tool(tool: str, job: Job) -> Counted:
    """Do a server-side job with a Python tool."""
    if job.op == "sync_tree":  # W11: a sibling module (the child runs by path)
        import sync_tools  # type: ignore[import-not-found, unused-ignore]

        return sync_tools.run_s3client(job)  # type: ignore[no-any-return, unused-ignore]
    if tool == "s3client":
        return run_s3client(job)
    if tool == "boto3":
        return run_boto3(job)
    raise ValueError(f"{tool} does not run {job.op}")


def cli_args(tool: str, job: Job) -> List[str]:
    """The arguments (after the endpoint) of a CLI peer doing a server-side job."""
    if job.op == "sync_tree":  # W11 (parent side only: a relative import)
        from .sync_tools import cli_args as sync_args

        return sync_args(tool, job)
    key = job.keys()[0]
    if tool == "s5cmd":
        return {
            "delete_many": ["rm", _url(job, job.prefix, "*")],
            "copy_prefix": ["cp", _url(job, job.source, "*"), _url(job, job.prefix)],
        }[job.op]
    return {
        "delete_many": ["s3", "rm", "--recursive", "--quiet", _url(job, job.prefix)],
        "copy_prefix": ["s3", "cp", "--recursive", "--quiet"]
        + [_url(job, job.source), _url(job, job.prefix)],
        "copy_one": ["s3", "cp", "--quiet", _url(job, job.source, key), _url(job, job.prefix, key)],
    }[job.op]

"""W9, W10, W12: the server-side workloads (delete, copy), their data and their checks.

- **W9** delete 1,000 keys (peers ``s5cmd rm``, ``aws s3 rm --recursive``, boto3
  ``delete_objects``): before each run, untimed, the keys are put in place
  under the run's own prefix (server-side copies of ``small/``).
- **W10** copy 1,000 x 10 KiB server-side from ``small/`` to a new prefix
  (peers ``s5cmd cp s3://.. s3://..``, ``aws s3 cp --recursive``, boto3 threads).
- **W12** copy one 6 GiB object (a multipart copy; peers ``aws s3 cp`` and
  boto3's managed copy); full run only. Its source ``huge/00000`` is made
  once, server-side, from the big object.

A run's result is checked in the bucket (W9: nothing left under the prefix;
W10/W12: every copy there, bytes counted), and its prefix deleted after.
The tools' side is :mod:`.serverside_tools`.
"""

from __future__ import annotations

from typing import Any, Dict, List

from . import sync_bench
from .dataset import bucket_outcome, check, delete_prefix
from .model import BUCKET, KIB, MIB, Sizes, Workload
from .serverside_tools import OPS
from .tools import Job, Outcome, key_name

GIB = 1024 * MIB
W12_SIZE = 6 * GIB
HUGE = "huge/"  # W12's source prefix
SEED = "seed"  # Workload.source of W9: its keys are put in place before each run


def serverside_workloads(s: Sizes) -> List[Workload]:
    """W9, W10 and W12 at the sizes of ``s`` (a run's prefix is fresh: ``source`` set)."""
    n, size = s.small_count, s.small_size
    return [
        Workload(
            "W9",
            f"delete {n:,} keys",
            "delete_many",
            "del/",
            n,
            n,
            size,
            SEED,
            ("s3client", "s5cmd", "awscli", "boto3"),
        ),
        Workload(
            "W10",
            f"copy {n:,} x {size // KIB} KiB server-side",
            "copy_prefix",
            "cp/",
            n,
            n,
            size,
            "small/",
            ("s3client", "s5cmd", "awscli", "boto3"),
        ),
        Workload(
            "W12",
            f"copy 1 x {W12_SIZE // GIB} GiB server-side",
            "copy_one",
            "cp12/",
            1,
            1,
            W12_SIZE,
            HUGE,
            ("s3client", "awscli", "boto3"),
        ),
    ]


def source_of(wl: Workload) -> str:
    """The prefix a copy workload copies from ("" for the others)."""
    return wl.source if wl.op in OPS and wl.source != SEED else ""


def prepare(client: Any, job: Job, big_key: str = "big/00000") -> None:
    """Untimed set-up before a run: W9's keys in place; W12's source made once;
    W11's tree and its copy in the bucket (``sync_bench``)."""
    if job.op in sync_bench.OPS:
        sync_bench.prepare(client, job)
    if job.op == "delete_many":
        _copy_keys(client, "small/", job.prefix, job.count)
    elif job.op == "copy_one":
        _make_huge(client, big_key, job.source + key_name(0), job.size)


def check_run(client: Any, job: Job) -> None:
    """RuntimeError when the run did not do its job (checked in the bucket)."""
    if job.op in sync_bench.OPS:
        sync_bench.check_run(client, job)
        return
    want = Outcome(0, 0) if job.op == "delete_many" else job.expected()
    check(f"{job.op} in the bucket", bucket_outcome(client, job.prefix), want)


def clean_up(client: Any, job: Job) -> None:
    """Delete the run's prefix."""
    delete_prefix(client, job.prefix)


def _copy_keys(client: Any, source: str, prefix: str, count: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def copy(i: int) -> None:
        key = key_name(i)
        ref = {"Bucket": BUCKET, "Key": source + key}
        client.copy_object(Bucket=BUCKET, Key=prefix + key, CopySource=ref)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(copy, range(count)))


def _make_huge(client: Any, big_key: str, key: str, size: int) -> None:
    """``key`` of ``size`` bytes, copied server-side from ``big_key`` part by part."""
    try:
        if int(client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]) == size:
            return
    except client.exceptions.ClientError:
        pass
    big = int(client.head_object(Bucket=BUCKET, Key=big_key)["ContentLength"])
    part = min(big, 512 * MIB)
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts: List[Dict[str, Any]] = []
    offset = 0
    while offset < size:
        length = min(part, size - offset)
        answer = client.upload_part_copy(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload,
            PartNumber=len(parts) + 1,
            CopySource={"Bucket": BUCKET, "Key": big_key},
            CopySourceRange=f"bytes=0-{length - 1}",
        )
        parts.append({"PartNumber": len(parts) + 1, "ETag": answer["CopyPartResult"]["ETag"]})
        offset += length
    client.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )

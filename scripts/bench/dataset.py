"""The data set in the bucket and on disk: created once, checked, cleaned up after uploads."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .model import BUCKET, MIB, Sizes
from .tools import Outcome

DATA_THREADS = 32  # threads creating the data set


@dataclass(frozen=True)
class DataSet:
    """Where the local upload sources are."""

    small_dir: str  # small_count files named like the keys
    big_file: str  # one file of big_size bytes


def _put_objects(client: Any, prefix: str, count: int, size: int) -> None:
    def put(i: int) -> None:
        client.put_object(Bucket=BUCKET, Key=f"{prefix}{i:05d}", Body=os.urandom(size))

    with ThreadPoolExecutor(DATA_THREADS) as pool:
        list(pool.map(put, range(count)))


def _write_big_file(path: str, size: int) -> None:
    chunk = 8 * MIB
    with open(path, "wb") as f:
        for offset in range(0, size, chunk):
            f.write(os.urandom(min(chunk, size - offset)))


def _without_checksums(client: Any) -> Any:
    """A client like ``client`` that sends no checksums: its multipart uploads
    (8 MiB parts, boto3's default) leave only a multipart ETag to check (W3-etag)."""
    import boto3
    from botocore.config import Config

    creds = client._request_signer._credentials
    return boto3.client(
        "s3",
        endpoint_url=client.meta.endpoint_url,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        region_name=client.meta.region_name,
        config=client.meta.config.merge(Config(request_checksum_calculation="when_required")),
    )


def _write_small_files(directory: str, count: int, size: int) -> None:
    os.makedirs(directory)
    for i in range(count):
        with open(os.path.join(directory, f"{i:05d}"), "wb") as f:
            f.write(os.urandom(size))


def bucket_outcome(client: Any, prefix: str) -> Outcome:
    """Objects under ``prefix`` and their total bytes (listed with boto3)."""
    count = nbytes = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            count += 1
            nbytes += int(item["Size"])
    return Outcome(count, nbytes)


def delete_prefix(client: Any, prefix: str) -> None:
    """Delete every object under ``prefix``."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True})


def create_data(client: Any, s: Sizes, workdir: str) -> DataSet:
    """Create the bucket's objects and the local upload sources; check the counts."""
    data = DataSet(os.path.join(workdir, "src-small"), os.path.join(workdir, "src-big"))
    _write_small_files(data.small_dir, s.small_count, s.small_size)
    _write_big_file(data.big_file, s.big_size)
    _put_objects(client, "small/", s.small_count, s.small_size)
    _put_objects(client, "many/", s.many_count, s.small_size)
    _put_objects(client, "tiny/", s.tiny_count, s.tiny_size)
    client.upload_file(data.big_file, BUCKET, "big/00000")
    _without_checksums(client).upload_file(data.big_file, BUCKET, "etag/00000")
    for prefix, count, size in (
        ("small/", s.small_count, s.small_size),
        ("many/", s.many_count, s.small_size),
        ("tiny/", s.tiny_count, s.tiny_size),
        ("big/", 1, s.big_size),
        ("etag/", 1, s.big_size),
    ):
        check(f"data set {prefix}", bucket_outcome(client, prefix), Outcome(count, count * size))
    return data


def check(what: str, got: Outcome, want: Outcome) -> None:
    """Raise RuntimeError naming ``what`` when ``got`` is not ``want``."""
    if got != want:
        raise RuntimeError(
            f"{what}: saw {got.count} objects / {got.nbytes} bytes, "
            f"expected {want.count} / {want.nbytes}"
        )

"""A multipart upload cut by ``s3op.upload_split``, against a real server: the parts
S3 stores, and a no-overwrite put that may repeat recognising its own upload
(``ops.put._same_content`` must cut the file as the upload did)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from s3op.client import make_client
from s3op.jobs import PutJob, Settings
from s3op.ops import OpContext
from s3op.ops.put import run_put
from s3op.protocol import PutRequest
from s3op.upload_split import upload_spans
from tests.backends import Backend
from tests.functional.batches import QUICK_RETRIES, fast_config
from tests.functional.test_cli import body_of, s3op

MiB = 1024 * 1024
SIZE = 40 * MiB  # 8 parts of 5 MiB (2 of 16 MiB and one of 8 before)


def _repeat_ctx(endpoint: str) -> OpContext:
    settings = Settings(tmp_tag="split", no_overwrite=True, may_repeat=True)
    return OpContext(make_client(fast_config(endpoint)), QUICK_RETRIES, settings)


def _put(ctx: OpContext, url: str, local: Path) -> Any:
    return run_put(ctx, PutJob(PutRequest(idx=0, url=url, local=str(local))))


def test_a_40_mib_put_goes_in_5_mib_parts_and_a_repeat_knows_it(
    s3backend: Backend, tmp_path: Path
) -> None:
    data = os.urandom(SIZE)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    url = f"s3://{s3backend.bucket}/big.bin"

    run = s3op("put", str(src), url, cwd=tmp_path)  # default part size (16 MiB)

    assert run.code == 0, run.stdout + run.stderr
    client = s3backend.client()
    etag = client.head_object(Bucket=s3backend.bucket, Key="big.bin")["ETag"].strip('"')
    assert len(upload_spans(SIZE, 16 * MiB)) == 8 and etag.endswith("-8")
    assert body_of(client, s3backend, "big.bin") == data

    # A re-run that may repeat finds its own bytes there (part by part): written.
    ctx = _repeat_ctx(s3backend.endpoint_url)
    again = _put(ctx, url, src)
    assert again.ok and again.skipped is None and again.etag.strip('"') == etag
    # Other bytes of the same size are someone else's object: skipped.
    other = tmp_path / "other.bin"
    other.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert _put(ctx, url, other).skipped == "exists"
    assert body_of(client, s3backend, "big.bin") == data

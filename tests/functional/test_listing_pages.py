"""Listings of several pages on moto: read-ahead, and result lines on an unbuffered stdout.

moto answers ListObjectsV2 in pages of 1,000 keys, so 2,345 keys take three
pages and two continuation tokens. Some keys need escaping in XML or URLs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List

import pytest
from botocore.credentials import Credentials

from s3client import S3
from s3op.fastpath import FastClient
from s3op.fastsend import Endpoint
from tests.backends import REGION, Backend

REPO = Path(__file__).resolve().parents[2]
COUNT = 2345
ODD = ["odd/a&b <c>.txt", "odd/sp ace+plus", "odd/ünï'cödé\"q", "odd/%41%2F"]


@pytest.fixture
def many(s3backend: Backend) -> List[str]:
    """COUNT keys under ``many/`` (three pages) plus a few odd ones under ``many/odd/``."""
    keys = [f"many/{i:05d}" for i in range(COUNT)] + [f"many/{k}" for k in ODD]
    client = s3backend.client()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=s3backend.bucket, Key=k, Body=b"x"), keys))
    return sorted(keys)


def _fast_client(backend: Backend) -> FastClient:
    creds = Credentials(backend.access_key, backend.secret_key)
    endpoint = Endpoint(backend.endpoint_url, REGION, True)
    return FastClient(endpoint, creds, lambda: backend.client(), max_connections=4)


def _list_all(client: FastClient, bucket: str, **kwargs: Any) -> List[Dict[str, Any]]:
    pages, token = [], None
    while True:
        page = client.list_objects_v2(Bucket=bucket, ContinuationToken=token, **kwargs)
        pages.append(page)
        token = page.get("NextContinuationToken")
        if not page["IsTruncated"]:
            return pages


def test_a_three_page_listing_every_way(
    s3backend: Backend, many: List[str], tmp_path: Path
) -> None:
    """One seeding (about 10 s on moto), four readers of it."""
    bucket = s3backend.bucket

    # The fast client: every page after the first comes from read-ahead.
    client = _fast_client(s3backend)
    pages = _list_all(client, bucket, Prefix="many/")
    assert len(pages) == 3
    assert [o["Key"] for p in pages for o in p["Contents"]] == many
    assert client._read_ahead.hits == 2

    # A listing abandoned after its first page; a new one still sees everything once.
    assert client.list_objects_v2(Bucket=bucket, Prefix="many/")["IsTruncated"]
    again = _list_all(client, bucket, Prefix="many/")
    assert [o["Key"] for p in again for o in p["Contents"]] == many

    # With a delimiter.
    pages = _list_all(_fast_client(s3backend), bucket, Prefix="many/", Delimiter="/")
    assert [o["Key"] for p in pages for o in p["Contents"]] == [
        k for k in many if not k.startswith("many/odd/")
    ]
    assert [c["Prefix"] for p in pages for c in p["CommonPrefixes"]] == ["many/odd/"]

    # Through s3client and the engine.
    with S3(s3root=s3backend.root("many/")) as s3:
        assert sorted(o.key for o in s3.list_recursive()) == sorted(k[5:] for k in many)

    # The CLI under PYTHONUNBUFFERED (common in containers): s3op buffers its stdout
    # itself, and every line still arrives, once.
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "s3op", "list", "--recursive", s3backend.root("many/")],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    urls = [json.loads(line)["url"] for line in proc.stdout.splitlines()]
    assert urls == [s3backend.root(k) for k in many]


def test_stdout_is_buffered_under_python_u() -> None:
    code = (
        "import sys\n"
        "from s3op.stdout import buffer_stdout\n"
        "buffer_stdout()\n"
        "sys.__stdout__.close()  # the original stream going away leaves ours working\n"
        "print(type(sys.stdout.buffer).__name__, sys.stdout.write_through)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-u", "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["BufferedWriter", "False"]

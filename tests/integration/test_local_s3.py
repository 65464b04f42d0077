"""scripts/local_s3.py: SeaweedFS starts, serves S3 as documented in tests/backends.py, stops."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from local_s3 import LocalS3
from tests.backends import Backend
from tests.conftest import REPO


def _status(exc: ClientError) -> int:
    return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])


def test_put_get_and_etag(s3backend: Backend) -> None:
    client = s3backend.client()
    data = b"0123456789"
    put = client.put_object(Bucket=s3backend.bucket, Key="k", Body=data)
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert client.get_object(Bucket=s3backend.bucket, Key="k")["Body"].read() == data


def test_if_none_match_put(s3backend: Backend) -> None:
    client = s3backend.client()
    client.put_object(Bucket=s3backend.bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as err:
        client.put_object(Bucket=s3backend.bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert _status(err.value) == 412
    assert client.get_object(Bucket=s3backend.bucket, Key="once")["Body"].read() == b"first"


def test_ranged_get(s3backend: Backend) -> None:
    client = s3backend.client()
    client.put_object(Bucket=s3backend.bucket, Key="r", Body=b"0123456789")
    obj = client.get_object(Bucket=s3backend.bucket, Key="r", Range="bytes=2-5")
    assert obj["Body"].read() == b"2345"
    assert obj["ContentRange"] == "bytes 2-5/10"
    obj = client.get_object(Bucket=s3backend.bucket, Key="r", Range="bytes=-3")
    assert (obj["Body"].read(), obj["ContentRange"]) == (b"789", "bytes 7-9/10")
    with pytest.raises(ClientError) as err:
        client.get_object(Bucket=s3backend.bucket, Key="r", Range="bytes=20-")
    assert _status(err.value) == 416
    client.put_object(Bucket=s3backend.bucket, Key="empty", Body=b"")
    with pytest.raises(ClientError) as err:
        client.get_object(Bucket=s3backend.bucket, Key="empty", Range="bytes=0-")
    assert _status(err.value) == 416


def test_checksum_and_sse(s3backend: Backend) -> None:
    client = s3backend.client()
    client.put_object(
        Bucket=s3backend.bucket, Key="e", Body=b"0123456789", ServerSideEncryption="AES256"
    )
    head = client.head_object(Bucket=s3backend.bucket, Key="e", ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ChecksumCRC32"] == "poTHxg=="  # base64(crc32(b"0123456789"), big-endian)


def _weed_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"weed" in f.read()
    except OSError:
        return False


def test_own_instance_starts_and_stops_cleanly() -> None:
    server = LocalS3()
    with server:
        assert server.is_running()
        assert server.startup_seconds is not None and server.startup_seconds < 60
        pid, data_dir = server.pid, server.data_dir
        assert pid is not None and _weed_alive(pid)
        server.create_bucket("own")
        server.create_bucket("own")  # idempotent
        client = server.client()
        client.put_object(Bucket="own", Key="x", Body=b"y")
        assert client.get_object(Bucket="own", Key="x")["Body"].read() == b"y"
        ports = dict(server.ports)
    assert not server.is_running()
    assert not _weed_alive(pid)
    assert not os.path.exists(data_dir)
    for port in ports.values():
        assert not os.path.exists(f"/tmp/seaweedfs-s3-grpc-{port + 10000}.sock")


def test_cli_run_passes_env_and_exit_code() -> None:
    code = (
        "import os, sys; from botocore.session import get_session;"
        "b = os.environ['S3CLIENT_DEMO_BUCKET'];"
        "c = get_session().create_client('s3');"
        "c.put_object(Bucket=b, Key='k', Body=b'v');"
        "assert c.get_object(Bucket=b, Key='k')['Body'].read() == b'v';"
        "print(os.environ['AWS_ENDPOINT_URL_S3']); sys.exit(7)"
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "local_s3.py"),
            "run",
            "--bucket",
            "clib",
            "--",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout.startswith("http://127.0.0.1:")

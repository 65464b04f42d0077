"""Issue #14 end to end: a missing bucket and a host that does not resolve.

A missing bucket is ``bucket_not_found`` (``S3BucketNotFound``, a subclass
of ``S3NotFound``): ``return_missing`` and ``--allow-missing`` never hide
it. A host name that does not resolve is a network failure: ``transient``,
retried, and the message says ``cannot resolve host <host>``. Each runs
through both transports: the lean fast path (the default when credentials
and endpoint come from the environment) and botocore (``S3OP_FAST=0``).
The ``.invalid`` top-level domain never resolves (RFC 6761).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

from s3client import S3, S3BucketNotFound, S3NotFound, S3TransientError
from s3op.protocol import ErrorKind
from tests.backends import REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY, Backend, unique_bucket

REPO = Path(__file__).resolve().parents[2]
BAD_HOST = "no-such-host.invalid"
BAD_ENDPOINT = f"http://{BAD_HOST}:9000"

TRANSPORTS = [pytest.param("1", id="fast"), pytest.param("0", id="botocore")]


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest, isolated_env: pytest.MonkeyPatch) -> str:
    """S3OP_FAST for the engine; a fresh engine per batch so it inherits the setting."""
    isolated_env.setenv("S3OP_FAST", request.param)
    isolated_env.setenv("S3CLIENT_ENGINE", "subprocess")
    return str(request.param)


def run_s3op(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "s3op", *args],
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def lines(proc: subprocess.CompletedProcess[str]) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


# ------------------------------------------------------------------- missing bucket


def test_get_and_info_of_a_missing_bucket_raise_even_with_return_missing(
    s3backend: Backend, transport: str
) -> None:
    root = f"s3://{unique_bucket('gone')}/data"
    with S3(s3root=root, retries=2) as s3:
        calls: List[Callable[[], Any]] = [
            lambda: s3.get("k", return_missing=True),
            lambda: s3.get_many(["k", "j"], return_missing=True),
            lambda: s3.info("k", return_missing=True),
            lambda: s3.info_many(["k", "j"], return_missing=True),
        ]
        for call in calls:
            with pytest.raises(S3BucketNotFound) as err:
                call()
            assert isinstance(err.value, S3NotFound)  # `except S3NotFound` still catches it
            assert err.value.kind is ErrorKind.BUCKET_NOT_FOUND
            assert str(err.value).startswith(f"S3 bucket not found: {root}/")


def test_a_missing_key_in_a_bucket_that_exists_is_still_just_missing(
    s3backend: Backend, transport: str
) -> None:
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="d/here", Body=b"x")
    with S3(s3root=s3backend.root("d"), retries=2) as s3:
        infos = s3.info_many(["a", "here", "b", "c"], return_missing=True)
        assert [o.exists for o in infos] == [False, True, False, False]
        assert s3.get("a", return_missing=True).exists is False
        with pytest.raises(S3NotFound) as err:
            s3.info("a")
        assert type(err.value) is S3NotFound and err.value.kind is ErrorKind.NOT_FOUND


def test_listing_or_putting_into_a_missing_bucket_raises_bucket_not_found(
    s3backend: Backend, transport: str
) -> None:
    root = f"s3://{unique_bucket('gone')}/data"
    with S3(s3root=root, retries=2) as s3:
        for call in (s3.list_paths, s3.list_recursive, lambda: s3.put("k", b"v")):
            with pytest.raises(S3BucketNotFound):
                call()


def test_cli_allow_missing_never_forgives_a_missing_bucket(
    s3backend: Backend, transport: str, tmp_path: Path
) -> None:
    gone = f"s3://{unique_bucket('gone')}/k"
    absent = s3backend.root("absent")
    for op in ("get", "info"):
        proc = run_s3op(op, "--allow-missing", "--retries", "2", gone, absent, cwd=tmp_path)
        assert proc.returncode == 1, (op, proc.stdout, proc.stderr)
        by_url = {line["url"]: line for line in lines(proc)}
        assert by_url[gone]["error"]["kind"] == "bucket_not_found", (op, by_url)
        assert by_url[absent]["error"]["kind"] == "not_found", (op, by_url)
        alone = run_s3op(op, "--allow-missing", absent, cwd=tmp_path)
        assert alone.returncode == 0, (op, alone.stdout, alone.stderr)


# ----------------------------------------------------------------------------- DNS


@pytest.fixture
def unresolvable(transport: str, isolated_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Credentials and region in the environment, the endpoint a host that never resolves."""
    isolated_env.setenv("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY)
    isolated_env.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY)
    isolated_env.setenv("AWS_DEFAULT_REGION", REGION)
    return isolated_env


def test_cli_unresolvable_host_is_transient_and_retried(
    unresolvable: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    unresolvable.setenv("AWS_ENDPOINT_URL_S3", BAD_ENDPOINT)
    for op in ("get", "info", "list"):
        proc = run_s3op(op, "--retries", "2", "--deadline", "20", "s3://bucket/k", cwd=tmp_path)
        assert proc.returncode == 3, (op, proc.stdout, proc.stderr)  # ExitCode.TRANSIENT
        (line,) = lines(proc)
        assert line["error"]["kind"] == "transient", (op, line)
        assert f"cannot resolve host {BAD_HOST}" in line["error"]["message"], (op, line)
        assert line["attempts"] == 2, (op, line)


def test_library_unresolvable_endpoint_raises_transient_naming_the_host(
    unresolvable: pytest.MonkeyPatch,
) -> None:
    params = {"endpoint_url": BAD_ENDPOINT}
    with S3(s3root="s3://bucket/data", client_params=params, retries=2, deadline=20) as s3:
        for call in (lambda: s3.get("k"), lambda: s3.info("k"), s3.list_paths):
            with pytest.raises(S3TransientError) as err:
                call()
            assert "cannot resolve host" in str(err.value) and BAD_HOST in str(err.value)
            assert err.value.kind is ErrorKind.TRANSIENT

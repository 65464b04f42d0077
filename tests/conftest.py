"""Shared fixtures: the S3 servers (one per session) and an AWS-free environment.

- ``moto_server``: moto's threaded server on 127.0.0.1, endpoint URL as value.
- ``seaweed_server``: a :class:`local_s3.LocalS3` (SeaweedFS) for the session.
- ``isolated_env``: no AWS profile/config/credentials from the developer's machine.
- :func:`make_s3backend_fixture`: builds the per-test ``s3backend`` fixture that
  ``tests/functional/conftest.py`` (moto) and ``tests/integration/conftest.py``
  (SeaweedFS) expose under the same name, so ``tests/conformance.py`` runs on both.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from s3client.mfconfig import METAFLOW_VARS
from tests.backends import (
    TEST_ACCESS_KEY,
    TEST_SECRET_KEY,
    Backend,
    delete_bucket,
    reset_moto,
    start_moto,
    unique_bucket,
)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from local_s3 import LocalS3, find_weed  # noqa: E402

# Variables that could send a test to real AWS or change how clients are built.
AWS_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CA_BUNDLE",
    "S3OP_SESSION_VARS",
    "S3OP_CLIENT_PARAMS",
)


def shared_servers(directory: str) -> list[int]:
    """Pids of the shared ``s3op serve --listen`` servers with sockets under ``directory``."""
    from tests.faults.conftest import processes

    return [
        p.pid for p in processes() if "--listen" in p.cmdline.split() and directory in p.cmdline
    ]


@pytest.fixture(scope="session", autouse=True)
def shared_runtime_dir() -> Iterator[str]:
    """Shared engine servers of this session live in a directory of their own (short:
    socket paths are limited to 107 bytes), idle out after 10 s, and are all stopped
    when the session ends."""
    directory = tempfile.mkdtemp(prefix="s3c-rt-", dir="/tmp")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_RUNTIME_DIR", directory)
        mp.setenv("S3CLIENT_SHARED_IDLE", "10")
        yield directory
    for pid in shared_servers(directory):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Remove AWS and metaflow settings; point config files at /dev/null.

    A developer's ``~/.metaflowconfig`` must not send tests elsewhere: s3client
    reads metaflow's settings (``s3client.mfconfig``), and a configured
    endpoint outranks ``AWS_ENDPOINT_URL_S3``.
    """
    for name in (*AWS_VARS, *METAFLOW_VARS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("METAFLOW_HOME", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's S3 on a free loopback port for the whole session; yields the endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server, endpoint = start_moto()
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seaweed_server() -> Iterator[LocalS3]:
    """SeaweedFS (``weed server``) for the whole session; skipped if ``weed`` is missing."""
    try:
        find_weed()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    server = LocalS3(access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make_s3backend_fixture(server_fixture: str, name: str) -> Callable[..., Any]:
    """Build an ``s3backend`` fixture on the session server fixture ``server_fixture``.

    Each test gets a fresh bucket and the ``AWS_*`` variables of that endpoint in
    ``os.environ`` (so subprocesses such as ``python -m s3op`` inherit them).
    After the test the bucket is removed (SeaweedFS) or moto's state is reset.
    """

    @pytest.fixture
    def s3backend(
        request: pytest.FixtureRequest, isolated_env: pytest.MonkeyPatch
    ) -> Iterator[Backend]:
        server = request.getfixturevalue(server_fixture)
        endpoint = server if isinstance(server, str) else server.endpoint_url
        backend = Backend(name=name, endpoint_url=endpoint, bucket=unique_bucket())
        client = backend.client()
        client.create_bucket(Bucket=backend.bucket)
        for key, value in backend.env().items():
            isolated_env.setenv(key, value)
        try:
            yield backend
        finally:
            if name == "moto":
                reset_moto(endpoint)
            else:
                delete_bucket(client, backend.bucket)

    return s3backend

"""s3op.client.resolve: the environment-only shortcut gives what a botocore session gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

from s3op.client import (
    ClientConfig,
    Credentials,
    _fast_endpoint,
    _resolve_from_env,
    botocore_session,
    resolve,
    resolve_credentials,
)

ENV_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_PROFILE",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "S3OP_FAST",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean AWS environment with empty config files."""
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "config").write_text("")
    (tmp_path / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def _full_env(env: pytest.MonkeyPatch) -> None:
    env.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    env.setenv("AWS_SECRET_ACCESS_KEY", "secret-env")
    env.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    env.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")


def _via_session(config: ClientConfig) -> ClientConfig:
    from dataclasses import replace

    session = botocore_session(config.session_vars)
    resolved = resolve_credentials(config, session)
    return replace(resolved, fast=_fast_endpoint(resolved, session))


def test_env_shortcut_matches_the_session(env: pytest.MonkeyPatch) -> None:
    _full_env(env)
    env.setenv("AWS_SESSION_TOKEN", "tok")
    config = ClientConfig()
    quick = _resolve_from_env(config)
    assert quick is not None
    assert quick == _via_session(config)
    assert quick.credentials == Credentials("AKIDENV", "secret-env", "tok")
    assert quick.fast == ("http://127.0.0.1:9000", "eu-west-3", True)


def test_security_token_wins_like_botocore(env: pytest.MonkeyPatch) -> None:
    _full_env(env)
    env.setenv("AWS_SECURITY_TOKEN", "older-name")
    env.setenv("AWS_SESSION_TOKEN", "newer-name")
    quick = _resolve_from_env(ClientConfig())
    assert quick is not None and quick.credentials is not None
    assert quick.credentials.token == _via_session(ClientConfig()).credentials.token  # type: ignore[union-attr]


def test_client_params_override_env(env: pytest.MonkeyPatch) -> None:
    _full_env(env)
    params = {
        "endpoint_url": "http://localhost:9999",
        "region_name": "ap-south-1",
        "config": {"s3": {"addressing_style": "virtual"}},
    }
    config = ClientConfig(client_params=params)
    quick = _resolve_from_env(config)
    assert quick is not None
    assert quick == _via_session(config)
    assert quick.fast == ("http://localhost:9999", "ap-south-1", False)


def test_params_the_fast_path_cannot_honour_keep_botocore(env: pytest.MonkeyPatch) -> None:
    _full_env(env)
    config = ClientConfig(client_params={"verify": False})
    quick = _resolve_from_env(config)
    assert quick is not None and quick.fast is None
    assert quick.credentials == Credentials("AKIDENV", "secret-env", None)


@pytest.mark.parametrize(
    "change",
    [
        {"AWS_DEFAULT_REGION": None},  # region only in a config file, maybe
        {"AWS_ENDPOINT_URL_S3": None},  # endpoint only in a config file, maybe
        {"AWS_SECRET_ACCESS_KEY": None},
        {"AWS_CREDENTIAL_EXPIRATION": "2030-01-01T00:00:00Z"},
        {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
    ],
)
def test_incomplete_env_takes_the_session_path(
    env: pytest.MonkeyPatch, change: Dict[str, str]
) -> None:
    _full_env(env)
    for key, value in change.items():
        if value is None:
            env.delenv(key)
        else:
            env.setenv(key, value)
    assert _resolve_from_env(ClientConfig()) is None


def test_role_and_session_vars_take_the_session_path(env: pytest.MonkeyPatch) -> None:
    _full_env(env)
    assert _resolve_from_env(ClientConfig(role="arn:aws:iam::1:role/x")) is None
    vars_ = {"aws_access_key_id": "AKIDVARS", "aws_secret_access_key": "s"}
    resolved = resolve(ClientConfig(session_vars=vars_))
    assert resolved.credentials == Credentials("AKIDVARS", "s", None)


def test_region_from_config_file_when_env_has_none(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _full_env(env)
    env.delenv("AWS_DEFAULT_REGION")
    (tmp_path / "config").write_text("[default]\nregion = sa-east-1\n")
    resolved = resolve(ClientConfig())
    assert resolved.fast == ("http://127.0.0.1:9000", "sa-east-1", True)


def test_engine_start_skips_botocore_session(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The point of the shortcut: the engine never imports botocore.session then."""
    _full_env(env)
    code = (
        "import sys, json\n"
        "from s3op.client import resolve, make_client, ClientConfig\n"
        "c = resolve(ClientConfig())\n"
        "make_client(c)\n"
        "print(json.dumps(['botocore.session' in sys.modules, c.fast is not None]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert json.loads(out.stdout) == [False, True]

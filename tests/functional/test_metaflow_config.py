"""``S3`` configured the way metaflow users have it, against moto.

Only the credentials stay in the environment (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``): no ``AWS_ENDPOINT_URL_S3``, no region, so an
object reaching moto proves the endpoint came from metaflow's settings.
``HOME`` and the current directory are empty temporary directories, so a
developer's ``~/.metaflowconfig`` or ``.metaflow`` never leaks in.

The last tests compare ``s3client.mfconfig`` with metaflow's own
``metaflow_config``, imported in a child (it reads its settings at import).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from s3client import S3, S3TransientError
from s3client.mfconfig import METAFLOW_VARS, MetaflowSettings
from tests.backends import Backend

OUR_VARS = (
    "S3CLIENT_S3ROOT",
    "S3CLIENT_ENDPOINT_URL",
    "S3CLIENT_TMPROOT",
    "S3CLIENT_NUM_WORKERS",
    "S3CLIENT_RETRIES",
)
ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_REGION")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home directory, also the current directory."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def bare_env(s3backend: Backend, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    """``s3backend`` with only its credentials left in the environment."""
    for name in METAFLOW_VARS + OUR_VARS + ENDPOINT_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    yield s3backend


def write_config(directory: Path, settings: Dict[str, Any], name: str = "config.json") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps(settings), encoding="utf-8")


def stored(backend: Backend, key: str) -> bytes:
    return backend.client().get_object(Bucket=backend.bucket, Key=key)["Body"].read()


def put_and_get(key: str, value: bytes) -> str:
    """Put ``value`` under ``Flow/1`` of the configured root, read it back; its URL."""
    with S3(run="Flow/1") as s3:
        url = s3.put(key, value)
        assert s3.get(key).blob == value
    return url


# ------------------------------------------------------------ against moto


@pytest.mark.parametrize(
    "root_setting, prefix",
    [("METAFLOW_DATATOOLS_S3ROOT", "tools"), ("METAFLOW_DATASTORE_SYSROOT_S3", "mf/data")],
)
def test_config_json_alone_gives_root_and_endpoint(
    bare_env: Backend,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    root_setting: str,
    prefix: str,
) -> None:
    root = bare_env.root(prefix.split("/")[0]).rstrip("/")
    settings = {root_setting: root, "METAFLOW_S3_ENDPOINT_URL": bare_env.endpoint_url}
    write_config(tmp_path / "mfhome", settings)
    monkeypatch.setenv("METAFLOW_HOME", str(tmp_path / "mfhome"))
    url = put_and_get("greeting", b"hello from config.json")
    assert url == f"s3://{bare_env.bucket}/{prefix}/Flow/1/greeting"
    assert stored(bare_env, f"{prefix}/Flow/1/greeting") == b"hello from config.json"


def test_profile_in_default_home(
    bare_env: Backend, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {
        "METAFLOW_DATASTORE_SYSROOT_S3": bare_env.root("prof").rstrip("/"),
        "METAFLOW_S3_ENDPOINT_URL": bare_env.endpoint_url,
    }
    write_config(home / ".metaflowconfig", settings, "config_dev.json")
    monkeypatch.setenv("METAFLOW_PROFILE", "dev")
    put_and_get("k", b"v")
    assert stored(bare_env, "prof/data/Flow/1/k") == b"v"


def test_root_and_endpoint_from_the_environment(
    bare_env: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METAFLOW_DATATOOLS_S3ROOT", bare_env.root("envroot"))
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", bare_env.endpoint_url)
    url = put_and_get("data.bin", b"\x00\x01")
    assert url == f"s3://{bare_env.bucket}/envroot/Flow/1/data.bin"
    assert stored(bare_env, "envroot/Flow/1/data.bin") == b"\x00\x01"


def test_our_endpoint_variable_wins_over_metaflow_config(
    bare_env: Backend, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {
        "METAFLOW_DATATOOLS_S3ROOT": bare_env.root("x"),
        "METAFLOW_S3_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens there
    }
    write_config(home / ".metaflowconfig", settings)
    monkeypatch.setenv("S3CLIENT_ENDPOINT_URL", bare_env.endpoint_url)
    put_and_get("k", b"ours")
    assert stored(bare_env, "x/Flow/1/k") == b"ours"


def test_metaflow_failure_injection_and_retry_count_reach_the_engine(
    bare_env: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", bare_env.endpoint_url)
    monkeypatch.setenv("METAFLOW_S3_TEST_RETRYABLE_FAILURES", "100")
    monkeypatch.setenv("METAFLOW_S3_RETRY_COUNT", "1")  # two attempts, both failed
    with S3(s3root=bare_env.root("inj")) as s3:
        with pytest.raises(S3TransientError, match="injected failure"):
            s3.put("k", b"never stored")
    with S3(s3root=bare_env.root("inj"), inject_failure_rate=0) as s3:
        s3.put("k", b"stored")
    assert stored(bare_env, "inj/k") == b"stored"


def test_configured_encryption_applies_to_uploads(
    bare_env: Backend, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {
        "METAFLOW_DATATOOLS_S3ROOT": bare_env.root("enc"),
        "METAFLOW_S3_ENDPOINT_URL": bare_env.endpoint_url,
        "METAFLOW_S3_SERVER_SIDE_ENCRYPTION": "AES256",
    }
    write_config(home / ".metaflowconfig", settings)
    put_and_get("k", b"secret")
    head = bare_env.client().head_object(Bucket=bare_env.bucket, Key="enc/Flow/1/k")
    assert head.get("ServerSideEncryption") == "AES256"


# ------------------------------------------- the same answers as metaflow

METAFLOW_VIEW = """
import json
from metaflow import metaflow_config as c
print(json.dumps({
    "s3root": c.DATATOOLS_S3ROOT or None,
    "client_params": c.DATATOOLS_CLIENT_PARAMS,
    "session_vars": c.DATATOOLS_SESSION_VARS,
    "encryption": c.S3_SERVER_SIDE_ENCRYPTION,
}))
"""


def metaflow_view(env: Dict[str, str], cwd: Path) -> Dict[str, Any]:
    """metaflow's own reading of ``env`` and its config files, from a child."""
    pytest.importorskip("metaflow")
    proc = subprocess.run(
        [sys.executable, "-c", METAFLOW_VIEW],
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def our_view(env: Dict[str, str], cwd: Path) -> Dict[str, Any]:
    mf = MetaflowSettings.load(env, str(cwd))
    return {
        "s3root": mf.s3root,
        "client_params": mf.client_params,
        "session_vars": mf.session_vars,
        "encryption": mf.encryption,
    }


CASES: Dict[str, Dict[str, Any]] = {
    "sysroot in file, endpoint in env": {
        "file": {"METAFLOW_DATASTORE_SYSROOT_S3": "s3://b/mf/"},
        "env": {"METAFLOW_S3_ENDPOINT_URL": "http://e:1"},
        "root": "s3://b/mf/data",
    },
    "file root beats env sysroot": {
        "file": {"METAFLOW_DATATOOLS_S3ROOT": "s3://f/dt", "METAFLOW_DATATOOLS_SUFFIX": "x"},
        "env": {"METAFLOW_DATASTORE_SYSROOT_S3": "s3://e/sys"},
        "root": "s3://f/dt",
    },
    "params, endpoint, verify, session vars, encryption": {
        "file": {
            "METAFLOW_DATATOOLS_CLIENT_PARAMS": {"endpoint_url": "http://p:2", "verify": True},
            "METAFLOW_S3_SERVER_SIDE_ENCRYPTION": "aws:kms",
        },
        "env": {
            "METAFLOW_S3_ENDPOINT_URL": "http://e:1",
            "METAFLOW_S3_VERIFY_CERTIFICATE": "/ca.pem",
            "METAFLOW_DATATOOLS_SESSION_VARS": '{"region_name": "eu-west-1"}',
        },
        "root": None,
    },
    "empty env root hides the file's": {
        "file": {"METAFLOW_DATASTORE_SYSROOT_S3": "s3://b/mf"},
        "env": {"METAFLOW_DATATOOLS_S3ROOT": "", "METAFLOW_DATATOOLS_SUFFIX": "s"},
        "root": None,
    },
    "profile and project file": {
        "file": {"METAFLOW_DATATOOLS_S3ROOT": "s3://profile/x"},
        "project": {"METAFLOW_DATATOOLS_S3ROOT": "s3://project/y"},
        "env": {"METAFLOW_PROFILE": "dev"},
        "root": "s3://project/y",
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_settings_read_as_metaflow_reads_them(tmp_path: Path, case: str) -> None:
    spec = CASES[case]
    home = tmp_path / "home"
    env = {"HOME": str(home), **spec["env"]}
    name = f"config_{env['METAFLOW_PROFILE']}.json" if "METAFLOW_PROFILE" in env else "config.json"
    write_config(home / ".metaflowconfig", spec["file"], name)
    cwd = tmp_path / "work" / "src"
    cwd.mkdir(parents=True)
    if "project" in spec:
        write_config(tmp_path / "work" / ".metaflow", spec["project"])
    ours = our_view(env, cwd)
    assert ours["s3root"] == spec["root"]
    assert ours == metaflow_view(env, cwd)

"""Key -> URL resolution in every addressing mode, and the S3() root rules."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path
from typing import Any, Dict

import pytest

from s3client import S3, S3URLError
from s3client.config import Config
from s3client.mfconfig import METAFLOW_VARS
from s3client.urls import as_prefix, resolve_url, root_from_run, root_from_s3root, run_ids
from tests.unit.client_fakes import clear_env


def config(s3root: str | None = None) -> Config:
    return Config(
        s3root=s3root,
        s3root_var="S3CLIENT_S3ROOT" if s3root else None,
        tmproot="/tmp",
        num_workers=None,
        debug=False,
    )


class FakeRun:
    """Looks like a metaflow Run: only ``pathspec`` matters."""

    pathspec = "TrainFlow/1234"


@pytest.fixture
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty home directory, apart from the test's ``tmp_path``."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, home: Path) -> pytest.MonkeyPatch:
    """No root or metaflow setting from this machine: HOME and the current
    directory are empty, every variable s3client reads is cleared."""
    clear_env(monkeypatch)
    for name in METAFLOW_VARS + ("S3CLIENT_ENDPOINT_URL", "S3CLIENT_RETRIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    monkeypatch.setenv("S3CLIENT_TMPROOT", str(tmp_path))
    return monkeypatch


def write_metaflow_config(home: Path, settings: Dict[str, str]) -> Path:
    """``~/.metaflowconfig/config.json`` holding ``settings``; its path."""
    path = home / ".metaflowconfig" / "config.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path


# ------------------------------------------------------------ resolve_url


def test_suffix_is_joined_under_root() -> None:
    assert resolve_url("s3://bkt/root", "a/b.txt") == "s3://bkt/root/a/b.txt"


def test_leading_slashes_of_a_suffix_are_dropped() -> None:
    assert resolve_url("s3://bkt/root", "//a") == "s3://bkt/root/a"


@pytest.mark.parametrize("key", [None, ""])
def test_empty_key_is_the_root_itself(key: Any) -> None:
    assert resolve_url("s3://bkt/root", key) == "s3://bkt/root"


def test_absolute_url_with_a_root_is_refused() -> None:
    with pytest.raises(S3URLError) as info:
        resolve_url("s3://bkt/root", "s3://other/k")
    assert info.value.url == "s3://other/k"
    assert "s3://other/k" in str(info.value)


def test_full_url_without_root_is_kept_verbatim() -> None:
    url = "s3://bucket/dir/a b#1?x=%20"
    assert resolve_url(None, url) == url


@pytest.mark.parametrize("key", ["a/b", None, "", "http://b/k"])
def test_suffix_without_root_is_refused(key: Any) -> None:
    with pytest.raises(S3URLError, match="full s3:// URL"):
        resolve_url(None, key)


def test_invalid_bucket_is_refused_before_anything_runs() -> None:
    with pytest.raises(S3URLError, match="invalid bucket"):
        resolve_url(None, "s3://B!/k")


def test_key_over_1024_bytes_is_refused() -> None:
    with pytest.raises(S3URLError, match="1024"):
        resolve_url("s3://bkt/r", "é" * 600)


def test_utf8_bytes_key_is_decoded() -> None:
    assert resolve_url("s3://bkt/r", "é".encode()) == "s3://bkt/r/é"


def test_non_string_key_is_refused() -> None:
    with pytest.raises(S3URLError, match="string"):
        resolve_url("s3://bkt/r", 42)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("s3://bkt", "s3://bkt/"),
        ("s3://bkt/", "s3://bkt/"),
        ("s3://bkt/p", "s3://bkt/p/"),
        ("s3://bkt/p//", "s3://bkt/p/"),
    ],
)
def test_as_prefix_ensures_one_trailing_slash(url: str, expected: str) -> None:
    assert as_prefix(url) == expected


# --------------------------------------------------------------- s3root


def test_s3root_trailing_slash_is_dropped() -> None:
    assert root_from_s3root("s3://bkt/data/") == "s3://bkt/data"


@pytest.mark.parametrize("root", ["b/data", "https://b/data", "", None, "s3://"])
def test_s3root_must_be_an_s3_url(root: Any) -> None:
    with pytest.raises(S3URLError):
        root_from_s3root(root)


# ------------------------------------------------------------------ run


def test_run_string_appends_flow_and_run_id() -> None:
    assert root_from_run("Flow/42", config("s3://bkt/data")) == "s3://bkt/data/Flow/42"


def test_run_object_with_pathspec() -> None:
    assert root_from_run(FakeRun(), config("s3://bkt/data/")) == "s3://bkt/data/TrainFlow/1234"


def test_bucket_and_prefix_override_the_configured_root() -> None:
    cfg = config("s3://bkt/data")
    assert root_from_run("F/1", cfg, bucket="other") == "s3://other/data/F/1"
    assert root_from_run("F/1", cfg, prefix="/p/q/") == "s3://bkt/p/q/F/1"
    assert root_from_run("F/1", cfg, bucket="oth", prefix="p") == "s3://oth/p/F/1"


def test_bucket_root_as_configured_root() -> None:
    assert root_from_run("F/1", config("s3://bkt")) == "s3://bkt/F/1"


def test_bucket_given_needs_no_configured_root() -> None:
    assert root_from_run("F/1", config(None), bucket="bkt") == "s3://bkt/F/1"


def test_no_configured_root_names_the_variables() -> None:
    with pytest.raises(S3URLError, match="S3CLIENT_S3ROOT") as info:
        root_from_run("F/1", config(None))
    assert "METAFLOW_DATATOOLS_S3ROOT" in str(info.value)
    assert "METAFLOW_DATASTORE_SYSROOT_S3" in str(info.value)


def test_configured_root_must_be_s3() -> None:
    with pytest.raises(S3URLError, match="S3CLIENT_S3ROOT must start with s3://"):
        root_from_run("F/1", config("/local/dir"))


@pytest.mark.parametrize("run", ["Flow", "Flow/", "Flow/1/start", "/"])
def test_bad_run_pathspec_is_refused(run: str) -> None:
    with pytest.raises(S3URLError, match="FlowName/RunId"):
        run_ids(run)


def fake_metaflow(monkeypatch: pytest.MonkeyPatch, running: bool) -> type:
    """Install a stand-in ``metaflow`` module; return its FlowSpec class."""
    module = types.ModuleType("metaflow")

    class FlowSpec:
        pass

    module.FlowSpec = FlowSpec  # type: ignore[attr-defined]
    module.current = types.SimpleNamespace(  # type: ignore[attr-defined]
        is_running_flow=running, flow_name="LiveFlow", run_id="77"
    )
    monkeypatch.setitem(sys.modules, "metaflow", module)
    return FlowSpec


def test_flowspec_inside_running_flow_uses_current(monkeypatch: pytest.MonkeyPatch) -> None:
    flowspec = fake_metaflow(monkeypatch, running=True)
    assert run_ids(flowspec()) == ("LiveFlow", "77")


def test_flowspec_outside_running_flow_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    flowspec = fake_metaflow(monkeypatch, running=False)
    with pytest.raises(S3URLError, match="running flow"):
        run_ids(flowspec())


def test_flowspec_is_recognised_before_its_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A flow may have an artifact named "pathspec"; the running flow still wins.
    flowspec = fake_metaflow(monkeypatch, running=True)
    flow = flowspec()
    flow.pathspec = "Other/1"
    assert run_ids(flow) == ("LiveFlow", "77")


# -------------------------------------------------------- the S3 object


def test_s3_with_run_reads_the_root_lazily(env: pytest.MonkeyPatch) -> None:
    env.setenv("S3CLIENT_S3ROOT", "s3://bkt/root")
    with S3(run="F/9") as s3:
        assert s3._url("x") == "s3://bkt/root/F/9/x"


def test_s3_run_falls_back_to_metaflow_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("METAFLOW_DATATOOLS_S3ROOT", "s3://mflow/dt")
    with S3(run=FakeRun()) as s3:
        assert s3._url(None) == "s3://mflow/dt/TrainFlow/1234"


def test_s3_own_variable_wins_over_metaflow_one(env: pytest.MonkeyPatch) -> None:
    env.setenv("METAFLOW_DATATOOLS_S3ROOT", "s3://mflow/dt")
    env.setenv("S3CLIENT_S3ROOT", "s3://mine/r")
    with S3(run="F/1") as s3:
        assert s3._url("k") == "s3://mine/r/F/1/k"


def test_s3_run_root_from_metaflow_config_file(env: pytest.MonkeyPatch, home: Path) -> None:
    write_metaflow_config(home, {"METAFLOW_DATASTORE_SYSROOT_S3": "s3://mfbkt/metaflow"})
    with S3(run="F/2") as s3:
        assert s3._url("k") == "s3://mfbkt/metaflow/data/F/2/k"
    env.setenv("METAFLOW_DATATOOLS_S3ROOT", "s3://envbkt/dt")
    with S3(run="F/2", prefix="p") as s3:
        assert s3._url("k") == "s3://envbkt/p/F/2/k"


def test_s3_run_root_from_metaflow_sysroot_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("METAFLOW_DATASTORE_SYSROOT_S3", "s3://sys/root/")
    with S3(run="F/3", bucket="other") as s3:
        assert s3._url("k") == "s3://other/root/data/F/3/k"


def test_s3_bad_root_in_metaflow_config_names_the_file(env: pytest.MonkeyPatch, home: Path) -> None:
    path = write_metaflow_config(home, {"METAFLOW_DATATOOLS_S3ROOT": "/local/dir"})
    with pytest.raises(
        S3URLError, match=re.escape(f"METAFLOW_DATATOOLS_S3ROOT in {path} must start")
    ):
        S3(run="F/1")


def test_s3_run_wins_over_s3root(env: pytest.MonkeyPatch) -> None:
    env.setenv("S3CLIENT_S3ROOT", "s3://bkt/r")
    with S3(run="F/1", s3root="s3://xxx/y") as s3:
        assert s3._url("k") == "s3://bkt/r/F/1/k"


def test_s3_with_s3root(env: pytest.MonkeyPatch) -> None:
    with S3(s3root="s3://bkt/r/") as s3:
        assert s3._url("/k") == "s3://bkt/r/k"
        with pytest.raises(S3URLError):
            s3._url("s3://bkt/r/k")


def test_s3_without_root_takes_full_urls_only(env: pytest.MonkeyPatch) -> None:
    with S3() as s3:
        assert s3._url("s3://bkt/k") == "s3://bkt/k"
        with pytest.raises(S3URLError):
            s3._url("k")


def test_s3_bad_root_creates_no_temp_dir(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(S3URLError):
        S3(s3root="/not/s3")
    assert list(tmp_path.iterdir()) == []

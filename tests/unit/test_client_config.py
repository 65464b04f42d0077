"""Configuration: our variables, metaflow's settings and files, and ``S3(**kwargs)``.

Each test passes its own environment and a temporary ``HOME``/current
directory, so no real ``~/.metaflowconfig`` or ``.metaflow`` can leak in.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

from s3client.config import Config, EngineOptions
from s3client.mfconfig import MetaflowSettings, local_config_path

Env = Dict[str, str]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home directory (and current directory) for one test."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def write_json(path: Path, settings: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path


def load(home: Path, env: Optional[Env] = None, cwd: Optional[Path] = None) -> Config:
    """``Config.from_env`` with ``HOME=home``, searching ``.metaflow`` from ``cwd``."""
    return Config.from_env({"HOME": str(home), **(env or {})}, cwd=str(cwd or home))


def options(config: Config, **kwargs: Any) -> EngineOptions:
    return EngineOptions.from_kwargs(kwargs, config)


# ----------------------------------------------------------- our variables


def test_defaults_with_empty_environment(home: Path) -> None:
    assert load(home) == Config(
        s3root=None, s3root_var=None, tmproot=tempfile.gettempdir(), num_workers=None, debug=False
    )


def test_all_variables(home: Path) -> None:
    env = {"S3CLIENT_S3ROOT": "s3://bkt/r", "S3CLIENT_TMPROOT": "/scratch"}
    env.update(S3CLIENT_NUM_WORKERS=" 8 ", S3CLIENT_DEBUG="True", S3CLIENT_RETRIES="3")
    env.update(S3CLIENT_ENDPOINT_URL="http://minio:9000")
    cfg = load(home, env)
    assert (cfg.s3root, cfg.s3root_var) == ("s3://bkt/r", "S3CLIENT_S3ROOT")
    assert (cfg.tmproot, cfg.num_workers, cfg.debug, cfg.retries) == ("/scratch", 8, True, 3)
    assert cfg.client_params == {"endpoint_url": "http://minio:9000"}


@pytest.mark.parametrize("value", ["0", "no", "", "off"])
def test_debug_off(home: Path, value: str) -> None:
    assert not load(home, {"S3CLIENT_DEBUG": value}).debug


def test_zero_workers_means_in_process(home: Path) -> None:
    assert load(home, {"S3CLIENT_NUM_WORKERS": "0"}).num_workers == 0


@pytest.mark.parametrize("value", ["-1", "many", "1.5"])
def test_bad_num_workers_names_the_variable(home: Path, value: str) -> None:
    with pytest.raises(ValueError, match="S3CLIENT_NUM_WORKERS"):
        load(home, {"S3CLIENT_NUM_WORKERS": value})


@pytest.mark.parametrize("value", ["0", "101", "x"])
def test_bad_retries_names_the_variable(home: Path, value: str) -> None:
    with pytest.raises(ValueError, match="S3CLIENT_RETRIES"):
        load(home, {"S3CLIENT_RETRIES": value})


def test_read_at_call_time_not_import_time(
    monkeypatch: pytest.MonkeyPatch, home: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    for name in ("METAFLOW_HOME", "METAFLOW_PROFILE", "METAFLOW_TEMPDIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("S3CLIENT_TMPROOT", "/late/value")
    write_json(home / ".metaflowconfig" / "config.json", {"METAFLOW_S3_WORKER_COUNT": 5})
    cfg = Config.from_env()
    assert (cfg.tmproot, cfg.num_workers) == ("/late/value", 5)


# ------------------------------------------- where metaflow's settings live


def test_profile_file_in_default_home(home: Path) -> None:
    path = write_json(
        home / ".metaflowconfig" / "config.json",
        {"METAFLOW_DATATOOLS_S3ROOT": "s3://mf/dt", "METAFLOW_S3_ENDPOINT_URL": "http://e:1"},
    )
    cfg = load(home)
    assert (cfg.s3root, cfg.s3root_var) == ("s3://mf/dt", f"METAFLOW_DATATOOLS_S3ROOT in {path}")
    assert cfg.client_params == {"endpoint_url": "http://e:1"}


def test_metaflow_home_and_profile_choose_the_file(home: Path, tmp_path: Path) -> None:
    write_json(tmp_path / "mf" / "config.json", {"METAFLOW_DATATOOLS_S3ROOT": "s3://plain/x"})
    write_json(tmp_path / "mf" / "config_dev.json", {"METAFLOW_DATATOOLS_S3ROOT": "s3://dev/x"})
    write_json(home / ".metaflowconfig" / "config.json", {"METAFLOW_DATATOOLS_S3ROOT": "s3://h/x"})
    env = {"METAFLOW_HOME": str(tmp_path / "mf")}
    assert load(home, env).s3root == "s3://plain/x"
    assert load(home, {**env, "METAFLOW_PROFILE": "dev"}).s3root == "s3://dev/x"
    assert load(home, {"METAFLOW_HOME": "~/.metaflowconfig"}).s3root == "s3://h/x"


def test_missing_profile_file_is_an_error(home: Path) -> None:
    with pytest.raises(ValueError, match="METAFLOW_PROFILE is 'prod'.*config_prod.json"):
        load(home, {"METAFLOW_PROFILE": "prod"})


def test_missing_default_file_is_no_error(home: Path, tmp_path: Path) -> None:
    assert load(home, {"METAFLOW_HOME": str(tmp_path / "nowhere")}).s3root is None


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_unreadable_file_names_the_file(home: Path, text: str) -> None:
    path = home / ".metaflowconfig" / "config.json"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="config.json"):
        load(home)


def test_environment_wins_over_the_file_even_when_empty(home: Path) -> None:
    write_json(home / ".metaflowconfig" / "config.json", {"METAFLOW_DATATOOLS_S3ROOT": "s3://f/x"})
    cfg = load(home, {"METAFLOW_DATATOOLS_S3ROOT": "s3://env/x"})
    assert (cfg.s3root, cfg.s3root_var) == ("s3://env/x", "METAFLOW_DATATOOLS_S3ROOT")
    assert load(home, {"METAFLOW_DATATOOLS_S3ROOT": ""}).s3root is None


def test_project_file_between_environment_and_profile(home: Path) -> None:
    write_json(home / ".metaflowconfig" / "config.json", {"METAFLOW_S3_WORKER_COUNT": 1})
    write_json(home / "proj" / ".metaflow" / "config.json", {"METAFLOW_S3_WORKER_COUNT": 2})
    deep = home / "proj" / "src" / "pkg"
    deep.mkdir(parents=True)
    assert load(home, cwd=deep).num_workers == 2
    assert load(home, {"METAFLOW_S3_WORKER_COUNT": "3"}, cwd=deep).num_workers == 3
    assert load(home, cwd=home).num_workers == 1


def test_project_search_stops_at_the_first_metaflow_dir(home: Path) -> None:
    write_json(home / "proj" / ".metaflow" / "config.json", {})
    (home / "proj" / "sub" / ".metaflow").mkdir(parents=True)
    assert local_config_path(str(home / "proj" / "sub")) is None
    assert local_config_path(str(home / "proj")) == str(home / "proj" / ".metaflow/config.json")


# ---------------------------------------------------------------- the root


@pytest.mark.parametrize(
    "settings, root",
    [
        ({"METAFLOW_DATASTORE_SYSROOT_S3": "s3://b/mf"}, "s3://b/mf/data"),
        ({"METAFLOW_DATASTORE_SYSROOT_S3": "s3://b/mf/"}, "s3://b/mf/data"),
        (
            {"METAFLOW_DATASTORE_SYSROOT_S3": "s3://b/mf", "METAFLOW_DATATOOLS_SUFFIX": "tools"},
            "s3://b/mf/tools",
        ),
        ({"METAFLOW_DATASTORE_SYSROOT_S3": ""}, None),
    ],
)
def test_root_derived_from_the_datastore_root(
    home: Path, settings: Env, root: Optional[str]
) -> None:
    cfg = load(home, settings)
    assert cfg.s3root == root
    assert cfg.s3root_var == ("METAFLOW_DATASTORE_SYSROOT_S3" if root else None)


def test_datatools_root_in_a_file_beats_sysroot_in_the_environment(home: Path) -> None:
    write_json(home / ".metaflowconfig" / "config.json", {"METAFLOW_DATATOOLS_S3ROOT": "s3://f/dt"})
    assert load(home, {"METAFLOW_DATASTORE_SYSROOT_S3": "s3://env/sys"}).s3root == "s3://f/dt"


def test_our_root_wins_over_metaflow_root(home: Path) -> None:
    env = {"METAFLOW_DATATOOLS_S3ROOT": "s3://mflow/x", "S3CLIENT_S3ROOT": ""}
    cfg = load(home, env)
    assert (cfg.s3root, cfg.s3root_var) == ("s3://mflow/x", "METAFLOW_DATATOOLS_S3ROOT")
    assert load(home, {**env, "S3CLIENT_S3ROOT": "s3://ours/y"}).s3root == "s3://ours/y"


def test_root_that_is_not_a_string_is_refused(home: Path) -> None:
    write_json(home / ".metaflowconfig" / "config.json", {"METAFLOW_DATATOOLS_S3ROOT": 5})
    with pytest.raises(ValueError, match="METAFLOW_DATATOOLS_S3ROOT in .*config.json"):
        load(home)


# -------------------------------------------- client params, session vars


def test_client_params_json_endpoint_and_verify(home: Path) -> None:
    params = {"region_name": "eu-west-1", "verify": True}
    env = {"METAFLOW_DATATOOLS_CLIENT_PARAMS": json.dumps(params)}
    env.update(METAFLOW_S3_ENDPOINT_URL="http://e:1", METAFLOW_S3_VERIFY_CERTIFICATE="/ca.pem")
    cfg = load(home, env)
    assert cfg.client_params == {
        "region_name": "eu-west-1",
        "verify": "/ca.pem",
        "endpoint_url": "http://e:1",
    }


def test_endpoint_precedence(home: Path) -> None:
    env = {"METAFLOW_S3_ENDPOINT_URL": "http://mf-endpoint:1"}
    assert load(home, env).client_params["endpoint_url"] == "http://mf-endpoint:1"
    env["METAFLOW_DATATOOLS_CLIENT_PARAMS"] = '{"endpoint_url": "http://mf-params:2"}'
    assert load(home, env).client_params["endpoint_url"] == "http://mf-params:2"
    env["S3CLIENT_ENDPOINT_URL"] = "http://ours:3"
    cfg = load(home, env)
    assert cfg.client_params["endpoint_url"] == "http://ours:3"
    explicit = options(cfg, client_params={"endpoint_url": "http://kwarg:4"})
    assert explicit.client_params == {"endpoint_url": "http://kwarg:4"}


def test_json_objects_from_a_file_and_from_the_environment(home: Path) -> None:
    write_json(
        home / ".metaflowconfig" / "config.json",
        {"METAFLOW_DATATOOLS_CLIENT_PARAMS": {"region_name": "r1"}},
    )
    env = {"METAFLOW_DATATOOLS_SESSION_VARS": '{"profile_name": "p"}'}
    cfg = load(home, env)
    assert (cfg.client_params, cfg.session_vars) == ({"region_name": "r1"}, {"profile_name": "p"})


@pytest.mark.parametrize("value", ["{bad", "[1]", ""])
@pytest.mark.parametrize(
    "name", ["METAFLOW_DATATOOLS_CLIENT_PARAMS", "METAFLOW_DATATOOLS_SESSION_VARS"]
)
def test_bad_json_object_names_the_variable(home: Path, name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        load(home, {name: value})


def test_kwargs_merge_over_configured_params_and_stay_off_argv(home: Path) -> None:
    env = {"METAFLOW_S3_ENDPOINT_URL": "http://e:1", "METAFLOW_DATATOOLS_SESSION_VARS": '{"a": 1}'}
    opts = options(load(home, env), client_params={"region_name": "r"}, session_vars={"b": 2})
    assert opts.client_params == {"endpoint_url": "http://e:1", "region_name": "r"}
    assert opts.session_vars == {"a": 1, "b": 2}
    assert json.loads(opts.env()["S3OP_CLIENT_PARAMS"])["endpoint_url"] == "http://e:1"
    assert json.loads(opts.env()["S3OP_SESSION_VARS"]) == {"a": 1, "b": 2}
    assert not any("http://e:1" in flag for flag in opts.flags())


def test_nothing_configured_sends_no_boto3_settings(home: Path) -> None:
    assert options(load(home)).env() == {}
    assert options(load(home), client_params={}).env() == {"S3OP_CLIENT_PARAMS": "{}"}


# --------------------------------------- encryption, retries, workers, tmp


def test_encryption_from_metaflow(home: Path) -> None:
    write_json(
        home / ".metaflowconfig" / "config.json", {"METAFLOW_S3_SERVER_SIDE_ENCRYPTION": "aws:kms"}
    )
    assert load(home).encryption == "aws:kms"
    assert load(home, {"METAFLOW_S3_SERVER_SIDE_ENCRYPTION": "AES256"}).encryption == "AES256"
    assert load(home, {"METAFLOW_S3_SERVER_SIDE_ENCRYPTION": ""}).encryption is None


@pytest.mark.parametrize("count, attempts", [("0", 1), ("3", 4), ("500", 100)])
def test_metaflow_retry_count_counts_retries_not_attempts(
    home: Path, count: str, attempts: int
) -> None:
    assert load(home, {"METAFLOW_S3_RETRY_COUNT": count}).retries == attempts


def test_retries_precedence(home: Path) -> None:
    env = {"METAFLOW_S3_RETRY_COUNT": "4"}
    assert options(load(home, env)).flags() == ["--retries", "5"]
    env["S3CLIENT_RETRIES"] = "2"
    assert options(load(home, env)).flags() == ["--retries", "2"]
    assert options(load(home, env), retries=9).flags() == ["--retries", "9"]
    with pytest.raises(ValueError, match="retries"):
        options(load(home, env), retries=101)


def test_workers_precedence(home: Path) -> None:
    env = {"METAFLOW_S3_WORKER_COUNT": "16"}
    assert options(load(home, env)).flags() == ["--num-workers", "16"]
    env["S3CLIENT_NUM_WORKERS"] = "4"
    assert options(load(home, env)).flags() == ["--num-workers", "4"]
    assert options(load(home, env), num_workers=0).flags() == ["--num-workers", "0"]


@pytest.mark.parametrize("name", ["METAFLOW_S3_RETRY_COUNT", "METAFLOW_S3_WORKER_COUNT"])
@pytest.mark.parametrize("value", ["-1", "many", ""])
def test_bad_metaflow_count_names_the_setting(home: Path, name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        load(home, {name: value})


def test_tempdir_precedence(home: Path) -> None:
    assert load(home, {"METAFLOW_TEMPDIR": "/mf/tmp"}).tmproot == "/mf/tmp"
    env = {"METAFLOW_TEMPDIR": "/mf/tmp", "S3CLIENT_TMPROOT": "/ours"}
    assert load(home, env).tmproot == "/ours"


# -------------------------------------------------------- failure injection


def test_inject_failure_rate_becomes_an_engine_flag(home: Path) -> None:
    flags = options(load(home), inject_failure_rate=25).flags()
    assert flags == ["--inject-failure-rate", "25"]
    assert options(load(home), inject_failure_rate=0).flags() == []
    assert options(load(home), inject_failure_rate=None).flags() == []


def test_inject_failure_rate_from_metaflow_environment_only(home: Path) -> None:
    env = {"METAFLOW_S3_TEST_RETRYABLE_FAILURES": "30"}
    assert options(load(home, env)).flags() == ["--inject-failure-rate", "30"]
    assert options(load(home, env), inject_failure_rate=0).flags() == []
    write_json(home / ".metaflowconfig" / "config.json", {"METAFLOW_S3_TEST_RETRYABLE_FAILURES": 9})
    assert load(home).inject_failure_rate == 0


@pytest.mark.parametrize(
    "value, error", [("5", TypeError), (True, TypeError), (-1, ValueError), (101, ValueError)]
)
def test_bad_inject_failure_rate_is_refused(home: Path, value: Any, error: type) -> None:
    with pytest.raises(error, match="inject_failure_rate"):
        options(load(home), inject_failure_rate=value)


@pytest.mark.parametrize("value", ["101", "-5", "often"])
def test_bad_inject_failure_variable_names_it(home: Path, value: str) -> None:
    with pytest.raises(ValueError, match="METAFLOW_S3_TEST_RETRYABLE_FAILURES"):
        load(home, {"METAFLOW_S3_TEST_RETRYABLE_FAILURES": value})


# ------------------------------------------------------------- other options


def test_retries_and_deadline_become_engine_flags(home: Path) -> None:
    flags = options(load(home), retries=2, deadline=7.5).flags()
    assert flags[flags.index("--retries") + 1] == "2"
    assert float(flags[flags.index("--deadline") + 1]) == 7.5


def test_bad_deadline_is_refused(home: Path) -> None:
    with pytest.raises(TypeError, match="deadline"):
        options(load(home), deadline="soon")


def test_metaflow_settings_default_to_unset(home: Path) -> None:
    assert MetaflowSettings.load({"HOME": str(home)}, cwd=str(home)) == MetaflowSettings()

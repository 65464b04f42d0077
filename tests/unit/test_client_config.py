"""Configuration from environment variables."""

from __future__ import annotations

import tempfile

import pytest

from s3client.config import Config


def test_defaults_with_empty_environment() -> None:
    cfg = Config.from_env({})
    assert cfg == Config(
        s3root=None, s3root_var=None, tmproot=tempfile.gettempdir(), num_workers=None, debug=False
    )


def test_all_variables() -> None:
    cfg = Config.from_env(
        {
            "S3CLIENT_S3ROOT": "s3://bkt/r",
            "S3CLIENT_TMPROOT": "/scratch",
            "S3CLIENT_NUM_WORKERS": " 8 ",
            "S3CLIENT_DEBUG": "True",
        }
    )
    assert (cfg.s3root, cfg.s3root_var) == ("s3://bkt/r", "S3CLIENT_S3ROOT")
    assert (cfg.tmproot, cfg.num_workers, cfg.debug) == ("/scratch", 8, True)


def test_metaflow_root_is_the_fallback() -> None:
    cfg = Config.from_env({"METAFLOW_DATATOOLS_S3ROOT": "s3://mflow/x", "S3CLIENT_S3ROOT": ""})
    assert (cfg.s3root, cfg.s3root_var) == ("s3://mflow/x", "METAFLOW_DATATOOLS_S3ROOT")


@pytest.mark.parametrize("value", ["0", "no", "", "off"])
def test_debug_off(value: str) -> None:
    assert not Config.from_env({"S3CLIENT_DEBUG": value}).debug


def test_zero_workers_means_in_process() -> None:
    assert Config.from_env({"S3CLIENT_NUM_WORKERS": "0"}).num_workers == 0


@pytest.mark.parametrize("value", ["-1", "many", "1.5"])
def test_bad_num_workers_names_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="S3CLIENT_NUM_WORKERS"):
        Config.from_env({"S3CLIENT_NUM_WORKERS": value})


def test_read_at_call_time_not_import_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3CLIENT_TMPROOT", "/late/value")
    assert Config.from_env().tmproot == "/late/value"


def test_retries_and_deadline_become_engine_flags() -> None:
    from s3client.config import Config, EngineOptions

    options = EngineOptions.from_kwargs({"retries": 2, "deadline": 7.5}, Config.from_env({}))
    flags = options.flags()
    assert flags[flags.index("--retries") + 1] == "2"
    assert float(flags[flags.index("--deadline") + 1]) == 7.5


def test_bad_deadline_is_refused() -> None:
    import pytest

    from s3client.config import Config, EngineOptions

    with pytest.raises(TypeError, match="deadline"):
        EngineOptions.from_kwargs({"deadline": "soon"}, Config.from_env({}))

"""The runner's pure parts: argv, environment, manifest, and reading results."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, List

import pytest

from s3client import S3, S3EngineError
from s3client.config import (
    CLIENT_PARAMS_ENV,
    SESSION_VARS_ENV,
    Config,
    EngineOptions,
    engine_env,
)
from s3client.engine_process import Answer, child_env
from s3client.outcome import check_outcome, parse_early
from s3client.runner import (
    POLICIES,
    OneShot,
    ProcessEngine,
    build_argv,
    engine_for,
    write_manifest,
)
from s3op import protocol
from s3op.manifest import read_manifest
from s3op.protocol import ErrorKind, GetRequest, ListRequest, PutRequest, Result
from tests.unit.client_fakes import clear_env

SECRET = "wJalrXUtnFEMI-very-secret"
ENDPOINT_SECRET = "https://user:pa55@s3.internal"

CONFIG = Config(s3root=None, s3root_var=None, tmproot="/tmp", num_workers=None, debug=False)


def options(**kwargs: Any) -> EngineOptions:
    return EngineOptions.from_kwargs(kwargs, CONFIG)


# ------------------------------------------------------------ manifest


def test_manifest_is_private_jsonl_of_requests(tmp_path: Path) -> None:
    requests = [
        GetRequest(0, "s3://bkt/a", "bytes=0-9", str(tmp_path / "get-0-0")),
        GetRequest(1, "s3://bkt/b c#d", None, str(tmp_path / "get-0-1")),
    ]
    path = write_manifest(requests, str(tmp_path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert Path(path).parent == tmp_path
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines == [protocol.request_to_json(r) for r in requests]
    assert read_manifest("get", lines) == requests


def test_argv_layout() -> None:
    argv = build_argv(["py", "-m", "s3op"], "get", "/t/m.jsonl", ["--info", "--threads", "4"])
    assert argv == ["py", "-m", "s3op", "get", "--inputs", "/t/m.jsonl", "--info", "--threads", "4"]


# --------------------------------------------------------------- secrets


def test_options_flags_and_env() -> None:
    opts = options(
        role="arn:aws:iam::1:role/r",
        session_vars={"aws_secret_access_key": SECRET},
        client_params={"endpoint_url": ENDPOINT_SECRET, "config": {"retries": {"max_attempts": 2}}},
        num_workers=3,
        threads=5,
    )
    assert opts.flags() == [
        "--num-workers",
        "3",
        "--threads",
        "5",
        "--role",
        "arn:aws:iam::1:role/r",
    ]
    env = opts.env()
    assert json.loads(env[SESSION_VARS_ENV]) == {"aws_secret_access_key": SECRET}
    assert json.loads(env[CLIENT_PARAMS_ENV])["config"] == {"retries": {"max_attempts": 2}}


def test_secrets_never_on_argv_or_in_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_env(monkeypatch)
    monkeypatch.setenv("S3CLIENT_ENGINE", "subprocess")  # this test watches execute
    s3 = S3(
        tmproot=str(tmp_path),
        s3root="s3://bkt/r",
        session_vars={"aws_secret_access_key": SECRET},
        client_params={"endpoint_url": ENDPOINT_SECRET},
    )
    seen: List[Any] = []

    def fake_execute(argv: List[str], env: dict, workdir: str) -> Answer:
        with open(argv[argv.index("--inputs") + 1]) as f:
            seen.append((argv, env, f.read()))
        result = Result(0, "s3://bkt/r/k", local=str(tmp_path / "x"), size=1)
        return Answer(0, [result.to_json()], "")

    monkeypatch.setattr("s3client.runner.execute", fake_execute)
    (tmp_path / "x").write_bytes(b"1")
    with s3:
        s3.get("k")
    ((argv, env, manifest),) = seen
    assert SECRET not in " ".join(argv) and ENDPOINT_SECRET not in " ".join(argv)
    assert SECRET not in manifest and ENDPOINT_SECRET not in manifest
    assert json.loads(env[SESSION_VARS_ENV]) == {"aws_secret_access_key": SECRET}
    assert json.loads(env[CLIENT_PARAMS_ENV]) == {"endpoint_url": ENDPOINT_SECRET}


def test_manifest_is_deleted_after_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths: List[str] = []

    def fake_execute(argv: List[str], env: dict, workdir: str) -> Answer:
        paths.append(argv[argv.index("--inputs") + 1])
        return Answer(0, [], "")

    monkeypatch.setattr("s3client.runner.execute", fake_execute)
    engine = ProcessEngine(str(tmp_path), OneShot(str(tmp_path), {}, command=["fake"]))
    assert engine.run("list", [ListRequest(0, "s3://bkt/p/")], []) == []
    assert paths and not os.path.exists(paths[0])


def test_policies_keep_their_old_names(tmp_path: Path) -> None:
    assert POLICIES["persistent"] == POLICIES["private"] == "private"
    assert POLICIES["subprocess"] == POLICIES["one-shot"] == "one-shot"
    assert POLICIES["shared"] == "shared"
    for kind in ("subprocess", "one-shot"):
        assert isinstance(engine_for(kind, str(tmp_path), {}).policy, OneShot)
    with pytest.raises(ValueError, match="unknown engine policy 'threads'"):
        engine_for("threads", str(tmp_path), {})


def test_engine_env_is_empty_without_boto_settings() -> None:
    assert engine_env(None, None) == {}


def test_child_env_puts_our_s3op_first_on_pythonpath(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = child_env({SESSION_VARS_ENV: "{}"})
    first, rest = env["PYTHONPATH"].split(os.pathsep, 1)
    assert os.path.isfile(os.path.join(first, "s3op", "protocol.py"))
    assert rest == "/elsewhere"
    assert env[SESSION_VARS_ENV] == "{}"


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"bogus": 1}, TypeError),
        ({"external_client": object()}, TypeError),
        ({"session_vars": "not a dict"}, TypeError),
        ({"client_params": {"config": object()}}, TypeError),
        ({"num_workers": -1}, ValueError),
        ({"threads": "4"}, TypeError),
        ({"role": 5}, TypeError),
    ],
)
def test_bad_options_are_refused(kwargs: Any, error: type) -> None:
    with pytest.raises(error):
        options(**kwargs)


def test_num_workers_defaults_from_config() -> None:
    cfg = Config(s3root=None, s3root_var=None, tmproot="/tmp", num_workers=7, debug=False)
    assert EngineOptions.from_kwargs({}, cfg).flags() == ["--num-workers", "7"]
    assert EngineOptions.from_kwargs({"num_workers": 2}, cfg).flags() == ["--num-workers", "2"]


# ------------------------------------------------------- reading results

GETS = [GetRequest(0, "s3://bkt/a", local="/t/0"), GetRequest(1, "s3://bkt/b", local="/t/1")]


def lines(*results: Result) -> List[str]:
    return [r.to_json() + "\n" for r in results]


@pytest.mark.parametrize("code", [0, 1, 3, 4])
def test_result_exit_codes_return_the_results(code: int) -> None:
    out = lines(
        Result(1, "s3://bkt/b", local="/t/1", size=2),
        Result.failure(0, "s3://bkt/a", ErrorKind.NOT_FOUND, "no such key"),
    )
    results = check_outcome("get", [], GETS, code, out, "")
    assert {r.idx for r in results} == {0, 1}
    assert results[1].error is not None and results[1].error.kind is ErrorKind.NOT_FOUND


def test_usage_error_raises_with_stderr() -> None:
    with pytest.raises(S3EngineError, match="(?s)usage error.*no such option: --frob") as info:
        check_outcome("get", [], GETS, 2, [], "Error: no such option: --frob")
    assert info.value.url == "s3://bkt/a"


def test_missing_results_raise() -> None:
    out = lines(Result(0, "s3://bkt/a", local="/t/0", size=1))
    with pytest.raises(S3EngineError, match="no result for 1 request"):
        check_outcome("get", [], GETS, 0, out, "")


def test_crash_with_missing_results_raises_with_stderr_tail() -> None:
    with pytest.raises(S3EngineError, match="(?s)exit 1.*Traceback"):
        check_outcome("get", [], GETS, 1, [], "Traceback (most recent call last): ...")


def test_killed_engine_with_complete_results_returns_them() -> None:
    out = lines(
        Result.failure(0, "s3://bkt/a", ErrorKind.INTERRUPTED, "stopped"),
        Result.failure(1, "s3://bkt/b", ErrorKind.INTERRUPTED, "stopped"),
    )
    assert len(check_outcome("get", [], GETS, 130, out, "")) == 2


def test_killed_listing_is_an_error_even_with_lines() -> None:
    req = [ListRequest(0, "s3://bkt/p/")]
    out = lines(Result(0, "s3://bkt/p/x", size=1))
    with pytest.raises(S3EngineError, match="killed by signal 9"):
        check_outcome("list", [], req, -9, out, "")


def test_listing_may_find_nothing() -> None:
    req = [ListRequest(0, "s3://bkt/p/"), ListRequest(1, "s3://bkt/q/")]
    assert check_outcome("list", [], req, 0, [], "") == []


def test_recursive_get_may_find_nothing() -> None:
    req = [GetRequest(0, "s3://bkt/p/")]
    assert check_outcome("get", ["--recursive"], req, 0, [], "") == []


def test_unparseable_output_raises() -> None:
    puts = [PutRequest(0, "s3://bkt/a", local="/x")]
    with pytest.raises(S3EngineError, match="unreadable result line 'hello world'"):
        check_outcome("put", [], puts, 0, ["hello world\n"], "")


def test_blank_lines_are_ignored() -> None:
    out = ["\n"] + lines(Result(0, "s3://bkt/a", size=1)) + ["  \n"]
    puts = [PutRequest(0, "s3://bkt/a", local="/x")]
    assert len(check_outcome("put", [], puts, 0, out, "")) == 1


def test_lines_parsed_as_they_arrive_give_the_same_results() -> None:
    """The persistent engine parses lines early (parse_early); a bad line stays text
    and is reported exactly as when parsing at the end."""
    results = [Result(0, "s3://bkt/a", size=1), Result(1, "s3://bkt/b", size=2)]
    raw = lines(*results)
    early = [parse_early(line) for line in raw]
    assert all(isinstance(r, Result) for r in early)
    reqs = [GetRequest(0, "s3://bkt/a"), GetRequest(1, "s3://bkt/b")]
    assert check_outcome("get", [], reqs, 0, early, "") == check_outcome(
        "get", [], reqs, 0, raw, ""
    )
    bad = parse_early("hello world\n")
    assert bad == "hello world\n"
    with pytest.raises(S3EngineError, match="unreadable result line 'hello world'"):
        check_outcome("get", [], reqs, 0, [early[0], bad], "")

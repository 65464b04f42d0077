"""``parse_batch_argv``: argv -> (op, requests, BatchOptions) without click, as
``s3op serve`` parses its commands, and the same answer as the click command line."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any, Dict, List

import click
import pytest

from s3op import __version__
from s3op.cli import main
from s3op.cli_batch import BatchCommand, ShowHelp, build_batch, parse_batch_argv
from s3op.cli_help import ARGUMENTS
from s3op.cli_options import OPTIONS_OF
from s3op.options import (
    BatchOptions,
    BatchUsageError,
    DownloadOptions,
    PoolOptions,
    RetryOptions,
    TransferOptions,
)
from s3op.protocol import GetRequest, InfoRequest, ListRequest, PutRequest

NO_ENV: Dict[str, str] = {}


def via_click(argv: List[str]) -> BatchCommand:
    """What the click command builds from ``argv`` (parsed by click, not run)."""
    op, args = argv[0], argv[1:]
    with main.commands[op].make_context(op, args) as ctx:
        values: Dict[str, Any] = dict(ctx.params)
        positional = values.pop(ARGUMENTS[op])
        return listed(build_batch(op, positional, values, values.pop("inputs")))


def listed(command: BatchCommand) -> BatchCommand:
    """``command`` with its requests read into a list (a manifest's are streamed
    from the file, which click closes with its context)."""
    return dataclasses.replace(command, requests=list(command.requests))


def test_defaults_are_the_options_defaults() -> None:
    command = parse_batch_argv(["info", "s3://b/k"], environ=NO_ENV)
    assert command == BatchCommand("info", [InfoRequest(0, "s3://b/k")], BatchOptions())


def test_every_option_reaches_its_place_in_batch_options(tmp_path: Path) -> None:
    argv = ["get", "s3://b/a", "s3://b/c", "--num-workers", "2", "--threads=9"]
    argv += ["--retries", "3", "--deadline", "1.5", "--role", "arn:r", "--inject-failure-rate=7"]
    argv += ["--part-size", str(6 << 20), "--multipart-threshold", "10", "--allow-missing"]
    argv += ["--destination", str(tmp_path), "--layout", "hashed", "--recursive"]
    argv += ["--no-info", "--no-verify"]

    command = parse_batch_argv(argv, environ=NO_ENV)

    assert command.requests == [GetRequest(0, "s3://b/a"), GetRequest(1, "s3://b/c")]
    assert command.options == BatchOptions(
        pool=PoolOptions(num_workers=2, threads=9),
        retry=RetryOptions(retries=3, deadline=1.5, inject_failure_rate=7),
        transfer=TransferOptions(part_size=6 << 20, multipart_threshold=10),
        download=DownloadOptions(str(tmp_path), layout="hashed", info=False, verify=False),
        role="arn:r",
        recursive=True,
        allow_missing=True,
    )


def test_put_pairs_and_no_overwrite() -> None:
    command = parse_batch_argv(
        ["put", "a.csv", "s3://b/dir/", "/x/y", "s3://b/k", "--no-overwrite"], environ=NO_ENV
    )
    assert command.requests == [
        PutRequest(0, "s3://b/dir/a.csv", "a.csv"),
        PutRequest(1, "s3://b/k", "/x/y"),
    ]
    assert command.options.overwrite is False


def test_a_manifest_is_read_from_its_path_or_stdin(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"url": "s3://b/p/", "idx": 4}\n')
    from_file = parse_batch_argv(["list", "--inputs", str(path), "--recursive"], environ=NO_ENV)
    from_stdin = parse_batch_argv(
        ["list", "--recursive", "--inputs", "-"],
        stdin=io.StringIO(path.read_text()),
        environ=NO_ENV,
    )
    assert list(from_file.requests) == list(from_stdin.requests) == [ListRequest(4, "s3://b/p/")]
    assert from_file.options == from_stdin.options and from_file.options.recursive


def test_the_failure_rate_default_comes_from_the_environment() -> None:
    env = {"S3OP_INJECT_FAILURE_RATE": "30"}
    assert (
        parse_batch_argv(["info", "s3://b/k"], environ=env).options.retry.inject_failure_rate == 30
    )
    given = parse_batch_argv(["info", "s3://b/k", "--inject-failure-rate", "0"], environ=env)
    assert given.options.retry.inject_failure_rate == 0
    with pytest.raises(BatchUsageError) as caught:
        parse_batch_argv(["info", "s3://b/k"], environ={"S3OP_INJECT_FAILURE_RATE": "half"})
    assert "'--inject-failure-rate': 'half' is not a valid integer" in caught.value.format()


def test_a_double_dash_ends_the_options() -> None:
    command = parse_batch_argv(["info", "--", "s3://b/--threads"], environ=NO_ENV)
    assert command.requests == [InfoRequest(0, "s3://b/--threads")]


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["info", "s3://b/k", "--threads", "0"], "'--threads': 0 is not in the range 1<=x<=256"),
        (["info", "s3://b/k", "--num-workers", "-1"], "--num-workers"),
        (["info", "s3://b/k", "--retries", "many"], "'many' is not a valid integer"),
        (["info", "s3://b/k", "--deadline", "0"], "--deadline"),
        (["get", "s3://b/k", "--layout", "flat"], "flat"),
        (["get", "s3://b/k", "--part-size", "1024"], "--part-size"),
        (["info", "s3://b/k", "--part-size", "6000000"], "No such option: --part-size"),
        (["put", "s3://b/k", "--allow-missing"], "No such option: --allow-missing"),
        (["info", "s3://b/k", "--threads"], "requires an argument"),
        (["info", "s3://b/k", "--allow-missing=yes"], "does not take a value"),
        (["put", "only-one"], "LOCAL URL"),
        (["get", "s3://b/k", "--inputs", "-"], "not both"),
        (["info", "--inputs", "/no/such/manifest"], "--inputs"),
        (["info", "--inputs", "-"], "no stdin"),
        (["info", "http://example.com/k"], "is not an s3:// URL"),
        (["list"], "empty batch"),
        (["frobnicate"], "frobnicate"),
        (["serve"], "serve"),
        ([], "Missing command"),
    ],
)
def test_bad_argv_is_a_usage_error_naming_the_problem(argv: List[str], needle: str) -> None:
    with pytest.raises(BatchUsageError) as caught:
        parse_batch_argv(argv, environ=NO_ENV)
    assert needle in caught.value.format()


def test_a_bad_manifest_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"url": "s3://b/a"}\n{"url": "s3://b/b", "colour": "red"}\n')
    with pytest.raises(BatchUsageError, match="line 2: unknown field 'colour'"):
        parse_batch_argv(["info", "--inputs", str(path)], environ=NO_ENV)


def test_help_and_version_are_shown_not_run() -> None:
    with pytest.raises(ShowHelp) as shown:
        parse_batch_argv(["get", "--threads", "0", "--help"], environ=NO_ENV)
    text = shown.value.text
    assert text.startswith("Usage: s3op get") and "Manifest fields" in text
    for spec in OPTIONS_OF["get"]:
        assert spec.flag in text
    with pytest.raises(ShowHelp) as version:
        parse_batch_argv(["--version"])
    assert version.value.text == f"s3op {__version__}"


# ------------------------------------------------ the same answer as click

SAME = [
    ["info", "s3://b/k"],
    ["info", "s3://b/k", "s3://b/j", "--allow-missing", "--threads", "3", "--deadline", "2"],
    ["get", "s3://b/k", "--destination", "/tmp/d", "--layout", "hashed", "--no-info"],
    ["get", "s3://b/p/", "--recursive", "--no-verify", "--part-size", str(5 << 20)],
    ["put", "a", "s3://b/k", "b", "s3://b/dir/", "--no-overwrite", "--num-workers", "0"],
    ["put", "a", "s3://b/k", "--overwrite", "--multipart-threshold", "99", "--retries", "4"],
    ["list", "s3://b/p/", "--recursive", "--role", "arn:aws:iam::1:role/r"],
    ["list", "s3://b/", "--inject-failure-rate", "5"],
]


@pytest.mark.parametrize("argv", SAME, ids=lambda a: " ".join(a[:2]))
def test_click_and_the_pure_parser_build_the_same_batch(
    argv: List[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("S3OP_INJECT_FAILURE_RATE", raising=False)
    assert parse_batch_argv(argv) == via_click(argv)


def test_click_and_the_pure_parser_read_the_same_manifest(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"url": "s3://b/a", "range": "bytes=0-9"}\n\n{"url": "s3://b/c"}\n')
    argv = ["get", "--inputs", str(path), "--no-info"]
    assert listed(parse_batch_argv(argv, environ=NO_ENV)) == via_click(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["info", "s3://b/k", "--threads", "0"],
        ["info", "s3://b/k", "--retries", "101"],
        ["info", "s3://b/k", "--deadline", "0.01"],
        ["get", "s3://b/k", "--layout", "flat"],
        ["get", "s3://b/k", "--part-size", "100"],
        ["put", "a", "s3://b/k", "--multipart-threshold", "0"],
        ["info", "s3://b/k", "--inject-failure-rate", "101"],
        ["info", "s3://b/k", "--num-workers", "-2"],
    ],
)
def test_click_and_the_pure_parser_refuse_the_same_values(argv: List[str]) -> None:
    """The bounds are written once (the option table): both parsers enforce them."""
    with pytest.raises(BatchUsageError):
        parse_batch_argv(argv, environ=NO_ENV)
    with pytest.raises(click.BadParameter):
        via_click(argv)

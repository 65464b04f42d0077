"""``python -m s3op serve``'s own option parser (``s3op.serve.serve_args``): the
options s3client passes, the click command's defaults, and the fall back to click."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import click
import pytest

from s3op.cli import main
from s3op.serve import SERVE_OPTIONS, ServeArgs, run_fast, serve_args

REPO = Path(__file__).resolve().parents[2]

#: Credentials in the environment: the engine's warm-up resolves them without a network.
ENGINE_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}

PARSED = [
    ([], ServeArgs(300.0, None)),
    (["--idle-timeout", "300.0"], ServeArgs(300.0, None)),  # s3client's private server
    (["--listen", "/r/x.sock", "--idle-timeout", "60.0"], ServeArgs(60.0, "/r/x.sock")),  # shared
    (["--idle-timeout", "60", "--listen", "/r/x.sock"], ServeArgs(60.0, "/r/x.sock")),
    (["--idle-timeout=2.5"], ServeArgs(2.5, None)),
    (["--listen=/r/y.sock"], ServeArgs(300.0, "/r/y.sock")),
    (["--idle-timeout", "1"], ServeArgs(1.0, None)),  # the lowest click takes
    (["--idle-timeout", "1e3"], ServeArgs(1000.0, None)),
    (["--idle-timeout", "5", "--idle-timeout", "7"], ServeArgs(7.0, None)),  # the last wins
    (["--listen", "/a", "--listen", "/b"], ServeArgs(300.0, "/b")),
    (["--listen", "/r/with=sign.sock"], ServeArgs(300.0, "/r/with=sign.sock")),
]

LEFT_TO_CLICK = [
    ["--help"],
    ["-h"],
    ["--version"],
    ["--idle-timeout"],  # no value
    ["--idle-timeout", "0.5"],  # below click's FloatRange(1)
    ["--idle-timeout", "soon"],
    ["--idle-timeout", "nan"],
    ["--idle-timeout", "inf"],
    ["--idle-timeout="],
    ["--idle", "60"],  # click takes no abbreviations
    ["--listen", "--idle-timeout", "60"],  # a value that looks like an option
    ["--listen="],
    ["--threads", "4"],
    ["extra"],
    ["--"],
]


@pytest.mark.parametrize("argv, expected", PARSED)
def test_serve_args_reads_the_options_s3client_passes(argv: List[str], expected: ServeArgs) -> None:
    assert serve_args(argv) == expected


@pytest.mark.parametrize("argv", LEFT_TO_CLICK)
def test_anything_else_is_left_to_click(argv: List[str]) -> None:
    assert serve_args(argv) is None
    assert run_fast(argv) is None  # returns before serving anything


def _click_serve() -> click.Command:
    command = main.commands["serve"]  # type: ignore[attr-defined]
    assert isinstance(command, click.Command)
    return command


def test_defaults_and_options_are_the_click_commands() -> None:
    params = {p.name: p for p in _click_serve().params if isinstance(p, click.Option)}
    assert set(params) == set(SERVE_OPTIONS.values()) == set(ServeArgs._fields)
    for flag, name in SERVE_OPTIONS.items():
        assert params[name].opts == [flag]
        assert params[name].default == ServeArgs._field_defaults[name]


def _click_parse(argv: List[str]) -> Optional[Dict[str, Any]]:
    """What the click command parses ``argv`` into (None: it refuses it)."""
    try:
        ctx = _click_serve().make_context("serve", list(argv))
    except click.exceptions.ClickException:
        return None
    return ctx.params


@pytest.mark.parametrize("argv, expected", PARSED)
def test_serve_args_agrees_with_click(argv: List[str], expected: ServeArgs) -> None:
    assert _click_parse(argv) == expected._asdict()


def _engine(argv: List[str], code: str = "") -> subprocess.CompletedProcess:
    """``python -m s3op ARGV`` (stdin at EOF: a stdin server exits once warm), after
    ``code``, which may register an atexit hook to look at the engine's modules."""
    script = f"import runpy, sys\n{code}\nsys.argv = ['s3op', *sys.argv[1:]]\n"
    script += "runpy.run_module('s3op', run_name='__main__', alter_sys=True)\n"
    env = dict(os.environ, PYTHONPATH=str(REPO), **ENGINE_ENV)
    return subprocess.run(
        [sys.executable, "-c", script, *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=str(REPO),
    )


LOADED_AT_EXIT = (
    "import atexit\n"
    "atexit.register(lambda: print([m for m in ('click', 's3op.cli') if m in sys.modules]))"
)


def test_the_engine_s3client_starts_imports_no_click() -> None:
    done = _engine(["serve", "--idle-timeout", "300.0"], LOADED_AT_EXIT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_help_and_errors_are_clicks() -> None:
    shown = _engine(["serve", "--help"], LOADED_AT_EXIT)
    assert shown.returncode == 0 and "--idle-timeout" in shown.stdout
    assert shown.stdout.strip().endswith("['click', 's3op.cli']")
    refused = _engine(["serve", "--idle-timeout", "0.5"])
    assert refused.returncode == 2
    assert "0.5 is not in the range x>=1" in refused.stderr
    unknown = _engine(["serve", "--threads", "4"])
    assert unknown.returncode == 2 and "No such option '--threads'" in unknown.stderr


def test_an_unsafe_socket_directory_is_reported_as_click_did(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    done = _engine(["serve", "--listen", str(tmp_path / "s.sock"), "--idle-timeout", "60"])
    assert done.returncode == 1
    assert done.stderr.startswith(f"Error: {tmp_path} must be a directory of ours")

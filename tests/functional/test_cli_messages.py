"""What s3op says and how it ends (issue #14), against moto with the real binary.

Manifest errors naming line and field (exit 2, nothing sent), Ctrl-C during
start-up (exit 130, no "Aborted!"), per-command --help and --version, put
destinations ending in '/', failure injection on every path, and the
library's S3CLIENT_DEBUG line naming the kept manifest.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
from click.testing import CliRunner

from s3client.runner import run_batch
from s3op import __version__
from s3op.cli import main
from s3op.ops.multiget import batchable
from s3op.protocol import ErrorKind, InfoRequest
from tests.backends import Backend
from tests.functional.test_cli import REPO, Run, keys_in, manifest, s3op
from tests.functional.test_multiget import _batch, _context, _jobs

REQUEST_COMMANDS = ["get", "put", "info", "list"]


@pytest.fixture
def client(s3backend: Backend) -> Any:
    return s3backend.client()


def put_objects(client: Any, bk: Backend, count: int, prefix: str = "o/") -> Dict[str, bytes]:
    data = {f"{prefix}{i:03d}": os.urandom(100 + i) for i in range(count)}
    for key, body in data.items():
        client.put_object(Bucket=bk.bucket, Key=key, Body=body)
    return data


# ----------------------------------------------------------- manifest errors


def test_a_missing_field_names_its_line_and_nothing_is_sent(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    rows = [{"url": s3backend.root("k0"), "local": str(src)}, {"local": str(src)}]
    run = s3op("put", "--inputs", manifest(tmp_path / "m.jsonl", rows), cwd=tmp_path)
    assert (run.code, run.stdout) == (2, "")
    assert "line 2: missing field 'url'" in run.stderr
    assert "__init__" not in run.stderr
    assert keys_in(client, s3backend) == []  # not even line 1 ran


@pytest.mark.parametrize(
    "row,needle",
    [
        ({"url": "http://example.com/k"}, "line 3: field 'url' is not an s3:// URL"),
        ({"url": 5}, "line 3: url must be a string, not a number"),
        ({"url": "s3://b/k", "colour": "red"}, "line 3: unknown field 'colour'"),
        ({"url": "s3://b/k", "idx": 0}, "line 3: idx 0 is not above idx 1 on line 2"),
        ({"url": "s3://b/k", "idx": 1}, "duplicate idx 1 on lines 2 and 3"),
    ],
)
def test_bad_manifest_lines_exit_2_naming_the_line(
    s3backend: Backend, tmp_path: Path, row: Dict[str, Any], needle: str
) -> None:
    rows = [{"url": s3backend.root("a")}, {"url": s3backend.root("b")}, row]
    run = s3op("info", "--inputs", manifest(tmp_path / "m.jsonl", rows), cwd=tmp_path)
    assert (run.code, run.stdout) == (2, ""), run.stderr
    assert needle in run.stderr


def test_a_non_s3_url_argument_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["info", "s3://bucket/k", "http://example.com/k"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert "'http://example.com/k' is not an s3:// URL" in result.stderr


# ------------------------------------------------------- put destinations '/'


def test_a_put_destination_ending_in_a_slash_appends_the_file_name(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    src = tmp_path / "report.csv"
    src.write_bytes(b"a,b\n")
    run = s3op("put", str(src), s3backend.root("dir/"), cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert run.one()["url"] == s3backend.root("dir/report.csv")
    assert keys_in(client, s3backend) == ["dir/report.csv"]


def test_a_put_manifest_url_ending_in_a_slash_is_refused(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    rows = [{"url": s3backend.root("ok"), "local": str(src)}]
    rows.append({"url": s3backend.root("dir/"), "local": str(src)})
    run = s3op("put", "--inputs", manifest(tmp_path / "m.jsonl", rows), cwd=tmp_path)
    assert (run.code, run.stdout) == (2, "")
    assert "line 2: field 'url' ends in '/': a put must name an object" in run.stderr
    assert keys_in(client, s3backend) == []


def test_a_put_of_a_directory_path_to_a_folder_is_refused(tmp_path: Path) -> None:
    """No base name to append: still a folder, refused before anything is sent."""
    result = CliRunner().invoke(main, ["put", f"{tmp_path}/", "s3://bucket/dir/"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert "must name an object" in result.stderr


# --------------------------------------------------------------------- Ctrl-C


def _spawn(*args: str, python: List[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [*python, "-m", "s3op", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _open_writer(fifo: Path, proc: subprocess.Popen, timeout: float = 60) -> int:
    """Open ``fifo`` for writing once ``proc`` has it open for reading."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:  # ENXIO: no reader yet
            if exc.errno != errno.ENXIO or proc.poll() is not None:
                raise
        assert time.monotonic() < deadline, "s3op never opened its manifest"
        time.sleep(0.01)


def test_ctrl_c_while_reading_the_manifest_exits_130(s3backend: Backend, tmp_path: Path) -> None:
    """Start-up made observable: the manifest is a FIFO; once s3op has opened it
    (and waits for lines that never come), it gets SIGINT."""
    fifo = tmp_path / "manifest.jsonl"
    os.mkfifo(fifo)
    proc = _spawn("get", "--inputs", str(fifo), python=[sys.executable])
    writer = _open_writer(fifo, proc)
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(writer)
    assert proc.returncode == 130, err
    assert "Aborted!" not in err and "Traceback" not in err
    assert "s3op: interrupted" in err
    assert out == ""


def test_ctrl_c_while_importing_exits_130(s3backend: Backend, tmp_path: Path) -> None:
    """SIGINT as soon as the command line's imports are under way (``-X importtime``
    reports each import as it ends: click's comes while s3op.cli is importing)."""
    client = s3backend.client()
    client.put_object(Bucket=s3backend.bucket, Key="k", Body=b"x")
    python = [sys.executable, "-X", "importtime"]
    proc = _spawn("get", s3backend.root("k"), "--destination", str(tmp_path), python=python)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if re.search(r"\|\s+click$", line.rstrip()):
            proc.send_signal(signal.SIGINT)
            break
    _, rest = proc.communicate(timeout=60)
    err = "".join(seen) + rest
    assert proc.returncode == 130, err[-2000:]
    assert "Aborted!" not in err and "Traceback" not in err
    assert not (tmp_path / "k").exists()


# ----------------------------------------------------------------------- help


@pytest.mark.parametrize(
    "command,absent",
    [
        ("put", ["--allow-missing", "--recursive", "--destination"]),
        ("list", ["--part-size", "--multipart-threshold", "--allow-missing"]),
        ("info", ["--part-size", "--multipart-threshold", "--recursive"]),
        ("get", ["--no-overwrite"]),
    ],
)
def test_help_lists_only_the_options_of_the_command(command: str, absent: List[str]) -> None:
    result = CliRunner().invoke(main, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    for option in absent:
        assert option not in result.stdout, f"{command} --help shows {option}"
    for option in ["--inputs", "--retries", "--deadline", "--inject-failure-rate"]:
        assert option in result.stdout


@pytest.mark.parametrize("command", REQUEST_COMMANDS)
def test_an_option_of_another_command_is_refused(command: str) -> None:
    other = {"get": "--no-overwrite", "put": "--allow-missing"}.get(command, "--part-size")
    result = CliRunner().invoke(main, [command, "s3://bucket/k", other, "1"])
    assert result.exit_code == 2 and "No such option" in result.stderr


@pytest.mark.parametrize("command", REQUEST_COMMANDS)
def test_help_shows_the_manifest_fields_and_an_example(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"], terminal_width=200)
    text = result.stdout
    assert "Manifest fields" in text and "Example line:" in text
    example = text.split("Example line:")[1].strip().splitlines()[0]
    assert json.loads(example)["url"].startswith("s3://")


def test_version(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert (result.exit_code, result.stdout) == (0, f"s3op {__version__}\n")
    run = s3op("--version", cwd=tmp_path)
    assert (run.code, run.stdout.strip()) == (0, f"s3op {__version__}")


# ---------------------------------------------------------- failure injection


def _all_injected(run: Run, urls: List[str]) -> None:
    assert run.code == 3, run.stderr
    lines = run.lines
    assert sorted(line["url"] for line in lines) == sorted(urls)
    for line in lines:
        assert line["ok"] is False and line["error"]["kind"] == "transient"
        assert "injected failure" in line["error"]["message"]
        assert line["attempts"] == 2


def test_rate_100_fails_every_request_of_every_command(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    data = put_objects(client, s3backend, 3)
    urls = [s3backend.root(key) for key in data]
    src = tmp_path / "src"
    src.write_bytes(b"new")
    flags = ["--inject-failure-rate", "100", "--retries", "2"]
    _all_injected(s3op("get", *urls, "--destination", "D", *flags, cwd=tmp_path), urls)
    _all_injected(s3op("info", *urls, *flags, cwd=tmp_path), urls)
    _all_injected(s3op("list", s3backend.root("o/"), *flags, cwd=tmp_path), [s3backend.root("o/")])
    puts = [s3backend.root("new/a"), s3backend.root("new/b")]
    pairs = [str(src), puts[0], str(src), puts[1]]
    _all_injected(s3op("put", *pairs, *flags, cwd=tmp_path), puts)
    assert not (tmp_path / "D").exists()
    assert keys_in(client, s3backend) == sorted(data)  # nothing was written


def test_the_rate_comes_from_the_environment_unless_given(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    urls = [s3backend.root(key) for key in put_objects(client, s3backend, 2)]
    env = dict(os.environ, S3OP_INJECT_FAILURE_RATE="100")
    _all_injected(s3op("info", *urls, "--retries", "2", cwd=tmp_path, env=env), urls)
    run = s3op("info", *urls, "--inject-failure-rate", "0", cwd=tmp_path, env=env)
    assert run.code == 0 and all(line["ok"] for line in run.lines)


@pytest.mark.parametrize("rate", ["-1", "101", "half"])
def test_a_bad_rate_is_a_usage_error(rate: str) -> None:
    result = CliRunner().invoke(main, ["info", "s3://bucket/k", "--inject-failure-rate", rate])
    assert result.exit_code == 2 and "--inject-failure-rate" in result.stderr


@pytest.mark.slow  # 2-40 s: the unluckiest key's backoff (up to 5 s a retry) sets the pace
def test_rate_50_with_retries_moves_every_object_intact(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    data = {f"r/{i:03d}": os.urandom(50 + i) for i in range(50)}
    (tmp_path / "src").mkdir()
    rows = []
    for key, body in data.items():
        local = tmp_path / "src" / key.replace("/", "_")
        local.write_bytes(body)
        rows.append({"url": s3backend.root(key), "local": str(local)})
    flags = ["--inject-failure-rate", "50", "--retries", "20"]

    put = s3op("put", "--inputs", manifest(tmp_path / "p.jsonl", rows), *flags, cwd=tmp_path)
    assert put.code == 0, put.stderr
    assert sum(line["attempts"] for line in put.lines) > len(data)  # failures were injected

    gets = [{"url": s3backend.root(key)} for key in data]
    get = s3op(
        "get",
        "--inputs",
        manifest(tmp_path / "g.jsonl", gets),
        "--destination",
        "D",
        *flags,
        cwd=tmp_path,
    )
    assert get.code == 0, get.stderr
    assert len(get.lines) == len(data) and all(line["ok"] for line in get.lines)
    assert sum(line["attempts"] for line in get.lines) > len(data)
    for key, body in data.items():
        assert client.get_object(Bucket=s3backend.bucket, Key=key)["Body"].read() == body
        assert (tmp_path / "D" / key).read_bytes() == body


def test_batched_gets_inject_on_their_first_attempt_too(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    """The fast path's batched GETs (attempt 1 outside the retry loop) fail too."""
    data = put_objects(client, s3backend, 40)
    urls = [s3backend.root(key) for key in data]
    ctx = _context(s3backend.endpoint_url, attempts=3)
    ctx.policy = dataclasses.replace(ctx.policy, inject_failure_rate=100)
    jobs = _jobs(urls, tmp_path)
    assert all(batchable(ctx, job) for _, job in jobs)

    answers = _batch(ctx, jobs, handed=[])

    for answer in answers.values():
        assert answer.error.kind is ErrorKind.TRANSIENT and answer.attempts == 3
        assert "injected failure" in answer.error.message
    assert list(tmp_path.iterdir()) == []


def test_an_injected_failure_does_not_stop_the_rest_of_a_batch_going_out(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    """Only the injected jobs leave the batch's thread to be retried: a batch that
    meets one does not hand the rest off unsent (as it does when a send fails)."""
    data = put_objects(client, s3backend, 40)
    urls = [s3backend.root(key) for key in data]
    ctx = _context(s3backend.endpoint_url, attempts=20)
    ctx.policy = dataclasses.replace(ctx.policy, inject_failure_rate=50)
    handed: List[int] = []

    answers = _batch(ctx, _jobs(urls, tmp_path), handed)

    assert all(answer.ok for answer in answers.values())
    assert 0 < len(handed) < 35  # about half; ~39 if the batch stopped at the first
    for i, body in enumerate(data.values()):
        assert (tmp_path / f"f{i}").read_bytes() == body


# ------------------------------------------------------- S3CLIENT_DEBUG line


def test_a_kept_manifest_is_named_on_stderr(
    s3backend: Backend, client: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    client.put_object(Bucket=s3backend.bucket, Key="k", Body=b"x")
    requests = [InfoRequest(0, s3backend.root("k"))]
    results = run_batch("info", requests, [], {}, str(tmp_path), keep_manifest=True)
    assert results[0].ok
    lines = [line for line in capfd.readouterr().err.splitlines() if "manifest" in line]
    assert len(lines) == 1
    path = lines[0].rsplit(": ", 1)[1]
    assert "S3CLIENT_DEBUG" in lines[0] and Path(path).parent == tmp_path
    assert json.loads(Path(path).read_text())["url"] == s3backend.root("k")

    run_batch("info", requests, [], {}, str(tmp_path), keep_manifest=False)
    assert "manifest" not in capfd.readouterr().err

"""``s3op serve`` against moto: commands parsed without click, results written to
the caller's stream (never by re-pointing fd 1), credentials cached across batches.

``BatchServer`` is driven in-process with a ``StringIO`` or one end of a
socket pair; one test runs the real ``python -m s3op serve`` on pipes.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from s3op import __version__
from s3op import credentials as credentials_module
from s3op.ipc import command_line, parse_end
from s3op.serve import BatchServer, LineReader
from tests.backends import Backend

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(s3backend: Backend) -> Any:
    return s3backend.client()


def answer(text: str) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """(result lines, terminator) of one command's answer."""
    lines = text.splitlines()
    end = json.loads(lines[-1])
    assert set(end) == {"end", "exit_code", "stderr"} and end["end"] is True
    return [json.loads(line) for line in lines[:-1]], end


def run(server: BatchServer, argv: List[str]) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    out = io.StringIO()
    code = server.run_command(command_line(argv).decode(), out)
    results, end = answer(out.getvalue())
    assert end["exit_code"] == code
    return results, end


def test_a_command_answers_with_its_results_then_a_terminator(
    s3backend: Backend, client: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    client.put_object(Bucket=s3backend.bucket, Key="a", Body=b"12345")
    results, end = run(BatchServer(), ["info", s3backend.root("a"), s3backend.root("no")])

    assert end["exit_code"] == 1 and end["stderr"] == ""
    by_idx = {r["idx"]: r for r in results}
    assert by_idx[0]["size"] == 5 and by_idx[1]["error"]["kind"] == "not_found"
    assert capfd.readouterr().out == ""  # nothing went to the process's stdout


@pytest.mark.parametrize(
    "line,code,needle",
    [
        ('{"argv": ["info", "s3://b/k", "--threads", "0"]}', 2, "'--threads': 0 is not in"),
        ('{"argv": ["info", "--inputs", "/no/such/file"]}', 2, "--inputs"),
        ('{"argv": ["frobnicate"]}', 2, "No such command 'frobnicate'"),
        ('{"argv": ["serve"]}', 2, "serve cannot serve itself"),
        ('{"args": ["info"]}', 2, 'expected {"argv"'),
        ("not json", 2, "s3op serve:"),
        ('{"argv": ["info", "--help"]}', 0, "Usage: s3op info"),
        ('{"argv": ["--version"]}', 0, f"s3op {__version__}"),
    ],
)
def test_what_a_command_prints_instead_of_results_goes_in_the_terminator(
    line: str, code: int, needle: str
) -> None:
    out = io.StringIO()
    assert BatchServer().run_command(line, out) == code
    results, end = answer(out.getvalue())
    assert results == [] and end["exit_code"] == code
    assert needle in end["stderr"]


def test_credentials_are_resolved_once_across_batches(
    s3backend: Backend, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server owns the cache: the second batch reuses the first one's resolution."""
    client.put_object(Bucket=s3backend.bucket, Key="a", Body=b"x")
    calls: List[object] = []
    real = credentials_module.resolve

    def counting(raw: Any) -> Any:
        calls.append(raw)
        return real(raw)

    monkeypatch.setattr(credentials_module, "resolve", counting)
    server = BatchServer()
    for _ in range(3):
        results, end = run(server, ["info", s3backend.root("a")])
        assert end["exit_code"] == 0 and results[0]["ok"]
    assert len(calls) == 1
    assert len(run(BatchServer(), ["info", s3backend.root("a")])[0]) == 1
    assert len(calls) == 2  # another server: a cache of its own


def test_a_connection_gets_the_results_of_its_commands(
    s3backend: Backend, client: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    client.put_object(Bucket=s3backend.bucket, Key="d/a", Body=b"a")
    client.put_object(Bucket=s3backend.bucket, Key="d/b", Body=b"b")
    ours, theirs = socket.socketpair()
    served: List[bool] = []
    thread = threading.Thread(target=lambda: served.append(BatchServer().serve_connection(ours)))
    thread.start()
    try:
        theirs.sendall(command_line(["list", s3backend.root("d/")]))
        theirs.sendall(b"\n" + command_line(["info", "s3://b/k", "--retries", "0"]))
        reader = LineReader(theirs.fileno())
        first = _read_answer(reader)
        second = _read_answer(reader)
    finally:
        theirs.close()
        thread.join(60)
        ours.close()
    assert sorted(r["url"] for r in first[0]) == [s3backend.root("d/a"), s3backend.root("d/b")]
    assert first[1] == 0
    assert second[0] == [] and second[1] == 2
    assert served == [True]  # the client hung up between commands: keep serving others
    assert capfd.readouterr().out == ""


def _read_answer(reader: LineReader) -> Tuple[List[Dict[str, Any]], int]:
    results = []
    while True:
        line = reader.readline(60)
        assert line is not None, "the server stopped answering"
        end = parse_end(line)
        if end is not None:
            return results, end.exit_code
        results.append(json.loads(line))


def test_the_real_server_on_pipes(s3backend: Backend, client: Any) -> None:
    client.put_object(Bucket=s3backend.bucket, Key="k", Body=b"abc")
    commands = command_line(["info", s3backend.root("k")]) + command_line(["list", "--help"])
    proc = subprocess.run(
        [sys.executable, "-m", "s3op", "serve", "--idle-timeout", "30"],
        input=commands,
        capture_output=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0])["size"] == 3
    assert json.loads(lines[1])["exit_code"] == 0
    help_end = json.loads(lines[2])
    assert help_end["exit_code"] == 0 and "Usage: s3op list" in help_end["stderr"]


#: What a serving engine imports only when a batch needs it, not for a first GET
#: (each costs its start-up; docs/benchmarks.md, issue-19h): worker processes, TLS,
#: XML, HTTP dates other than S3's, botocore, help text.
DEFERRED = (
    "multiprocessing", "ssl", "xml.etree.ElementTree", "email.utils", "uuid", "tempfile",
    "html", "botocore", "s3op.cli_help",
)  # fmt: skip


def serve_and_probe(argv: List[str], modules: Tuple[str, ...]) -> List[str]:
    """Run one command on a fresh ``s3op serve``; its output lines, and last the
    ``modules`` it had loaded when it exited."""
    script = (
        "import atexit, runpy, sys\n"
        f"atexit.register(lambda: print([m for m in {modules!r} if m in sys.modules]))\n"
        "sys.argv = ['s3op', 'serve', '--idle-timeout', '30']\n"
        "runpy.run_module('s3op', run_name='__main__', alter_sys=True)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=command_line(argv),
        capture_output=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.decode().splitlines()


def test_a_first_get_imports_only_what_it_needs(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    client.put_object(Bucket=s3backend.bucket, Key="k", Body=b"abc")
    manifest = tmp_path / "get.jsonl"
    request = {"idx": 0, "url": s3backend.root("k"), "local": str(tmp_path / "k")}
    manifest.write_text(json.dumps(request) + "\n")
    lines = serve_and_probe(["get", "--inputs", str(manifest)], DEFERRED)
    assert json.loads(lines[0])["size"] == 3 and (tmp_path / "k").read_bytes() == b"abc"
    assert json.loads(lines[1])["exit_code"] == 0
    assert lines[2] == "[]"


def test_a_multipart_put_never_builds_botocore(
    s3backend: Backend, client: Any, tmp_path: Path
) -> None:
    """create, parts and complete all go on the lean path: botocore is never imported
    (its client cost ~0.25 s of the first big upload in each engine)."""
    mib = 1024 * 1024
    data = os.urandom(11 * mib)  # 5 + 5 + 1 MiB
    (tmp_path / "big").write_bytes(data)
    manifest = tmp_path / "put.jsonl"
    request = {"idx": 0, "url": s3backend.root("big"), "local": str(tmp_path / "big")}
    manifest.write_text(json.dumps(request) + "\n")
    argv = ["put", "--inputs", str(manifest), "--multipart-threshold", str(5 * mib)]
    lines = serve_and_probe([*argv, "--part-size", str(5 * mib)], ("botocore",))
    assert json.loads(lines[0])["size"] == len(data), lines
    assert json.loads(lines[1])["exit_code"] == 0
    assert lines[2] == "[]"
    got = client.get_object(Bucket=s3backend.bucket, Key="big", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ETag"].strip('"').endswith("-3")
    assert got.get("ChecksumCRC32")  # the full-object CRC32 sent with the complete was kept


def test_serving_imports_neither_click_nor_the_command_line() -> None:
    code = "import sys, s3op.serve; print('click' in sys.modules, 's3op.cli' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert out.stdout.split() == ["False", "False"]

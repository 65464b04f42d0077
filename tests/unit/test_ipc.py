"""``s3op.ipc``: the peer check, the private-directory check, the umask and the wire format."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from s3op import ipc


@pytest.fixture
def pair() -> Iterator[Tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        yield a, b


@pytest.mark.skipif(not ipc.can_check_peers(), reason="no SO_PEERCRED here")
def test_check_peer_names_our_own_process(pair: Tuple[socket.socket, socket.socket]) -> None:
    peer = ipc.check_peer(pair[0])
    assert peer == ipc.Peer(os.getpid(), os.getuid(), os.getgid())


@pytest.mark.skipif(not ipc.can_check_peers(), reason="no SO_PEERCRED here")
def test_check_peer_refuses_another_user(
    pair: Tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "getuid", lambda: 123456)  # we pretend to be someone else
    with pytest.raises(ipc.ForeignPeer, match="another user's"):
        ipc.check_peer(pair[0])


def test_make_private_dir_creates_it_0700(tmp_path: Path) -> None:
    path = tmp_path / "private"
    ipc.make_private_dir(str(path))
    assert path.is_dir() and (path.stat().st_mode & 0o777) == 0o700
    ipc.make_private_dir(str(path))  # already there and good: fine


@pytest.mark.parametrize("mode", [0o777, 0o750, 0o701])
def test_a_directory_others_can_use_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "open"
    path.mkdir()
    os.chmod(path, mode)
    with pytest.raises(ipc.UnsafeDirectory, match="mode 0700"):
        ipc.check_private_dir(str(path))
    with pytest.raises(ipc.UnsafeDirectory):
        ipc.make_private_dir(str(path))


def test_a_link_or_a_file_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(good)
    afile = tmp_path / "file"
    afile.write_text("")
    os.chmod(afile, 0o700)
    for path in (link, afile):
        with pytest.raises(ipc.UnsafeDirectory):
            ipc.check_private_dir(str(path))


def test_a_missing_directory_is_not_private(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ipc.check_private_dir(str(tmp_path / "missing"))


def test_current_umask_reads_without_changing_it() -> None:
    old = os.umask(0o027)
    try:
        assert ipc.current_umask() == 0o027
        assert ipc.current_umask() == 0o027
    finally:
        os.umask(old)


def test_command_line_round_trip() -> None:
    argv = ["get", "--inputs", "/t/m.jsonl", "--info", "ünïcode"]
    line = ipc.command_line(argv)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert ipc.parse_command(line.decode()) == argv


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"argv": "get"}', "expected"),
        ('["get"]', "expected"),
        ('{"argv": ["get", 1]}', "expected"),
        ('{"argv": ["serve"]}', "cannot serve itself"),
        ("not json", "Expecting value"),
    ],
)
def test_bad_command_lines_are_refused(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ipc.parse_command(line)


def test_end_line_round_trip_keeps_the_end_of_stderr() -> None:
    stderr = "x" * ipc.END_STDERR_CHARS + "the end"
    line = ipc.end_line(130, stderr)
    assert line.startswith(ipc.END_PREFIX) and line.endswith("\n")
    end = ipc.parse_end(line)
    assert end is not None and end.exit_code == 130
    assert len(end.stderr) == ipc.END_STDERR_CHARS and end.stderr.endswith("the end")


def test_a_result_line_is_not_a_terminator() -> None:
    from s3op.protocol import Result

    assert ipc.parse_end(Result(0, "s3://bkt/k", size=1).to_json()) is None

"""What ``s3client`` and ``s3op serve`` share across the process boundary.

Each rule below is written once, here, and used by both sides:

- **Who is on the other end** of a Unix socket: ``check_peer`` (``SO_PEERCRED``)
  returns the peer's ``Peer`` (pid, uid, gid) and raises ``ForeignPeer`` when
  it runs as another user. The server refuses such clients; the library
  refuses such servers.
- **A directory only we can use**: ``check_private_dir`` raises
  ``UnsafeDirectory`` unless the path is a real directory (not a link), owned
  by us, with no access for group or others; ``make_private_dir`` creates it
  (0700) when missing, then checks it.
- **The umask** (``current_umask``): it decides the mode of every file an
  engine creates, so it is part of a shared server's identity.
- **The wire format** of ``s3op serve``, on stdin/stdout or on a socket: one
  command line ``{"argv": ["get", "--inputs", PATH, ...]}`` in
  (``command_line`` / ``parse_command``); the result lines of that command
  out, each carrying ``idx``; then one terminator
  ``{"end": true, "exit_code": N, "stderr": "..."}`` (``end_line`` /
  ``parse_end``), whose ``stderr`` keeps the last ``END_STDERR_CHARS``.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
from dataclasses import dataclass
from typing import List, Optional, Sequence

#: How much of a command's stderr a terminator line carries (its end).
END_STDERR_CHARS = 8000
#: Every terminator line starts with this; a result line never does (it starts with ``{"idx"``).
END_PREFIX = '{"end": true'

_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


class ForeignPeer(PermissionError):
    """The process on the other end of a Unix socket runs as another user."""


class UnsafeDirectory(PermissionError):
    """A directory that must be private (ours, mode 0700, not a link) is not."""


@dataclass(frozen=True)
class Peer:
    """The process on the other end of a Unix socket, as the kernel saw it connect."""

    pid: int
    uid: int
    gid: int


@dataclass(frozen=True)
class EndOfBatch:
    """A terminator line: the command is over."""

    exit_code: int  # what ``s3op ARGV...`` would have exited with
    stderr: str  # the end of what it wrote to stderr


def can_check_peers() -> bool:
    """True where ``check_peer`` works (Linux: ``SO_PEERCRED``)."""
    return hasattr(socket, "SO_PEERCRED")


def check_peer(sock: socket.socket) -> Peer:
    """The peer of ``sock``; ``ForeignPeer`` unless it runs as our user."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    peer = Peer(*_CREDENTIALS.unpack(raw))
    if peer.uid != os.getuid():
        raise ForeignPeer(f"the process on the other end (pid {peer.pid}) is another user's")
    return peer


def check_private_dir(path: str) -> None:
    """``UnsafeDirectory`` unless ``path`` is a directory of ours with mode 0700.

    ``lstat``: a symbolic link is refused even if it points to a good directory.
    A missing path raises ``FileNotFoundError``.
    """
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise UnsafeDirectory(f"{path} must be a directory of ours with mode 0700")


def make_private_dir(path: str) -> None:
    """Create ``path`` with mode 0700 unless it exists, then ``check_private_dir`` it."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    check_private_dir(path)


def current_umask() -> int:
    """This process's umask, read without changing it.

    Linux shows it in ``/proc/self/status``. Elsewhere it is read the only
    other way there is, setting it and putting it back, which races with
    threads that create files meanwhile.
    """
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def command_line(argv: Sequence[str]) -> bytes:
    """The line sending one command to ``s3op serve`` (newline included)."""
    return json.dumps({"argv": list(argv)}).encode("utf-8") + b"\n"


def parse_command(line: str) -> List[str]:
    """The argv of a command line; ``ValueError`` if it is not one ``s3op serve`` runs."""
    command = json.loads(line)
    argv = command.get("argv") if isinstance(command, dict) else None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise ValueError('expected {"argv": ["get", ...]}')
    if argv and argv[0] == "serve":
        raise ValueError("serve cannot serve itself")
    return argv


def end_line(exit_code: int, stderr: str) -> str:
    """The terminator line after a command's results (newline included)."""
    end = {"end": True, "exit_code": exit_code, "stderr": stderr[-END_STDERR_CHARS:]}
    return json.dumps(end) + "\n"


def parse_end(line: str) -> Optional[EndOfBatch]:
    """The terminator in ``line``, or None when it is a result line."""
    if not line.startswith(END_PREFIX):
        return None
    end = json.loads(line)
    return EndOfBatch(int(end["exit_code"]), str(end.get("stderr", "")))


__all__ = [
    "END_PREFIX",
    "END_STDERR_CHARS",
    "EndOfBatch",
    "ForeignPeer",
    "Peer",
    "UnsafeDirectory",
    "can_check_peers",
    "check_peer",
    "check_private_dir",
    "command_line",
    "current_umask",
    "end_line",
    "make_private_dir",
    "parse_command",
    "parse_end",
]

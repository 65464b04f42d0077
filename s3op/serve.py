"""``s3op serve``: a long-lived engine that runs batch after batch.

Python start-up plus ``import boto3`` cost ~0.3 s here; a caller that runs
many small batches (``s3client`` does) should pay it once. The server reads
one command a line on stdin, ``{"argv": ["get", "--inputs", PATH, ...]}``,
runs it exactly as ``s3op ARGV...`` would (same code, same result lines on
stdout), then writes one terminator line::

    {"end": true, "exit_code": 0, "stderr": "..."}

Result lines always carry ``idx``; the terminator never does. Small
batches run on in-process threads with warm connections; big ones fork
workers as usual. The server exits at EOF on stdin or after
``--idle-timeout`` seconds without a command.

``--listen PATH`` makes it a *shared* server instead: it answers the same
command lines on a Unix socket at ``PATH``, one connection at a time, so
that every process of one user with one configuration reuses one warm
engine (``s3client``'s default; see ``s3client/server.py``). The socket's
directory must be private to the user (mode 0700, owned by us); connections
from another user are refused (``SO_PEERCRED``). At most one server holds
``PATH + ".lock"`` at a time; a second one started for the same path exits
at once. Result lines go to the connection; a client that disconnects
mid-batch stops that server (the batch cannot report anywhere).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import select
import socket
import stat
import struct
import sys
import time
from typing import Any, Dict, List, Optional

import click

from s3op.paths import remove_file


def serve_forever(idle_timeout: float) -> None:
    """Answer commands from stdin until EOF or idle timeout."""
    from s3op import cli

    cli.SERVE_MODE = True
    warm_up()
    reader = LineReader(sys.stdin.fileno())
    while True:
        line = reader.readline(idle_timeout)
        if line is None:
            return
        if line.strip():
            end = run_command(line)
            _terminate(end)
            if end["exit_code"] == 130:
                return  # interrupted: the caller is tearing us down, don't linger


def warm_up() -> None:
    """Do the first command's start-up work before it arrives.

    Imports the engine and the ops, resolves the default configuration
    (credentials, endpoint) and builds its client, so that this work
    (~0.1 s) overlaps whatever the caller does between starting the server
    and sending its first batch. A command that arrives meanwhile waits in
    the pipe. Nothing here may fail the server: a bad configuration is
    reported by the command that uses it.
    """
    from s3op import cli

    try:
        import s3op.engine  # noqa: F401
        import s3op.ops.get  # noqa: F401
        import s3op.ops.info  # noqa: F401
        import s3op.ops.listing  # noqa: F401
        import s3op.ops.put  # noqa: F401
        from s3op.client import cached_client

        for threads in (cli.DEFAULT_THREADS, cli.PUT_THREADS):
            cached_client(cli.client_config(None, threads, cli.DEFAULT_DEADLINE))
    except Exception:  # noqa: BLE001 - the first command reports any real problem
        pass


#: How often an idle shared server checks that its socket path is still its own.
IDENTITY_CHECK_SECONDS = 5.0


def serve_socket(path: str, idle_timeout: float) -> None:
    """Answer commands on a Unix socket at ``path`` until idle for ``idle_timeout``."""
    from s3op import cli

    _check_private_dir(os.path.dirname(path) or ".")
    lock_fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another server owns this path
    cli.SERVE_MODE = True
    listener = _listen(path)
    identity = _identity(path)
    warm_up()
    null = os.open(os.devnull, os.O_WRONLY)
    idle_since = _now()
    try:
        while _identity(path) == identity and _now() - idle_since < idle_timeout:
            wait = min(IDENTITY_CHECK_SECONDS, idle_timeout - (_now() - idle_since))
            ready, _, _ = select.select([listener], [], [], max(wait, 0.0))
            if not ready:
                continue
            conn, _ = listener.accept()
            with conn:
                if _peer_uid(conn) != os.getuid():
                    continue
                if not serve_connection(conn, null):
                    return
            idle_since = _now()
    finally:
        if _identity(path) == identity:
            remove_file(path)
        listener.close()


def serve_connection(conn: socket.socket, null: int) -> bool:
    """Run the commands of one connection; False when the server must stop."""
    reader = LineReader(conn.fileno())
    while True:
        line = reader.readline(None)
        if line is None:
            return True
        if not line.strip():
            continue
        sys.stdout.flush()
        os.dup2(conn.fileno(), sys.stdout.fileno())
        try:
            end = run_command(line)
            _terminate(end)
        except OSError:  # the client went away mid-batch
            return False
        finally:
            _quiet_flush()
            os.dup2(null, sys.stdout.fileno())
        if end["exit_code"] == 130:
            return False


def _check_private_dir(directory: str) -> None:
    st = os.lstat(directory)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise click.ClickException(f"{directory} must be a directory of ours with mode 0700")


def _listen(path: str) -> socket.socket:
    remove_file(path)  # a dead server's socket: we hold the lock, so nobody else uses it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(16)
    return listener


def _identity(path: str) -> Optional[tuple]:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _quiet_flush() -> None:
    try:
        sys.stdout.flush()
    except OSError:
        pass


def _now() -> float:
    return time.monotonic()


class LineReader:
    """Lines from a file descriptor, waiting at most a timeout for each.

    Unbuffered reads plus our own buffer: ``select`` on a ``TextIOWrapper``
    can miss lines that already sit in its buffer.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def readline(self, timeout: Optional[float]) -> Optional[str]:
        """The next line, or None at EOF or when ``timeout`` passes idle (None: no limit)."""
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8", "replace")


def run_command(line: str) -> Dict[str, Any]:
    """Run one command line; return the terminator to write after its results."""
    from s3op import cli

    stderr = io.StringIO()
    try:
        argv = _argv(line)
    except ValueError as exc:
        return {"end": True, "exit_code": 2, "stderr": f"s3op serve: {exc}"}
    with contextlib.redirect_stderr(stderr):
        code = _invoke(cli.main, argv)
    return {"end": True, "exit_code": code, "stderr": stderr.getvalue()[-8000:]}


def _argv(line: str) -> List[str]:
    command = json.loads(line)
    argv = command.get("argv") if isinstance(command, dict) else None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise ValueError('expected {"argv": ["get", ...]}')
    if argv and argv[0] == "serve":
        raise ValueError("serve cannot serve itself")
    return argv


def _invoke(main: click.Group, argv: List[str]) -> int:
    try:
        main.main(args=argv, prog_name="s3op", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 130
    return 0


def _terminate(end: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(end) + "\n")
    sys.stdout.flush()

"""``s3op serve``: a long-lived engine that runs batch after batch.

Python start-up plus ``import boto3`` cost ~0.3 s here; a caller that runs
many small batches (``s3client`` does) should pay it once. The server reads
one command a line on stdin, ``{"argv": ["get", "--inputs", PATH, ...]}``,
runs it as ``s3op ARGV...`` would (same parsing, ``s3op.cli_batch``; same
engine, ``s3op.run_batch``; same result lines), then writes one
terminator line (the wire format is ``s3op.ipc``'s)::

    {"end": true, "exit_code": 0, "stderr": "..."}

Result lines always carry ``idx``; the terminator never does, and it
carries whatever the command would print instead of results (a usage
error; ``OP --help`` and ``--version``, exit 0), so that the result
stream holds result lines only. Small
batches run on in-process threads with warm connections; big ones fork
workers as usual. The server exits at EOF on stdin or after
``--idle-timeout`` seconds without a command. A ``BatchServer`` owns what
is kept from one batch to the next: the credential cache.

``--listen PATH`` makes it a *shared* server instead: it answers the same
command lines on a Unix socket at ``PATH``, one connection at a time, so
that every process of one user with one configuration reuses one warm
engine (``s3client``'s default; see ``s3client/shared.py``). The socket's
directory must be private to the user (``ipc.check_private_dir``);
connections from another user are refused (``ipc.check_peer``). At most
one server holds ``PATH + ".lock"`` at a time; a second one started for
the same path exits at once. Result lines go to the connection; a client
that disconnects mid-batch stops that server (the batch cannot report
anywhere).

``python -m s3op serve ...`` (how ``s3client`` starts one) reads its
options here, with ``serve_args``, not through the click command line:
importing click and ``s3op.cli`` is start-up every server would pay.
Anything ``serve_args`` does not take (``--help``, an unknown option, a bad
value) goes to the click command ``s3op.cli.serve``, so help and errors are
click's, unchanged.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import select
import socket
import sys
import time
from typing import Dict, NamedTuple, Optional, Sequence, TextIO, Tuple

from s3op.batch import INTERRUPTED_NOTE, LineSink, run_batch
from s3op.cli_batch import ShowHelp, parse_batch_argv
from s3op.credentials import CredentialCache, client_config
from s3op.ipc import (
    ForeignPeer,
    UnsafeDirectory,
    check_peer,
    check_private_dir,
    end_line,
    parse_command,
)
from s3op.options import DEFAULT_DEADLINE, DEFAULT_THREADS, PUT_THREADS, BatchUsageError
from s3op.paths import remove_file
from s3op.protocol import ExitCode
from s3op.stdout import buffer_stdout

#: How often an idle shared server checks that its socket path is still its own.
IDENTITY_CHECK_SECONDS = 5.0
#: Bytes of result lines buffered on a connection between flushes.
CONNECTION_BUFFER = 1 << 16
#: The options ``serve_args`` reads (the click command's, spelled the same): flag -> field.
SERVE_OPTIONS = {"--idle-timeout": "idle_timeout", "--listen": "listen"}


class ServeArgs(NamedTuple):
    """The options of ``s3op serve``; the defaults are the click command's."""

    idle_timeout: float = 300.0  # exit after this many seconds without a command (>= 1)
    listen: Optional[str] = None  # a Unix socket's path; None: commands on stdin/stdout


def serve_args(argv: Sequence[str]) -> Optional[ServeArgs]:
    """``serve``'s options from ``argv`` (what follows ``serve``), without click.

    ``--idle-timeout SECONDS`` and ``--listen PATH``, each also as ``--flag=VALUE``,
    in any order, the last of a repeated one winning (as click does). None for
    anything else (``--help``, another option, a value click would refuse or that
    looks like an option): the click command line parses those instead.
    """
    values: Dict[str, str] = {}
    rest = list(argv)
    while rest:
        flag, equals, value = rest.pop(0).partition("=")
        if flag not in SERVE_OPTIONS:
            return None
        if not equals:
            if not rest:
                return None
            value = rest.pop(0)
        if not value or value.startswith("-"):
            return None
        values[SERVE_OPTIONS[flag]] = value
    idle_timeout = _seconds(values.get("idle_timeout"))
    if idle_timeout is None:
        return None
    return ServeArgs(idle_timeout, values.get("listen"))


def _seconds(text: Optional[str]) -> Optional[float]:
    """``--idle-timeout``'s value: a finite number >= 1 (absent: the default), else None."""
    if text is None:
        return ServeArgs().idle_timeout
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 1 <= value < float("inf") else None  # NaN, inf, < 1: click's to judge


def run_server(args: ServeArgs) -> None:
    """Serve on stdin/stdout, or on ``args.listen`` (``UnsafeDirectory`` if its
    directory is not private), until idle for ``args.idle_timeout`` s."""
    if args.listen is None:
        serve_stdin(args.idle_timeout)
    else:
        serve_socket(args.listen, args.idle_timeout)


def run_fast(argv: Sequence[str]) -> Optional[int]:
    """``python -m s3op serve ARGV``: serve without click when ``serve_args`` reads
    ``argv``, and return the exit code; None: leave it to the click command line."""
    args = serve_args(argv)
    if args is None:
        return None
    buffer_stdout()  # as the click group does before any command
    try:
        run_server(args)
    except UnsafeDirectory as exc:
        sys.stderr.write(f"Error: {exc}\n")  # click's form for its ClickException
        return 1
    except BrokenPipeError:  # stdout's reader is gone: exit 1 quietly, as click does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


class BatchServer:
    """Runs the commands of one ``s3op serve``; keeps the credential cache across them."""

    def __init__(self) -> None:
        self.credentials = CredentialCache()

    def warm_up(self) -> None:
        """Do the first command's start-up work before it arrives.

        Imports the ops, resolves the default configuration (credentials,
        endpoint) and builds its client, so that this work (~0.1 s) overlaps
        whatever the caller does between starting the server and sending its
        first batch. A command that arrives meanwhile waits in the pipe.
        Nothing here may fail the server: a bad configuration is reported by
        the command that uses it.
        """
        try:
            import s3op.ops.get  # noqa: F401
            import s3op.ops.info  # noqa: F401
            import s3op.ops.listing  # noqa: F401
            import s3op.ops.put  # noqa: F401
            from s3op.client import cached_client

            for threads in (DEFAULT_THREADS, PUT_THREADS):
                cached_client(client_config(None, threads, DEFAULT_DEADLINE, self.credentials))
        except Exception:  # noqa: BLE001 - the first command reports any real problem
            pass

    def run_command(self, line: str, out: TextIO) -> int:
        """Run one command line: its result lines, then its terminator, to ``out``.
        Its exit code. ``OSError`` if ``out`` breaks (the client went away)."""
        code, stderr = self._answer(line, out)
        out.write(end_line(code, stderr))
        out.flush()
        return code

    def _answer(self, line: str, out: TextIO) -> Tuple[int, str]:
        """Run one command line, its results to ``out``: (exit code, its stderr)."""
        try:
            argv = parse_command(line)
        except ValueError as exc:
            return ExitCode.USAGE, f"s3op serve: {exc}"
        try:
            command = parse_batch_argv(argv)
            options = dataclasses.replace(command.options, credentials=self.credentials)
            code = run_batch(command.op, command.requests, options, LineSink(out))
        except ShowHelp as shown:  # on stderr: the result stream holds result lines only
            return ExitCode.OK, shown.text + "\n"
        except BatchUsageError as exc:
            return ExitCode.USAGE, exc.format() + "\n"
        except KeyboardInterrupt:  # reading the manifest: nothing started
            return ExitCode.INTERRUPTED, "s3op: interrupted\n"
        return code, INTERRUPTED_NOTE + "\n" if code is ExitCode.INTERRUPTED else ""

    def serve_connection(self, conn: socket.socket) -> bool:
        """Run the commands of one connection; False when the server must stop."""
        reader = LineReader(conn.fileno())
        out = conn.makefile("w", buffering=CONNECTION_BUFFER, encoding="utf-8", newline="\n")
        try:
            while True:
                line = reader.readline(None)
                if line is None:
                    return True
                if not line.strip():
                    continue
                try:
                    code = self.run_command(line, out)
                except OSError:  # the client went away mid-batch
                    return False
                if code == ExitCode.INTERRUPTED:
                    return False
        finally:
            _close_quietly(out)


def serve_stdin(idle_timeout: float) -> None:
    """Answer commands from stdin (results on stdout) until EOF or idle timeout."""
    server = BatchServer()
    server.warm_up()
    reader = LineReader(sys.stdin.fileno())
    while True:
        line = reader.readline(idle_timeout)
        if line is None:
            return
        if line.strip() and server.run_command(line, sys.stdout) == ExitCode.INTERRUPTED:
            return  # interrupted: the caller is tearing us down, don't linger


def serve_socket(path: str, idle_timeout: float) -> None:
    """Answer commands on a Unix socket at ``path`` until idle for ``idle_timeout``.

    ``ipc.UnsafeDirectory`` if the socket's directory is not private.
    """
    check_private_dir(os.path.dirname(path) or ".")
    lock_fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held until we exit
    except BlockingIOError:
        return  # another server owns this path
    server = BatchServer()
    listener = _listen(path)
    identity = _identity(path)
    server.warm_up()
    try:
        _accept(server, listener, path, identity, idle_timeout)
    finally:
        if _identity(path) == identity:
            remove_file(path)
        listener.close()


def _accept(
    server: BatchServer,
    listener: socket.socket,
    path: str,
    identity: Optional[Tuple[int, int]],
    idle_timeout: float,
) -> None:
    """Serve connections while ``path`` is still our socket and we are not idle too long."""
    idle_since = _now()
    while _identity(path) == identity and _now() - idle_since < idle_timeout:
        wait = min(IDENTITY_CHECK_SECONDS, idle_timeout - (_now() - idle_since))
        ready, _, _ = select.select([listener], [], [], max(wait, 0.0))
        if not ready:
            continue
        conn, _ = listener.accept()
        with conn:
            try:
                check_peer(conn)
            except ForeignPeer:
                continue
            if not server.serve_connection(conn):
                return
        idle_since = _now()


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


def _identity(path: str) -> Optional[Tuple[int, int]]:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _close_quietly(out: TextIO) -> None:
    try:
        out.close()
    except OSError:  # unsent lines to a client that is gone
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


__all__ = [
    "BatchServer", "LineReader", "SERVE_OPTIONS", "ServeArgs", "run_fast", "run_server",
    "serve_args", "serve_socket", "serve_stdin",
]  # fmt: skip

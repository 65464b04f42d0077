"""The shared policy: one warm ``s3op serve`` per user and configuration.

Short scripts and flow steps run a batch or two each: a private server
(``server``) would still cost each ~0.2 s. So by default batches go to an
``s3op serve --listen`` (where, and named how: ``shared_paths``) shared by
this user's processes with the same configuration, started by the first
that needs it, in its own session with no pipes to anyone, ending after
``SHARED_IDLE_SECONDS`` idle (``S3CLIENT_SHARED_IDLE``). Each side checks
the other is ours (``s3op.ipc.check_peer``). A batch holds ``NAME.batch``
(flock; a forked child closes its copies). Ctrl-C (or any exception)
during a batch stops the server (``stop_peer``).

Retry layer -- running the batch privately instead: when the batch lock is
taken, or no server is ready within ``SHARED_START_SECONDS``, the batch runs
on a private server, so concurrency is never worse than without sharing.
So does a batch whose server closed the connection before its first line
(``NoAnswer``): almost always it was exiting on idle as we connected, and
the batch never started. One that died mid-batch before its first line may
have done some requests, which then run again; that is safe: gets, infos
and listings only read, a put writes the same data again (with
``overwrite=False`` it then reports the key as there). A server that ends
after its first line is never retried: the batch fails with what it got.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import os
import socket
import threading
import time
from typing import Dict, List, Mapping, Optional, Sequence, Union

from s3op import ipc

from .engine_process import Answer, EngineProcess, read_answer, read_tail, s3op_command, stop_peer
from .errors import S3EngineError
from .linestream import new_lines
from .outcome import Line
from .server import Private
from .shared_paths import server_prefix, sweep

#: Seconds the shared server waits for a batch before it exits (``S3CLIENT_SHARED_IDLE``).
SHARED_IDLE_SECONDS = 60.0
SHARED_IDLE_VAR = "S3CLIENT_SHARED_IDLE"
#: How long a batch waits for a starting shared server before using a private one.
SHARED_START_SECONDS = 20.0


def idle_seconds() -> float:
    """``S3CLIENT_SHARED_IDLE`` if it is a positive number, else the default."""
    try:
        value = float(os.environ.get(SHARED_IDLE_VAR, ""))
    except ValueError:
        return SHARED_IDLE_SECONDS
    return value if value >= 1 else SHARED_IDLE_SECONDS


class NoAnswer(OSError):
    """The shared server closed the connection before its first line: the batch
    can run privately instead (see the module docstring)."""


class Lease:
    """One batch's hold on the shared server: the batch lock, then a connection."""

    def __init__(self, lock_fd: int, prefix: str) -> None:
        self.lock_fd = lock_fd
        self.prefix = prefix
        self.sock: Optional[socket.socket] = None
        self.peer: Optional[ipc.Peer] = None

    def attach(self, sock: socket.socket) -> bool:
        """Take ``sock`` (closed with the lease); True if the server on it is ours."""
        self.sock = sock
        try:
            self.peer = ipc.check_peer(sock)
        except ipc.ForeignPeer:
            return False  # never send a batch to another user's process
        return True

    def run(self, argv: Sequence[str]) -> Answer:
        """Send one command and read its answer. A server that goes away before its
        first line raises NoAnswer; after it, the exit code is -1."""
        assert self.sock is not None
        lines: List[Line] = new_lines()  # a list, or an iterator's stream (linestream)
        try:
            self.sock.sendall(ipc.command_line(argv))
            with self.sock.makefile("rb") as stream:
                end = read_answer(stream, lines)
            if end is not None:
                return Answer(end.exit_code, lines, end.stderr)
        except (ConnectionResetError, BrokenPipeError) as exc:
            if not lines:
                raise NoAnswer(str(exc)) from exc
        if not lines:
            raise NoAnswer("closed before answering")
        return Answer(-1, lines, "the shared s3op server ended during the batch" + self._log())

    def _log(self) -> str:
        with contextlib.suppress(OSError), open(self.prefix + ".log", "rb") as f:
            tail = read_tail(f)
            return f"; its log ends: {tail}" if tail else ""
        return ""

    def kill(self) -> None:
        """End the server (and its workers) now: ``stop_peer``."""
        assert self.sock is not None and self.peer is not None
        stop_peer(self.peer, self.sock)

    def release(self) -> None:
        """Close the connection and let the next batch in."""
        SHARED.forget(self)
        self.close()

    def close(self) -> None:
        """Close the connection and drop the batch lock (the flock goes with the fd)."""
        with contextlib.suppress(OSError):
            if self.sock is not None:
                self.sock.close()
            os.close(self.lock_fd)


class Connect(enum.Enum):
    """Why ``_connect`` has no connection to give."""

    NOBODY = "no server listens"
    BUSY = "a server listens, but its backlog is full (never block on it)"


class SharedServers:
    """Finds, starts and leases shared servers for this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: Dict[str, EngineProcess] = {}
        self._leases: List[Lease] = []

    def prewarm(self, env: Mapping[str, str]) -> None:
        """Start the shared server for ``env`` now unless one answers: its start-up
        then overlaps whatever the caller does before its first batch."""
        prefix = server_prefix(env)
        if prefix is None:
            return
        sock = _connect(prefix)
        if isinstance(sock, socket.socket):
            sock.close()
        elif sock is Connect.NOBODY:
            self._start(env, prefix)

    def lease(self, env: Mapping[str, str]) -> Optional[Lease]:
        """The shared server for one batch, or None (busy, unsafe or not starting)."""
        prefix = server_prefix(env)
        lock_fd = _lock_batch(prefix) if prefix is not None else None
        if prefix is None or lock_fd is None:
            return None
        lease = Lease(lock_fd, prefix)
        try:
            sock = self._connect_or_start(env, prefix)
            ours = sock is not None and lease.attach(sock)
        except BaseException:
            lease.close()
            raise
        if not ours:
            lease.close()
            return None
        with self._lock:
            self._leases.append(lease)
        return lease

    def forget(self, lease: Lease) -> None:
        """``lease`` is released: a later fork need not close it."""
        with self._lock:
            if lease in self._leases:
                self._leases.remove(lease)

    def after_fork_in_child(self) -> None:
        """A forked child must not keep its parent's lease alive: close its copies."""
        self._lock = threading.Lock()
        self._started = {}
        for lease in self._leases:
            lease.close()
        self._leases = []

    def _connect_or_start(self, env: Mapping[str, str], prefix: str) -> Optional[socket.socket]:
        """Connect, starting the server if none listens; None after SHARED_START_SECONDS,
        or as soon as the server we started has exited without listening."""
        process = None
        deadline = time.monotonic() + SHARED_START_SECONDS
        while time.monotonic() < deadline:
            sock = _connect(prefix)
            if isinstance(sock, socket.socket):
                return sock
            if sock is Connect.NOBODY:
                if process is not None and not process.running():
                    return None  # it exited (failed, or lost the path to a server going away)
                process = process or self._start(env, prefix)
                if process is None:
                    return None
            time.sleep(0.002)
        return None

    def _start(self, env: Mapping[str, str], prefix: str) -> Optional[EngineProcess]:
        """Start a server for ``prefix`` unless ours is still starting (those that
        have exited are reaped here); a server that finds another one holding the
        path exits at once."""
        with self._lock:
            self._started = {p: s for p, s in self._started.items() if s.running()}
            process = self._started.get(prefix)
            if process is None:
                sweep(os.path.dirname(prefix))
                process = _spawn_server(env, prefix)
            if process is not None:
                self._started[prefix] = process
            return process


def _spawn_server(env: Mapping[str, str], prefix: str) -> Optional[EngineProcess]:
    """``s3op serve --listen PREFIX.sock``, its stderr to ``PREFIX.log``."""
    argv = [*s3op_command(), "serve", "--listen", prefix + ".sock",
            "--idle-timeout", str(idle_seconds())]  # fmt: skip
    try:
        log = os.open(prefix + ".log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError:
        return None
    try:
        return EngineProcess(argv, env, "/", pipe_stdout=False, log=log)
    except S3EngineError:
        return None
    finally:
        os.close(log)


def _lock_batch(prefix: str) -> Optional[int]:
    """The batch lock of ``prefix``'s server, taken without waiting; None if another
    process's batch holds it (or it cannot be opened)."""
    try:
        lock_fd = os.open(prefix + ".batch", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.utime(lock_fd)  # last used now (see shared_paths.sweep)
    except OSError:
        os.close(lock_fd)
        return None
    return lock_fd


def _connect(prefix: str) -> Union[socket.socket, Connect]:
    """A connected socket to ``prefix``'s server, or why there is none."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.connect(prefix + ".sock")
    except OSError as exc:
        sock.close()
        return Connect.BUSY if isinstance(exc, BlockingIOError) else Connect.NOBODY
    sock.setblocking(True)
    return sock


class Shared:
    """The ``runner.Policy`` running each batch on the shared server when it can,
    else on ``fallback`` (see the module docstring)."""

    def __init__(self, env: Mapping[str, str], fallback: Private) -> None:
        self.env = dict(env)
        self.fallback = fallback
        SHARED.prewarm(self.env)

    def run(self, argv: Sequence[str]) -> Answer:
        """Run one batch, on the shared server or on ``fallback``."""
        lease = SHARED.lease(self.env)
        if lease is not None:
            try:
                return lease.run(argv)
            except NoAnswer:
                pass  # it was going away (idle) or died unseen: run on a private server
            except BaseException:  # Ctrl-C or anything else: never leave a batch running
                lease.kill()
                raise
            finally:
                lease.release()
        return self.fallback.run(argv)


SHARED = SharedServers()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=SHARED.after_fork_in_child)

__all__ = ["Lease", "NoAnswer", "SHARED", "Shared", "SharedServers", "idle_seconds"]

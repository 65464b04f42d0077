"""The shared engine: one warm ``s3op serve`` per user and configuration.

A private server (``server.PersistentEngine``) saves start-up for every
batch after the first one *in one process*. Scripts, flow steps and CLI
jobs are often short processes that run one small batch each; they would
still pay ~0.2 s of engine start-up (interpreter, botocore's signer and
credential code) every time. So by default (``S3CLIENT_ENGINE=shared``)
batches go first to a server shared by all processes of this user with
the same configuration:

- It is ``s3op serve --listen SOCKET``, started by the first process that
  needs it, in its own session, with no pipes to anyone; it exits after
  ``SHARED_IDLE_SECONDS`` without a batch (``S3CLIENT_SHARED_IDLE``).
- Its socket lives in ``$XDG_RUNTIME_DIR/s3client-UID`` (else
  ``/tmp/s3client-UID``), a directory that must be ours with mode 0700;
  the server also refuses connections from other users. Where that is
  not so (or the path is too long for a socket, or the platform cannot
  tell who is connecting), batches use private servers.
- The socket's name is a digest of everything that can change what the
  engine does: the environment (credentials, endpoints, proxies,
  ``PYTHONPATH``...; only variables known not to matter, such as
  ``TMPDIR`` or ``PWD``, are left out), this Python, the s3op source files
  (size and mtime) and the AWS config and credentials files (size and
  mtime). Change any of them and the next batch gets a new server; the
  old one idles out.
- One batch at a time: a process holds ``SOCKET.batch`` (flock) for the
  batch. A process that finds it taken, or finds no server ready within
  ``SHARED_START_SECONDS``, uses a private server for that batch instead,
  so concurrency is never worse than without sharing.
- Ctrl-C (or any exception) during a batch ends the shared server the same
  way a private one is ended: SIGTERM to its process group (the engine
  removes its temp files and stops its workers), then SIGKILL.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from s3op.protocol import Result

from .runner import parse_early, s3op_command

#: Seconds the shared server waits for a batch before it exits (``S3CLIENT_SHARED_IDLE``).
SHARED_IDLE_SECONDS = 60.0
SHARED_IDLE_VAR = "S3CLIENT_SHARED_IDLE"
#: How long a batch waits for a starting shared server before using a private one.
SHARED_START_SECONDS = 20.0
#: Longest socket path bind() takes on Linux (sun_path is 108 bytes with its NUL).
MAX_SOCKET_PATH = 107
#: Grace between SIGTERM and SIGKILL when a batch is interrupted.
KILL_GRACE_SECONDS = 5.0
#: Variables that cannot change what the engine does: not part of the digest.
IGNORED_VARS = frozenset(
    {
        "TMPDIR", "TEMP", "TMP", "PWD", "OLDPWD", "SHLVL", "_", "TERM", "COLORTERM",
        "COLUMNS", "LINES", "PS1", "PS2", "DISPLAY", "LS_COLORS", "HISTFILE", "HISTSIZE",
        "PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER", "MAKEFLAGS", "MAKELEVEL", "MFLAGS",
        "SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY", "WINDOWID", "INVOCATION_ID",
    }
)  # fmt: skip

_CODE_STAMP: Optional[str] = None


def runtime_dir() -> Optional[str]:
    """Our private directory for shared-server sockets, or None if it is not safe."""
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    path = os.path.join(base, f"s3client-{os.getuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return path


def digest(env: Mapping[str, str]) -> str:
    """The name of the shared server for ``env`` (see the module docstring)."""
    kept = sorted((k, v) for k, v in env.items() if k not in IGNORED_VARS)
    files = [_stamp(p) for p in _aws_files(env)]
    blob = json.dumps([kept, os.getuid(), os.path.realpath(_python()), _code_stamp(), files])
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def idle_seconds() -> float:
    """``S3CLIENT_SHARED_IDLE`` if it is a positive number, else the default."""
    try:
        value = float(os.environ.get(SHARED_IDLE_VAR, ""))
    except ValueError:
        return SHARED_IDLE_SECONDS
    return value if value >= 1 else SHARED_IDLE_SECONDS


class Lease:
    """One batch's hold on the shared server: its connection and the batch lock."""

    def __init__(self, sock: socket.socket, lock_fd: int) -> None:
        self.sock = sock
        self.lock_fd = lock_fd
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        self.pid = struct.unpack("3i", creds)[0]

    def run(self, argv: Sequence[str]) -> Tuple[int, List[Union[Result, str]], str]:
        """Send one command; (exit code, result lines, stderr). A server that goes
        away before its terminator line gives exit code -1."""
        self.sock.sendall(json.dumps({"argv": list(argv)}).encode() + b"\n")
        lines: List[Union[Result, str]] = []
        with self.sock.makefile("rb") as stream:
            for raw in stream:
                line = raw.decode("utf-8", errors="replace")
                if line.startswith('{"end": true'):
                    end = json.loads(line)
                    return int(end["exit_code"]), lines, str(end.get("stderr", ""))
                lines.append(parse_early(line))
        return -1, lines, "the shared s3op server ended during the batch"

    def kill(self) -> None:
        """End the server (and its workers) now: SIGTERM, then SIGKILL after a grace."""
        _signal(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        while _alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        _signal(self.pid, signal.SIGKILL)

    def release(self) -> None:
        """Close the connection and let the next batch in."""
        self.sock.close()
        os.close(self.lock_fd)  # drops the flock


class SharedServers:
    """Finds, starts and leases shared servers for this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: Dict[str, subprocess.Popen[bytes]] = {}

    def prewarm(self, env: Dict[str, str]) -> None:
        """Start the shared server for ``env`` now unless one answers: its start-up
        then overlaps whatever the caller does before its first batch."""
        where = _where(env)
        if where is None:
            return
        sock = _connect(where)
        if sock is not None:
            sock.close()
            return
        self._start(env, where)

    def lease(self, env: Dict[str, str]) -> Optional[Lease]:
        """The shared server for one batch, or None (busy, unsafe or not starting)."""
        where = _where(env)
        if where is None:
            return None
        try:
            lock_fd = os.open(where + ".batch", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another process's batch is on it
            os.close(lock_fd)
            return None
        try:
            sock = _connect(where) or self._start_and_connect(env, where)
        except BaseException:
            os.close(lock_fd)
            raise
        if sock is None:
            os.close(lock_fd)
            return None
        return Lease(sock, lock_fd)

    def _start_and_connect(self, env: Dict[str, str], where: str) -> Optional[socket.socket]:
        proc = self._start(env, where)
        deadline = time.monotonic() + SHARED_START_SECONDS
        while time.monotonic() < deadline:
            sock = _connect(where)
            if sock is not None:
                return sock
            if proc is not None and proc.poll() not in (None, 0):
                return None  # it failed to start: a private server will say why
            time.sleep(0.002)
        return None

    def _start(self, env: Dict[str, str], where: str) -> Optional[subprocess.Popen[bytes]]:
        """Start a server for ``where`` unless ours is still starting; a server that
        finds another one holding the path exits at once."""
        with self._lock:
            proc = self._started.get(where)
            if proc is not None and proc.poll() is None:
                return proc
            try:
                log = os.open(where + ".log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            except OSError:
                return None
            try:
                proc = subprocess.Popen(
                    [*s3op_command(), "serve", "--listen", where + ".sock",
                     "--idle-timeout", str(idle_seconds())],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    cwd="/",
                    env=env,
                    start_new_session=True,  # no signal of ours reaches it by accident
                )  # fmt: skip
            except OSError:
                return None
            finally:
                os.close(log)
            self._started[where] = proc
            return proc


def _where(env: Mapping[str, str]) -> Optional[str]:
    """The path prefix of ``env``'s shared server (``.sock``, ``.batch``, ``.log``)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None  # no way to check who is on the other end: no sharing
    directory = runtime_dir()
    if directory is None:
        return None
    where = os.path.join(directory, digest(env))
    return where if len(os.fsencode(where)) + 5 <= MAX_SOCKET_PATH else None


def _connect(where: str) -> Optional[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(where + ".sock")
    except OSError:
        sock.close()
        return None
    return sock


def _aws_files(env: Mapping[str, str]) -> List[str]:
    home = env.get("HOME") or os.path.expanduser("~")
    return [
        env.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config"),
        env.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(home, ".aws", "credentials"),
    ]


def _stamp(path: str) -> Any:
    try:
        st = os.stat(os.path.expanduser(path))
    except OSError:
        return [path, None]
    if not stat.S_ISREG(st.st_mode):
        return [path, "not a file"]  # e.g. /dev/null, whose times mean nothing here
    return [path, st.st_size, st.st_mtime_ns]


def _code_stamp() -> str:
    """Size and mtime of every s3op source file: new code, new server."""
    global _CODE_STAMP
    if _CODE_STAMP is None:
        import s3op

        root = os.path.dirname(os.path.abspath(s3op.__file__))
        stamps = []
        for parent, _dirs, names in os.walk(root):
            for name in sorted(names):
                if name.endswith(".py"):
                    stamps.append(_stamp(os.path.join(parent, name)))
        _CODE_STAMP = json.dumps(sorted(stamps))
    return _CODE_STAMP


def _python() -> str:
    return s3op_command()[0]


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return False  # our own child (we started it), now reaped
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


SHARED = SharedServers()

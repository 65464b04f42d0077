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
  ``/tmp/s3client-UID``), a directory that must be ours with mode 0700.
  The server refuses connections from other users, and the client checks
  that the server is ours (``SO_PEERCRED``). Where that cannot be done (or
  the path is too long for a socket), batches use private servers.
- The socket's name is an HMAC (under a random per-user key kept in that
  directory) of everything that can change what the engine does: the
  environment (credentials, endpoints, proxies, ``PYTHONPATH``...; only
  variables known not to matter, such as ``TMPDIR`` or ``PWD``, are left
  out), this Python and its ``sys.prefix`` (each venv its own), the umask,
  the s3op source files and the AWS config and credentials files (size and
  mtime). Change any of them and the next batch gets a new server; the old
  one idles out. Credentials the server found itself (files, SSO, roles)
  are looked up again every 5 minutes (``s3op.cli.RESOLVE_TTL_SECONDS``).
- One batch at a time: a process holds ``SOCKET.batch`` (flock) for the
  batch. A process that finds it taken, or no server ready within
  ``SHARED_START_SECONDS``, or a server that closes without answering (it
  was exiting on idle), runs that batch on a private server instead, so
  concurrency is never worse than without sharing. A forked child closes
  its copies of its parent's lease.
- Ctrl-C (or any exception) during a batch ends the shared server the same
  way a private one is ended: SIGTERM to its process group (the engine
  removes its temp files and stops its workers), then SIGKILL if it has
  not closed the connection within 5 s.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import hmac
import json
import os
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from s3op.protocol import Result

from .runner import read_answer, s3op_command

#: Seconds the shared server waits for a batch before it exits (``S3CLIENT_SHARED_IDLE``).
SHARED_IDLE_SECONDS = 60.0
SHARED_IDLE_VAR = "S3CLIENT_SHARED_IDLE"
#: How long a batch waits for a starting shared server before using a private one.
SHARED_START_SECONDS = 20.0
#: Longest socket path bind() takes on Linux (sun_path is 108 bytes with its NUL).
MAX_SOCKET_PATH = 107
#: A server's files are removed once it is gone and its batch lock unused this long.
STALE_SECONDS = 86400.0
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


def digest(env: Mapping[str, str], directory: Optional[str] = None) -> str:
    """The name of the shared server for ``env`` (see the module docstring).

    An HMAC under a random key kept in our private ``directory``: the name is
    visible to other users (``/proc/PID/cmdline``) and is computed over secrets.
    """
    kept = sorted((k, v) for k, v in env.items() if k not in IGNORED_VARS)
    files = [_stamp(p) for p in _aws_files(env)]
    where = [_python(), sys.prefix, sys.exec_prefix]  # each venv its own server
    blob = json.dumps([kept, os.getuid(), _umask(), where, _code_stamp(), files])
    key = _secret_key(directory) if directory is not None else b""
    return hmac.new(key, blob.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


@functools.lru_cache(maxsize=8)
def _secret_key(directory: str) -> bytes:
    """The per-user key of ``directory`` (made once, 0600; read once per process)."""
    path = os.path.join(directory, "key")
    try:
        with open(path, "rb") as f:
            key = f.read()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".key-")
    try:
        os.write(fd, os.urandom(32))
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # the first key written wins; racing processes read it
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    with open(path, "rb") as f:
        return f.read()


def _umask() -> int:
    """This process's umask (the server creates downloads with its own)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return -1  # unknown: still one server per (unknown) umask value


def idle_seconds() -> float:
    """``S3CLIENT_SHARED_IDLE`` if it is a positive number, else the default."""
    try:
        value = float(os.environ.get(SHARED_IDLE_VAR, ""))
    except ValueError:
        return SHARED_IDLE_SECONDS
    return value if value >= 1 else SHARED_IDLE_SECONDS


class NoAnswer(OSError):
    """The shared server closed the connection before answering anything (it was
    exiting on idle, or died): the batch can go to a private server instead."""


class Lease:
    """One batch's hold on the shared server: its connection and the batch lock."""

    def __init__(self, sock: socket.socket, lock_fd: int, where: str) -> None:
        self.sock = sock
        self.lock_fd = lock_fd
        self.where = where
        self.pid, self.uid = _peer(sock)
        self.eof = False

    def run(self, argv: Sequence[str]) -> Tuple[int, List[Union[Result, str]], str]:
        """Send one command; (exit code, result lines, stderr). A server that goes
        away before its first line raises NoAnswer; after it, exit code -1."""
        lines: List[Union[Result, str]] = []
        try:
            self.sock.sendall(json.dumps({"argv": list(argv)}).encode() + b"\n")
            with self.sock.makefile("rb") as stream:
                answer = read_answer(stream, lines)
            if answer is not None:
                return answer[0], lines, answer[1]
        except (ConnectionResetError, BrokenPipeError) as exc:
            if not lines:
                raise NoAnswer(str(exc)) from exc
        if not lines:
            raise NoAnswer("closed before answering")
        self.eof = True
        return -1, lines, "the shared s3op server ended during the batch" + _log_tail(self.where)

    def kill(self) -> None:
        """End the server (and its workers) now: SIGTERM, then SIGKILL if it has not
        closed our connection (it does as it exits) within the grace period."""
        _signal(self.pid, signal.SIGTERM)
        if not self._wait_eof(KILL_GRACE_SECONDS):
            _signal(self.pid, signal.SIGKILL)

    def _wait_eof(self, seconds: float) -> bool:
        if self.eof:
            return True
        deadline = time.monotonic() + seconds
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                ready, _, _ = select.select([self.sock], [], [], left)
                if ready and not self.sock.recv(65536):
                    return True
        except OSError:
            return True  # reset: it is gone

    def release(self) -> None:
        """Close the connection and let the next batch in."""
        SHARED.forget(self)
        self.sock.close()
        os.close(self.lock_fd)  # drops the flock


class SharedServers:
    """Finds, starts and leases shared servers for this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: Dict[str, subprocess.Popen[bytes]] = {}
        self._leases: List[Lease] = []

    def prewarm(self, env: Dict[str, str]) -> None:
        """Start the shared server for ``env`` now unless one answers: its start-up
        then overlaps whatever the caller does before its first batch."""
        where = _where(env)
        if where is None:
            return
        sock = _connect(where)
        if sock is not None:
            if sock is not BUSY:
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
            os.utime(lock_fd)  # last used now (see sweep)
        except OSError:  # another process's batch is on it
            os.close(lock_fd)
            return None
        try:
            sock = self._connect_or_start(env, where)
            lease = Lease(sock, lock_fd, where) if sock is not None else None
        except BaseException:
            os.close(lock_fd)
            raise
        if lease is None or lease.uid != os.getuid():
            if lease is not None:
                lease.sock.close()
            os.close(lock_fd)
            return None
        with self._lock:
            self._leases.append(lease)
        return lease

    def forget(self, lease: Lease) -> None:
        with self._lock:
            if lease in self._leases:
                self._leases.remove(lease)

    def after_fork_in_child(self) -> None:
        """A forked child must not keep its parent's lease alive: close its copies."""
        self._lock = threading.Lock()
        self._started = {}
        for lease in self._leases:
            try:
                lease.sock.close()
                os.close(lease.lock_fd)
            except OSError:
                pass
        self._leases = []

    def _connect_or_start(self, env: Dict[str, str], where: str) -> Optional[socket.socket]:
        """Connect, starting the server if none listens; None after SHARED_START_SECONDS,
        or as soon as the server we started has exited without listening."""
        self._reap()
        proc = None
        deadline = time.monotonic() + SHARED_START_SECONDS
        while time.monotonic() < deadline:
            sock = _connect(where)
            if sock is not None and sock is not BUSY:
                return sock
            if sock is None:
                if proc is not None and proc.poll() is not None:
                    return None  # it exited (failed, or lost the path to a server going away)
                if proc is None:
                    proc = self._start(env, where)
                    if proc is None:
                        return None
            time.sleep(0.002)
        return None

    def _reap(self) -> None:
        with self._lock:
            for where, proc in list(self._started.items()):
                if proc.poll() is not None:
                    del self._started[where]

    def _start(self, env: Dict[str, str], where: str) -> Optional[subprocess.Popen[bytes]]:
        """Start a server for ``where`` unless ours is still starting; a server that
        finds another one holding the path exits at once."""
        with self._lock:
            proc = self._started.get(where)
            if proc is not None and proc.poll() is None:
                return proc
            sweep(os.path.dirname(where))
            try:
                log = os.open(where + ".log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
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


def sweep(directory: str, older_than: float = STALE_SECONDS) -> None:
    """Remove the files of servers that are gone and unused for ``older_than`` s (each
    change of credentials or code leaves a set behind). Run when a server starts."""
    now = time.time()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.endswith(".batch"):
            continue
        base = os.path.join(directory, name[: -len(".batch")])
        try:
            if (
                os.path.exists(base + ".sock")
                or now - os.stat(base + ".batch").st_mtime < older_than
            ):
                continue
        except OSError:
            continue
        for suffix in (".batch", ".log", ".sock.lock"):
            try:
                os.unlink(base + suffix)
            except OSError:
                pass


def _where(env: Mapping[str, str]) -> Optional[str]:
    """The path prefix of ``env``'s shared server (``.sock``, ``.batch``, ``.log``)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None  # no way to check who is on the other end: no sharing
    directory = runtime_dir()
    if directory is None:
        return None
    try:
        where = os.path.join(directory, digest(env, directory))
    except OSError:
        return None
    return where if len(os.fsencode(where)) + 5 <= MAX_SOCKET_PATH else None


#: What ``_connect`` returns when the server is there but its backlog is full.
BUSY: Any = object()


def _connect(where: str) -> Any:
    """A connected socket, BUSY (listening, backlog full: never block on it), or None."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.connect(where + ".sock")
    except BlockingIOError:
        sock.close()
        return BUSY
    except OSError:
        sock.close()
        return None
    sock.setblocking(True)
    return sock


def _peer(sock: socket.socket) -> Tuple[int, int]:
    """(pid, uid) of the process on the other end."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    return pid, uid


def _log_tail(where: str) -> str:
    try:
        with open(where + ".log", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 1500))
            tail = f.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f"; its log ends: {tail}" if tail else ""


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


SHARED = SharedServers()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=SHARED.after_fork_in_child)

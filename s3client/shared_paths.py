"""Where a shared server lives (see ``shared``): a private directory and a name.

Its files are ``DIR/NAME`` + ``.sock`` (its socket), ``.sock.lock`` (held by
the server), ``.batch`` (held by the client running a batch on it) and
``.log`` (its stderr). ``DIR`` is ``$XDG_RUNTIME_DIR/s3client-UID`` (else
``/tmp/s3client-UID``), ours with mode 0700 (``s3op.ipc.make_private_dir``).
``NAME`` is a keyed hash of everything that can change what the engine does:
the environment (credentials, endpoints, proxies, ``PYTHONPATH``...; all
but ``IGNORED_VARS``), this Python and its ``sys.prefix`` (each venv its
own), the umask, the s3op source files, the AWS config and credentials
files (size and mtime). Change any and the next batch gets a new server;
the old one idles out. Keyed, under a random key kept in ``DIR``, not a
plain hash: the name is visible to other users and is computed over secrets.
The hash is BLAKE2b in its keyed mode (a MAC, as HMAC-SHA256 was), 16 bytes,
from the ``_blake2`` module that ``hashlib`` itself wraps: ``hashlib`` would
load OpenSSL (``_hashlib``) into every ``import s3client``, and ``hmac``
with it. Names made by HMAC-SHA256 before are simply other names: their
servers idle out and ``sweep`` removes their files.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import stat
import sys
import tempfile
import time
from typing import List, Mapping, Optional, Tuple, Union

from s3op import ipc

from .engine_process import s3op_command

try:
    from _blake2 import blake2b
except ImportError:  # an interpreter without CPython's module: the same function, via hashlib
    from hashlib import blake2b

#: Bytes of the keyed digest naming a server (32 hex digits); BLAKE2b keys are <= 64 bytes.
DIGEST_BYTES = 16
MAX_KEY_BYTES = 64
#: Longest socket path bind() takes on Linux (sun_path is 108 bytes with its NUL).
MAX_SOCKET_PATH = 107
#: A server's files are removed once it is gone and its batch lock unused this long.
STALE_SECONDS = 86400.0
#: Variables that cannot change what the engine does: not part of the digest.
IGNORED_VARS = frozenset(
    {
        "TMPDIR", "TEMP", "TMP", "PWD", "OLDPWD", "SHLVL", "_", "TERM", "COLORTERM",
        "COLUMNS", "LINES", "PS1", "PS2", "DISPLAY", "LS_COLORS", "HISTFILE", "HISTSIZE",
        "PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER", "MAKEFLAGS", "MAKELEVEL", "MFLAGS",
        "SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY", "WINDOWID", "INVOCATION_ID",
    }
)  # fmt: skip


def runtime_dir() -> Optional[str]:
    """Our private directory for shared-server sockets, or None if it is not safe."""
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    path = os.path.join(base, f"s3client-{os.getuid()}")
    try:
        ipc.make_private_dir(path)
    except OSError:  # UnsafeDirectory included
        return None
    return path


def server_prefix(env: Mapping[str, str]) -> Optional[str]:
    """The path prefix of ``env``'s shared server, or None where sharing is unsafe
    (no peer check, no private directory) or the socket path would be too long."""
    if not ipc.can_check_peers():
        return None
    directory = runtime_dir()
    if directory is None:
        return None
    try:
        prefix = os.path.join(directory, digest(env, directory))
    except OSError:
        return None
    return prefix if len(os.fsencode(prefix)) + len(".sock") <= MAX_SOCKET_PATH else None


def digest(env: Mapping[str, str], directory: Optional[str] = None) -> str:
    """The name of the shared server for ``env`` (see the module docstring)."""
    kept = sorted((k, v) for k, v in env.items() if k not in IGNORED_VARS)
    files = [stamp(p) for p in _aws_files(env)]
    where = [s3op_command()[0], sys.prefix, sys.exec_prefix]  # each venv its own server
    blob = json.dumps([kept, os.getuid(), ipc.current_umask(), where, _code_stamp(), files])
    key = _secret_key(directory)[:MAX_KEY_BYTES] if directory is not None else b""
    data = blob.encode("utf-8", "surrogatepass")
    return blake2b(data, digest_size=DIGEST_BYTES, key=key).hexdigest()


@functools.lru_cache(maxsize=8)
def _secret_key(directory: str) -> bytes:
    """The per-user key of ``directory`` (made once, 0600; read once per process)."""
    path = os.path.join(directory, "key")
    with contextlib.suppress(FileNotFoundError), open(path, "rb") as f:
        key = f.read()
        if len(key) >= 32:
            return key
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".key-")
    try:
        with os.fdopen(fd, "wb") as new:
            new.write(os.urandom(32))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # the first key written wins; racing processes read it
    finally:
        os.unlink(tmp)
    with open(path, "rb") as f:
        return f.read()


def sweep(directory: str, older_than: float = STALE_SECONDS) -> None:
    """Remove the files of servers that are gone and unused for ``older_than`` s (each
    change of credentials or code leaves a set behind). Run when a server starts."""
    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            prefix = os.path.join(directory, name[: -len(".batch")])
            if name.endswith(".batch") and _stale(prefix, older_than):
                for suffix in (".batch", ".log", ".sock.lock"):
                    with contextlib.suppress(OSError):
                        os.unlink(prefix + suffix)


def _stale(prefix: str, older_than: float) -> bool:
    try:
        age = time.time() - os.stat(prefix + ".batch").st_mtime
    except OSError:
        return False
    return age >= older_than and not os.path.exists(prefix + ".sock")


def _aws_files(env: Mapping[str, str]) -> List[str]:
    home = env.get("HOME") or os.path.expanduser("~")
    return [
        env.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config"),
        env.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(home, ".aws", "credentials"),
    ]


def stamp(path: str) -> Tuple[Union[str, int, None], ...]:
    """``path`` with its size and mtime: a changed file, a changed digest."""
    try:
        st = os.stat(os.path.expanduser(path))
    except OSError:
        return (path, None)
    if not stat.S_ISREG(st.st_mode):
        return (path, "not a file")  # e.g. /dev/null, whose times mean nothing here
    return (path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=1)
def _code_stamp() -> str:
    """Size and mtime of every s3op source file (once per process): new code, new server."""
    stamps = []
    for parent, _dirs, names in os.walk(os.path.dirname(os.path.abspath(ipc.__file__))):
        for name in sorted(names):
            if name.endswith(".py"):
                stamps.append(stamp(os.path.join(parent, name)))
    return json.dumps(sorted(stamps))


__all__ = ["IGNORED_VARS", "digest", "runtime_dir", "server_prefix", "stamp", "sweep"]

"""The shared engine (``S3CLIENT_ENGINE=shared``, the default), on moto.

Each test gets a runtime directory of its own (``XDG_RUNTIME_DIR``), so the
servers it sees are the ones it caused; they are killed at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from s3client import S3, shared_paths
from s3client import shared as shared_mod
from s3client.engine_process import child_env
from s3client.server import REGISTRY
from tests.backends import Backend
from tests.conftest import shared_servers
from tests.interop_helpers import run_python
from tests.unit.test_lazy_imports import LAZY_MODULES

CLIENT = """
import os, sys
from s3client import S3
with S3(s3root=sys.argv[1]) as s3:
    s3.put("k-%d" % os.getpid(), b"from %d" % os.getpid())
    got = s3.get_many(["seed", "k-%d" % os.getpid()])
    print(got[0].blob.decode(), got[1].blob.decode())
"""

#: Appended to CLIENT: how many shared-engine sockets exist once its batches are done.
SOCKETS_NOW = """
import glob
print("sockets", len(glob.glob(os.path.join(
    os.environ["XDG_RUNTIME_DIR"], "s3client-%d" % os.getuid(), "*.sock"))))
"""


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="s3c-rt-", dir="/tmp"))  # short socket paths
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(directory))
    monkeypatch.setenv("S3CLIENT_ENGINE", "shared")
    monkeypatch.delenv("S3CLIENT_SHARED_IDLE", raising=False)
    yield directory
    for pid in shared_servers(str(directory)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(directory, ignore_errors=True)


def _sockets(runtime: Path) -> List[Path]:
    return sorted((runtime / f"s3client-{os.getuid()}").glob("*.sock"))


def _server_pid(sock_path: Path) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(sock_path))
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[0])


def _wait(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(predicate())  # type: ignore[operator]


def test_processes_share_one_warm_server(s3backend: Backend, runtime: Path) -> None:
    """Three programs in a row: one server does all their batches, each sees its data,
    and the programs exit at once (the server holds none of their pipes)."""
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="sh/seed", Body=b"seed")
    outs, pids = [], []
    for _ in range(3):
        t0 = time.monotonic()
        done = run_python(CLIENT, [s3backend.root("sh")], timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        assert time.monotonic() - t0 < 30
        outs.append(done.stdout.strip().split(" ", 1))
        (sock,) = _sockets(runtime)
        pids.append(_server_pid(sock))
    assert [o[0] for o in outs] == ["seed"] * 3
    assert all(o[1].startswith("from ") for o in outs) and len({o[1] for o in outs}) == 3
    assert len(set(pids)) == 1
    assert shared_servers(str(runtime)) == pids[:1]
    stored = s3backend.client().list_objects_v2(Bucket=s3backend.bucket, Prefix="sh/k-")
    assert stored["KeyCount"] == 3


#: A program's batches on a running shared engine: which heavy modules it loaded.
LEAN_CLIENT = """
import sys
from s3client import S3
with S3(s3root=sys.argv[1]) as s3:
    got = s3.get_many(["seed"])[0].blob.decode()
    found = s3.list_recursive([""])
    described = s3.info_many(["seed"])[0].size
print(got, len(found), described)
print([m for m in sys.argv[2].split(",") if m in sys.modules])
"""
#: What a batch on a running shared engine never needs in the client; and what a get,
#: a listing or a HEAD never needs (imported on first use: tests/unit/test_lazy_imports.py).
NOT_IN_CLIENT = (
    "boto3", "botocore", "metaflow", "click", "subprocess", "_hashlib", "hmac",
    *LAZY_MODULES,
)  # fmt: skip


def test_a_batch_on_a_running_server_imports_no_engine_modules(
    s3backend: Backend, runtime: Path
) -> None:
    """Once the shared server runs, a program's get, list and info start no process and
    compute its name without OpenSSL: no subprocess, hashlib or hmac, no botocore; nor
    do they load sync, uploads, the requests that write, progress or the bandwidth cap."""
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="lean/seed", Body=b"seed")
    assert run_python(CLIENT, [s3backend.root("lean")], timeout=60).returncode == 0  # starts it
    (sock,) = _sockets(runtime)
    done = run_python(LEAN_CLIENT, [s3backend.root("lean"), ",".join(NOT_IN_CLIENT)], timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["seed 2 4", "[]"]
    assert _sockets(runtime) == [sock]  # the same server answered: nothing was started


def test_a_different_configuration_gets_its_own_server(
    s3backend: Backend, runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Credentials are part of the server's name; TMPDIR is not."""
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="sh/seed", Body=b"seed")
    assert run_python(CLIENT, [s3backend.root("sh")]).returncode == 0
    monkeypatch.setenv("TMPDIR", str(runtime))
    assert run_python(CLIENT, [s3backend.root("sh")]).returncode == 0
    assert len(_sockets(runtime)) == 1
    monkeypatch.setenv("AWS_SESSION_TOKEN", "another-session")  # moto ignores it
    assert run_python(CLIENT, [s3backend.root("sh")]).returncode == 0
    assert len(_sockets(runtime)) == 2
    assert len(shared_servers(str(runtime))) == 2


def test_digest_follows_credentials_files(tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = a\n")
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "TMPDIR": "/x"}
    first = shared_paths.digest(env)
    assert shared_paths.digest(dict(env, TMPDIR="/y", PWD="/z")) == first
    creds.write_text("[default]\naws_access_key_id = bb\n")
    assert shared_paths.digest(env) != first
    proxied = dict(env, HTTPS_PROXY="http://proxy:3128")
    assert shared_paths.digest(proxied) != shared_paths.digest(env)


def test_a_busy_server_sends_the_batch_to_a_private_one(s3backend: Backend, runtime: Path) -> None:
    """While another process holds the batch lock, a batch runs on a private server."""
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="sh/seed", Body=b"seed")
    with S3(s3root=s3backend.root("sh")) as s3:
        assert _wait(lambda: len(_sockets(runtime)) == 1, 30)  # S3() started it
        (sock,) = _sockets(runtime)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(sock).removesuffix(".sock") + ".batch"],
            stdout=subprocess.PIPE,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
            before = REGISTRY.idle_count()
            assert s3.get("seed").blob == b"seed"
            assert REGISTRY.idle_count() == before + 1  # a private one
        finally:
            holder.kill()
            holder.wait()
            REGISTRY.close_all()
        assert s3.get("seed").blob == b"seed"  # the shared one again
        assert REGISTRY.idle_count() == 0
    assert len(shared_servers(str(runtime))) == 1


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""


def test_an_idle_server_exits_and_removes_its_socket(
    s3backend: Backend, runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3CLIENT_SHARED_IDLE", "1")
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="sh/seed", Body=b"seed")
    # The client lists the sockets itself, right after its batch: the server has
    # just answered, so it is there; checked after the client exits, a loaded
    # machine could take longer than the 1 s idle to get there.
    done = run_python(CLIENT + SOCKETS_NOW, [s3backend.root("sh")])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "sockets 1"
    assert _wait(lambda: not shared_servers(str(runtime)), 15)
    assert _sockets(runtime) == []


def test_a_stale_socket_is_replaced(s3backend: Backend, runtime: Path) -> None:
    """A socket left by a server that died (nobody listening) does not stop batches."""
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="sh/seed", Body=b"seed")
    assert run_python(CLIENT, [s3backend.root("sh")]).returncode == 0
    (sock,) = _sockets(runtime)
    for pid in shared_servers(str(runtime)):
        os.kill(pid, signal.SIGKILL)
    assert _wait(lambda: not shared_servers(str(runtime)), 10)
    assert sock.exists()  # SIGKILL: the server could not remove it
    done = run_python(CLIENT, [s3backend.root("sh")])
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(shared_servers(str(runtime))) == 1


def test_an_unsafe_runtime_dir_disables_sharing(s3backend: Backend, runtime: Path) -> None:
    """A socket directory others can write to is never used: batches go to private
    servers, and ``s3op serve --listen`` itself refuses such a directory."""
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="sh/seed", Body=b"seed")
    ours = runtime / f"s3client-{os.getuid()}"
    ours.mkdir(mode=0o700)
    os.chmod(ours, 0o777)
    done = run_python(CLIENT, [s3backend.root("sh")])
    assert done.returncode == 0, done.stderr[-2000:]
    assert shared_servers(str(runtime)) == [] and list(ours.iterdir()) == []
    serve = subprocess.run(
        [sys.executable, "-m", "s3op", "serve", "--listen", str(ours / "x.sock")],
        env=child_env({}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert serve.returncode != 0 and "mode 0700" in serve.stderr
    assert list(ours.iterdir()) == []


def test_a_second_server_for_the_same_socket_exits_at_once(
    s3backend: Backend, runtime: Path
) -> None:
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="sh/seed", Body=b"seed")
    assert run_python(CLIENT, [s3backend.root("sh")]).returncode == 0
    (sock,) = _sockets(runtime)
    first = _server_pid(sock)
    second = subprocess.run(
        [sys.executable, "-m", "s3op", "serve", "--listen", str(sock)],
        env=child_env({}),
        capture_output=True,
        timeout=60,
    )
    assert second.returncode == 0
    assert _server_pid(sock) == first


def _closing_server(path: Path) -> threading.Thread:
    """A stand-in for a shared server that is going away: it accepts connections and
    closes them unanswered (what a server exiting on idle does to a late client)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(4)
    listener.settimeout(30)

    def run() -> None:
        with listener:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_server_closing_unanswered_sends_the_batch_to_a_private_one(
    s3backend: Backend, runtime: Path
) -> None:
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="sh/seed", Body=b"seed")
    with S3(s3root=s3backend.root("sh")) as s3:
        assert _wait(lambda: len(_sockets(runtime)) == 1, 30)
        (sock,) = _sockets(runtime)
        for pid in shared_servers(str(runtime)):
            os.kill(pid, signal.SIGKILL)
        assert _wait(lambda: not shared_servers(str(runtime)), 10)
        sock.unlink()
        closer = _closing_server(sock)
        before = REGISTRY.idle_count()
        try:
            assert s3.get("seed").blob == b"seed"
            closer.join(10)
            assert not closer.is_alive()  # the batch did reach it first
            assert REGISTRY.idle_count() == before + 1
        finally:
            REGISTRY.close_all()


def test_a_forked_child_does_not_hold_the_parents_lease(s3backend: Backend, runtime: Path) -> None:
    """fork() while a batch holds the shared server: once the parent lets go, the
    server is free again even though the child still runs."""
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="sh/seed", Body=b"seed")
    env = child_env({})
    lease = shared_mod.SHARED.lease(env)
    assert lease is not None
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child (fork hooks have run by now): say so, then live a while
        os.write(ready_w, b"x")
        time.sleep(20)
        os._exit(0)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"x"
        lease.release()
        again = shared_mod.SHARED.lease(env)
        assert again is not None, "the child kept the batch lock"
        assert again.run(["info", "--help"]).exit_code == 0  # and the server answers
        again.release()
    finally:
        os.close(ready_r)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_digest_follows_the_umask() -> None:
    """The server creates downloads with its own umask: one server per umask."""
    env = {"AWS_ACCESS_KEY_ID": "a"}
    old = os.umask(0o022)
    try:
        first = shared_paths.digest(env)
        os.umask(0o077)
        assert shared_paths.digest(env) != first
    finally:
        os.umask(old)


def test_sweep_removes_only_stale_sets_of_files(tmp_path: Path) -> None:
    def make(name: str, sock: bool, age: float) -> None:
        for suffix in (".batch", ".log", ".sock.lock"):
            (tmp_path / (name + suffix)).write_text("")
            os.utime(tmp_path / (name + suffix), (time.time() - age, time.time() - age))
        if sock:
            (tmp_path / (name + ".sock")).write_text("")

    make("old", sock=False, age=3 * 86400)
    make("recent", sock=False, age=60)
    make("running", sock=True, age=3 * 86400)
    shared_paths.sweep(str(tmp_path))
    left = sorted(p.name for p in tmp_path.iterdir())
    assert not any(n.startswith("old.") for n in left)
    assert len([n for n in left if n.startswith("recent.")]) == 3
    assert len([n for n in left if n.startswith("running.")]) == 4

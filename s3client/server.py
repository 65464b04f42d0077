"""A persistent engine: batches go to a long-lived ``s3op serve`` process.

Starting ``python -m s3op`` costs ~0.3-0.4 s here (interpreter, ``import
boto3``, a client); a notebook or service that calls ``get_many`` on ten
keys should not pay that every call. ``PersistentEngine`` keeps idle
``s3op serve`` processes (see ``s3op/serve.py``) and sends each batch to
one: the manifest is written the same way, the result lines are the same,
and a terminator line carries the exit code. Big batches still fork
their own worker processes inside the server, so the subprocess shape of
real batches is kept.

Servers are keyed by their environment (secrets, endpoints, ``PYTHONPATH``)
so a change of credentials gets a new server; a server is used by one
batch at a time (concurrent batches from threads start more servers); a
server idle for ``REUSE_SECONDS`` is retired before its own idle timeout
can race us; a process that forked gets its own servers. Ctrl-C during a
batch kills that server's process group (workers included) and re-raises.
``S3CLIENT_ENGINE=subprocess`` selects one process per batch instead.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import tempfile
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from s3op.protocol import Request, Result

from .errors import S3EngineError
from .runner import (
    announce_kept_manifest,
    check_outcome,
    child_env,
    read_answer,
    remove_file,
    s3op_command,
    stop_process_group,
    write_manifest,
)
from .shared import SHARED, NoAnswer

#: Seconds a server may idle before it exits by itself (passed to ``s3op serve``).
SERVER_IDLE_SECONDS = 300.0
#: Idle servers older than this are retired instead of reused (no race with the above).
REUSE_SECONDS = 240.0


class Server:
    """One ``s3op serve`` process and its pipes."""

    def __init__(self, env: Dict[str, str]) -> None:
        self.owner_pid = os.getpid()
        self.stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(
                [*s3op_command(), "serve", "--idle-timeout", str(SERVER_IDLE_SECONDS)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                cwd=tempfile.gettempdir(),
                env=env,
                start_new_session=True,  # Ctrl-C reaches the caller, which decides
            )
        except OSError as exc:
            self.stderr.close()
            raise S3EngineError(f"cannot start s3op serve: {exc}") from exc
        self.idle_since = time.monotonic()

    def usable(self) -> bool:
        """Alive, ours (not inherited through a fork) and not about to time out."""
        return (
            self.owner_pid == os.getpid()
            and self.proc.poll() is None
            and time.monotonic() - self.idle_since < REUSE_SECONDS
        )

    def run(self, argv: Sequence[str]) -> Tuple[int, Sequence[Union[Result, str]], str]:
        """Send one command; return (exit code, result lines, stderr)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"argv": list(argv)}).encode() + b"\n")
        self.proc.stdin.flush()
        lines: List[Union[Result, str]] = []
        answer = read_answer(self.proc.stdout, lines)
        if answer is not None:
            self.idle_since = time.monotonic()
            return answer[0], lines, answer[1]
        code = self.proc.wait()
        return code if code != 0 else -1, lines, self._stderr_tail()

    def _stderr_tail(self) -> str:
        self.stderr.seek(0, os.SEEK_END)
        self.stderr.seek(max(0, self.stderr.tell() - 2000))
        return self.stderr.read().decode("utf-8", errors="replace")

    def stop(self, kill: bool = False) -> None:
        """End the server: politely (EOF on stdin) or by killing its group."""
        if kill or self.owner_pid != os.getpid():
            if self.owner_pid == os.getpid():
                _close_quietly(self.proc.stdin)  # EOF: an idle or interrupted server exits
                stop_process_group(self.proc)
        else:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                stop_process_group(self.proc)
        self.stderr.close()


class ServerRegistry:
    """Idle servers of this process, by environment."""

    def __init__(self) -> None:
        self._idle: Dict[str, List[Server]] = {}
        self._lock = threading.Lock()

    def take(self, env: Dict[str, str]) -> Server:
        """An idle usable server for ``env``, or a new one."""
        key = _env_key(env)
        with self._lock:
            pool = self._idle.setdefault(key, [])
            while pool:
                server = pool.pop()
                if server.usable():
                    return server
                _retire(server)
        return Server(env)

    def prewarm(self, env: Dict[str, str]) -> None:
        """Start a server for ``env`` now if none is idle, so the first batch finds
        it ready: its start-up overlaps whatever the caller does before then."""
        key = _env_key(env)
        with self._lock:
            if any(s.usable() for s in self._idle.get(key, [])):
                return
        try:
            server = Server(env)
        except S3EngineError:
            return  # the first batch will report it
        self.give_back(env, server)

    def give_back(self, env: Dict[str, str], server: Server) -> None:
        """Return a server that finished its batch cleanly."""
        with self._lock:
            self._idle.setdefault(_env_key(env), []).append(server)

    def close_all(self) -> None:
        """Stop every idle server (at interpreter exit)."""
        with self._lock:
            servers = [s for pool in self._idle.values() for s in pool]
            self._idle.clear()
        for server in servers:
            _retire(server)


def _close_quietly(stream: Any) -> None:
    try:
        if stream is not None:
            stream.close()
    except OSError:
        pass


def _retire(server: Server) -> None:
    if server.owner_pid == os.getpid():
        server.stop()


def _env_key(env: Mapping[str, str]) -> str:
    return json.dumps(sorted(env.items()))


REGISTRY = ServerRegistry()
atexit.register(REGISTRY.close_all)


class PersistentEngine:
    """The ``Engine`` interface (see ``runner.Engine``) on reused servers."""

    def __init__(
        self,
        workdir: str,
        env_extra: Optional[Mapping[str, str]] = None,
        keep_files: bool = False,
        shared: bool = False,
    ) -> None:
        self.workdir = workdir
        self.env = child_env(dict(env_extra or {}))
        self.keep_files = keep_files
        self.shared = shared
        if shared:
            SHARED.prewarm(self.env)
        else:
            REGISTRY.prewarm(self.env)

    def run(self, op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
        """Run one batch on a server; results sorted by request index."""
        manifest = write_manifest(requests, self.workdir)
        try:
            code, lines, stderr = self._on_server([op, "--inputs", manifest, *flags])
        finally:
            if self.keep_files:
                announce_kept_manifest(op, manifest)
            else:
                remove_file(manifest)
        results = check_outcome(op, flags, requests, code, lines, stderr)
        return sorted(results, key=lambda r: r.idx)

    def _on_server(self, argv: List[str]) -> Tuple[int, Sequence[Union[Result, str]], str]:
        lease = SHARED.lease(self.env) if self.shared else None
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
        server = REGISTRY.take(self.env)
        try:
            code, lines, stderr = server.run(argv)
        except BrokenPipeError:
            server.stop(kill=True)  # it died between batches: nothing ran, start afresh
            server = Server(self.env)
            code, lines, stderr = self._guarded(server, argv)
        except BaseException:  # Ctrl-C or anything else: never leave a batch running
            server.stop(kill=True)
            raise
        self._settle(server, code)
        return code, lines, stderr

    def _guarded(
        self, server: Server, argv: List[str]
    ) -> Tuple[int, Sequence[Union[Result, str]], str]:
        try:
            return server.run(argv)
        except BaseException:
            server.stop(kill=True)
            raise

    def _settle(self, server: Server, code: int) -> None:
        if code >= 0 and server.proc.poll() is None:
            REGISTRY.give_back(self.env, server)
        else:
            server.stop(kill=True)



"""The private policy: reused ``s3op serve`` processes of this process only.

(``S3CLIENT_ENGINE=private`` or ``persistent``; also where the shared policy
sends a batch it cannot place.) ``python -m s3op`` costs ~0.3 s to start,
so idle servers are kept, on pipes, keyed by their environment (new
credentials, new server), one batch at a time each; one idle for
``REUSE_SECONDS`` is retired before its own idle timeout can race us; a
forked child never uses its parent's. Ctrl-C during a batch kills the
server's process group, workers included, and re-raises.

Retry layer -- restarting a server: one that died between batches (killed,
out of memory) fails the write of the next command with BrokenPipeError.
The command reached no reader, so no part of the batch ran: it is sent once
more, to a fresh server. Any other failure (a server dying mid-batch, a
broken pipe on the fresh one) is reported, never repeated.
"""

from __future__ import annotations

import atexit
import json
import tempfile
import threading
import time
from typing import Dict, List, Mapping, Sequence

from .engine_process import Answer, EngineProcess, s3op_command
from .errors import S3EngineError

#: Seconds a server may idle before it exits by itself (passed to ``s3op serve``).
SERVER_IDLE_SECONDS = 300.0
#: Idle servers older than this are retired instead of reused (no race with the above).
REUSE_SECONDS = 240.0


class PrivateServer:
    """One ``s3op serve`` on our pipes."""

    def __init__(self, env: Mapping[str, str]) -> None:
        argv = [*s3op_command(), "serve", "--idle-timeout", str(SERVER_IDLE_SECONDS)]
        self.process = EngineProcess(argv, env, tempfile.gettempdir(), pipe_stdin=True)
        self.idle_since = time.monotonic()

    def usable(self) -> bool:
        """Alive, ours (not inherited through a fork) and not about to time out."""
        fresh = time.monotonic() - self.idle_since < REUSE_SECONDS
        return self.process.ours() and self.process.running() and fresh

    def run(self, argv: Sequence[str]) -> Answer:
        """Send one command and read its answer (BrokenPipeError: it was already gone)."""
        answer = self.process.answer(argv)
        self.idle_since = time.monotonic()
        return answer

    def stop(self, kill: bool = False) -> None:
        """End it: politely (EOF) or by killing its group; not if a fork gave it us."""
        if not self.process.ours():
            self.process.release()
        elif kill:
            self.process.stop()
        else:
            self.process.close()


class ServerRegistry:
    """Idle servers of this process, by environment."""

    def __init__(self) -> None:
        self._idle: Dict[str, List[PrivateServer]] = {}
        self._lock = threading.Lock()

    def take(self, env: Mapping[str, str]) -> PrivateServer:
        """An idle usable server for ``env``, or a new one."""
        with self._lock:
            pool = self._idle.setdefault(_env_key(env), [])
            while pool:
                server = pool.pop()
                if server.usable():
                    return server
                server.stop()
        return PrivateServer(env)

    def prewarm(self, env: Mapping[str, str]) -> None:
        """Start a server for ``env`` now if none is idle, so the first batch finds
        it ready: its start-up overlaps whatever the caller does before then."""
        with self._lock:
            if any(s.usable() for s in self._idle.get(_env_key(env), [])):
                return
        try:
            self.give_back(env, PrivateServer(env))
        except S3EngineError:
            pass  # the first batch will report it

    def give_back(self, env: Mapping[str, str], server: PrivateServer) -> None:
        """Return a server that finished its batch cleanly."""
        with self._lock:
            self._idle.setdefault(_env_key(env), []).append(server)

    def idle_count(self) -> int:
        """How many servers are idle, for every environment."""
        with self._lock:
            return sum(len(pool) for pool in self._idle.values())

    def close_all(self) -> None:
        """Stop every idle server (at interpreter exit)."""
        with self._lock:
            servers = [s for pool in self._idle.values() for s in pool]
            self._idle.clear()
        for server in servers:
            server.stop()


def _env_key(env: Mapping[str, str]) -> str:
    return json.dumps(sorted(env.items()))


REGISTRY = ServerRegistry()
atexit.register(REGISTRY.close_all)


class Private:
    """The ``runner.Policy`` running each batch on an idle server of ``REGISTRY``."""

    def __init__(self, env: Mapping[str, str], prewarm: bool = True) -> None:
        self.env = dict(env)
        if prewarm:
            REGISTRY.prewarm(self.env)

    def run(self, argv: Sequence[str]) -> Answer:
        """Run one batch on a server; one found dead is restarted (see above)."""
        server = REGISTRY.take(self.env)
        try:
            try:
                answer = server.run(argv)
            except BrokenPipeError:  # it died between batches: nothing ran, start afresh
                server.stop(kill=True)
                server = PrivateServer(self.env)
                answer = server.run(argv)
        except BaseException:  # Ctrl-C or anything else: never leave a batch running
            server.stop(kill=True)
            raise
        if answer.exit_code >= 0 and server.process.running():
            REGISTRY.give_back(self.env, server)
        else:
            server.stop(kill=True)
        return answer


__all__ = ["Private", "PrivateServer", "REGISTRY", "ServerRegistry"]

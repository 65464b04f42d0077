#!/usr/bin/env python3
"""The benchmark's network model: a TCP proxy that adds latency and caps bandwidth.

Real S3 is far away: every request waits a round trip, and one connection
carries a limited bandwidth. On loopback neither holds, so the tools are
CPU-bound; through this proxy they meet the network as they would in a data
centre. It needs no privileges (``tc netem`` does): it is a plain asyncio
proxy on 127.0.0.1 that forwards every connection to the S3 server.

The model (:class:`NetModel`), per TCP connection:

- **Latency.** Each request reaches the server ``delay`` seconds late, so the
  first byte of each response comes ``delay`` later than on loopback (the
  whole round trip is put on the request's way). A request is told apart from
  the rest of the stream by turns, not by parsing HTTP: bytes from the client
  that come after the server has sent something (or are the first on the
  connection) start a new request, and only the first chunk of a turn waits.
  HTTP/1.1 clients wait for a response before they send the next request on a
  connection, so each request pays once, and its body follows its head without
  another wait. An ``Expect: 100-continue`` body pays again (after the
  server's ``100 Continue``), as it would on a network.
- **Connection set-up.** With ``handshake`` (the default), a new connection
  also waits ``delay`` before the proxy connects to the server: TCP's
  handshake is a round trip too (no TLS is modelled). A request on a new
  connection therefore takes two delays, one on a reused connection one.
- **Bandwidth.** Each direction of each connection is paced by a token
  bucket of ``rate`` bytes/s (``MB/s`` here is 10**6 bytes/s) that holds at
  most one read chunk (``CHUNK`` bytes): a short response leaves at once, a
  long one at ``rate``. Tools that open more connections get more bandwidth,
  as on a real network, where per-connection throughput is what is limited.

Cost: the proxy is one asyncio process (protocols rather than streams, which
copy each chunk twice more), about 0.5 CPU-seconds per GB forwarded here; it tops
out near 1 GB/s over many connections on this 2-CPU machine. Its CPU is
charged to no tool, but it competes with them for the machine's CPUs.

Run as a script (the benchmark does, so that the proxy has a CPU budget and an
interpreter lock of its own)::

    python scripts/bench/netmodel.py --upstream 127.0.0.1:8333 --delay-ms 20 --mbps 100

it prints ``LISTENING http://127.0.0.1:PORT`` and serves until killed or until
its stdin is closed. :class:`ProxyProcess` does that from Python.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Deque, Optional, Sequence, Set, Tuple

CHUNK = 256 * 1024  # bytes read at once from either side (also the token bucket's depth)
MB = 1_000_000  # the model's bandwidth unit: --mbps is megabytes (10**6 bytes) per second
READY_PREFIX = "LISTENING "  # the line the proxy script prints when it accepts connections


@dataclass(frozen=True)
class NetModel:
    """What the proxy adds to every connection (see the module docstring)."""

    delay: float  # seconds added before each request reaches the server
    rate: float  # bytes per second, per connection and per direction
    handshake: bool = True  # a new connection waits one more delay (TCP's handshake)

    def describe(self) -> str:
        """One line for reports: ``20 ms per request, 100 MB/s per connection``."""
        extra = " (+1 delay per new connection)" if self.handshake else ""
        return (
            f"{self.delay * 1000:g} ms per request{extra}, "
            f"{self.rate / MB:g} MB/s per connection and direction"
        )


class TokenBucket:
    """Paces one direction of one connection at ``rate`` bytes/s.

    The bucket holds up to ``depth`` bytes of credit; a chunk larger than the
    credit puts the bucket in debt and its sender sleeps until the debt is paid.
    """

    def __init__(self, rate: float, depth: int = CHUNK) -> None:
        self.rate = rate
        self.depth = depth
        self._credit = float(depth)
        self._stamp = time.monotonic()

    def wait_for(self, nbytes: int) -> float:
        """Take ``nbytes`` of credit now; seconds to wait before sending them."""
        now = time.monotonic()
        self._credit = min(self.depth, self._credit + (now - self._stamp) * self.rate)
        self._stamp = now
        self._credit -= nbytes
        return max(0.0, -self._credit / self.rate)

    async def take(self, nbytes: int) -> None:
        """Wait until ``nbytes`` may be sent."""
        pause = self.wait_for(nbytes)
        if pause > 0:
            await asyncio.sleep(pause)


class _Turns:
    """Whose turn it is on one connection: the client's next bytes start a request?"""

    def __init__(self) -> None:
        self.new_request = True


class _Side(asyncio.Protocol):
    """One socket of a proxied connection; what it receives goes to ``peer``, paced.

    Received chunks wait in ``queue`` until they are due (the request delay, then
    the token bucket); reading pauses while more than one chunk waits or while the
    peer's socket cannot take more, so a fast sender is held back by TCP, as by a
    slow network. An EOF is passed on (half-close) once the queue is empty.
    """

    def __init__(self, model: NetModel, turns: _Turns, client: bool) -> None:
        self.model = model
        self.turns = turns
        self.client = client  # this is the client's socket: its bytes go upstream
        self.bucket = TokenBucket(model.rate)
        self.peer: Optional[_Side] = None
        self.transport: Optional[asyncio.Transport] = None
        self.queue: Deque[bytes] = collections.deque()
        self.queued = 0  # bytes in queue
        self.due: Optional[float] = None  # when the head of the queue may go
        self.timer: Optional[asyncio.TimerHandle] = None
        self.blocked = False  # the peer's socket is full
        self.eof = False  # this side sent EOF (passed on once the queue is empty)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.peer is None:
            transport.pause_reading()  # until the upstream connection is made

    def data_received(self, data: bytes) -> None:
        self.queue.append(data)
        self.queued += len(data)
        if self.timer is None:
            self._flush()

    def eof_received(self) -> bool:
        self.eof = True
        if self.timer is None:
            self._flush()
        return True  # keep the other direction open

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.peer is not None and self.peer.transport is not None:
            if exc is None:
                self.peer.transport.close()  # sends what is buffered first
            else:
                self.peer.transport.abort()

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.blocked = True
            self.peer.update_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.blocked = False
            self.peer.update_reading()

    def update_reading(self) -> None:
        """Read while the peer can take more and at most one chunk waits."""
        if self.transport is None or self.transport.is_closing() or self.peer is None:
            return
        if self.blocked or self.queued > CHUNK:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def _hold(self, nbytes: int) -> float:
        """Seconds before the next ``nbytes`` may go: request delay, then bandwidth."""
        delay = 0.0
        if self.client and self.turns.new_request:
            self.turns.new_request = False
            delay = self.model.delay
        return delay + self.bucket.wait_for(nbytes)

    def _flush(self) -> None:
        """Send what is due; come back when the next chunk is."""
        self.timer = None
        loop = asyncio.get_running_loop()
        peer = self.peer.transport if self.peer is not None else None
        if peer is not None and peer.is_closing():
            self.queue.clear()  # the other end is gone: nowhere to send it
            self.queued = 0
        while self.queue and peer is not None:
            if self.due is None:
                self.due = loop.time() + self._hold(len(self.queue[0]))
            if self.due > loop.time():
                self.timer = loop.call_at(self.due, self._flush)
                break
            self.due = None
            data = self.queue.popleft()
            self.queued -= len(data)
            if not self.client:
                self.turns.new_request = True  # the server spoke: the client's turn next
            peer.write(data)
        self.update_reading()
        if self.eof and not self.queue:
            _pass_eof(self)


def _pass_eof(side: _Side) -> None:
    """``side`` sent EOF and all it sent went on: half-close the peer; close both when
    both directions have ended."""
    peer = side.peer
    if peer is None or peer.transport is None or peer.transport.is_closing():
        return
    if peer.transport.can_write_eof():
        peer.transport.write_eof()
    if peer.eof and side.transport is not None:
        side.transport.close()
        peer.transport.close()


class NetProxy:
    """The asyncio proxy: ``await start()``, then connections to ``port`` reach ``upstream``."""

    def __init__(self, model: NetModel, upstream: Tuple[str, int], host: str = "127.0.0.1"):
        self.model = model
        self.upstream = upstream
        self.host = host
        self.port = 0
        self._tasks: Set[asyncio.Task] = set()

    async def start(self) -> None:
        """Listen on ``host`` (a free port, then in ``port``)."""
        loop = asyncio.get_running_loop()
        server = await loop.create_server(self._accept, self.host, 0)
        self.port = server.sockets[0].getsockname()[1]

    def _accept(self) -> _Side:
        """A client connected: its side now, the upstream side once connected."""
        client = _Side(self.model, _Turns(), client=True)
        task = asyncio.ensure_future(self._connect(client))
        self._tasks.add(task)  # held until done: the loop keeps weak references only
        task.add_done_callback(self._tasks.discard)
        return client

    async def _connect(self, client: _Side) -> None:
        """After the handshake's delay, connect upstream and start both directions."""
        loop = asyncio.get_running_loop()
        if self.model.handshake:
            await asyncio.sleep(self.model.delay)
        server = _Side(self.model, client.turns, client=False)
        server.peer = client
        try:
            await loop.create_connection(lambda: server, *self.upstream)
        except OSError:
            if client.transport is not None:
                client.transport.abort()
            return
        client.peer = server
        if client.transport is None or client.transport.is_closing():
            assert server.transport is not None
            server.transport.close()
            return
        client.update_reading()


class ProxyProcess:
    """The proxy as a child process (this file run as a script); a context manager.

    ``endpoint_url`` is where the tools connect; ``pid`` is the child's.
    """

    def __init__(self, model: NetModel, upstream_url: str, timeout: float = 30.0) -> None:
        self.model = model
        self.upstream_url = upstream_url
        self.timeout = timeout
        self.endpoint_url = ""
        self._proc: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> Optional[int]:
        """The proxy's process id (None before ``start``)."""
        return None if self._proc is None else self._proc.pid

    def start(self) -> ProxyProcess:
        """Spawn the proxy and wait for its LISTENING line."""
        hostport = self.upstream_url.split("://", 1)[-1].rstrip("/")
        argv = [sys.executable, os.path.abspath(__file__), "--upstream", hostport]
        argv += ["--delay-ms", str(self.model.delay * 1000), "--mbps", str(self.model.rate / MB)]
        if not self.model.handshake:
            argv.append("--no-handshake")
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()  # the child prints it once it listens
        if not line.startswith(READY_PREFIX):
            self.stop()
            raise RuntimeError(f"network proxy did not start: {line!r}")
        self.endpoint_url = line[len(READY_PREFIX) :]
        return self

    def stop(self) -> None:
        """End the proxy (closing its stdin ends it; killed after ``timeout``)."""
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> ProxyProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _serve_until_stdin_closes(model: NetModel, upstream: Tuple[str, int]) -> None:
    """The script's main loop: listen, announce, serve until stdin reaches EOF."""
    proxy = NetProxy(model, upstream)
    await proxy.start()
    print(f"{READY_PREFIX}http://{proxy.host}:{proxy.port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # returns when the parent closes stdin


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``netmodel.py --upstream HOST:PORT [--delay-ms MS] [--mbps MB/S] [--no-handshake]``."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--upstream", required=True, help="HOST:PORT of the S3 server")
    p.add_argument("--delay-ms", type=float, default=20.0, help="added per request")
    p.add_argument("--mbps", type=float, default=100.0, help="MB/s per connection and direction")
    p.add_argument("--no-handshake", action="store_true", help="no delay for new connections")
    args = p.parse_args(argv)
    host, _, port = args.upstream.rpartition(":")
    model = NetModel(args.delay_ms / 1000, args.mbps * MB, not args.no_handshake)
    try:
        asyncio.run(_serve_until_stdin_closes(model, (host, int(port))))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

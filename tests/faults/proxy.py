"""A fault-injecting HTTP/1.1 proxy for the fault tests (loopback only).

``FaultProxy`` listens on 127.0.0.1 and forwards to one upstream S3 server
(SeaweedFS or moto). It parses every request and response (``Content-Length``
and ``chunked`` bodies, keep-alive, ``Expect: 100-continue``), so a fault hits
one HTTP exchange, not a whole TCP stream, and a retry on the same connection
or a new one can succeed. It runs its own asyncio loop in a daemon thread::

    with FaultProxy("127.0.0.1", 8333, mode="flip", rate=0.01, seed=7) as proxy:
        env["AWS_ENDPOINT_URL_S3"] = proxy.endpoint_url
        ...
        proxy.set_mode("error", rate=0.3, status=503, window=20)   # at runtime
        print(proxy.counts())

Modes (``Fault.kind``)
======================

``none``      forward everything untouched (requests are still counted and logged).
``reset``     forward a random prefix of a body, then reset both TCP connections (RST).
``truncate``  forward the head (``Content-Length`` kept) and a random prefix of the
              body, then close both connections (FIN): a short body.
``flip``      XOR one byte at a random offset of a body with a random non-zero value.
``error``     answer ``status``/``code`` instead of forwarding (503 ``SlowDown``,
              500 ``InternalError``); the request body is read and discarded.
``drip``      send a response body ``drip_bytes`` at a time every ``drip_interval`` s.
``drop``      forward a write (PUT/POST), let the server apply it (2xx), then close
              the client's connection without an answer.
``latency``   hold each request ``delay`` seconds before forwarding it (conditions
              such as ``If-Match`` are evaluated after the hold); switching the
              mode releases held requests at once.

Which messages a fault can hit ("eligible")
===========================================

- Body faults (``reset``, ``truncate``, ``flip``) hit one HTTP message body: with
  ``direction="response"`` the body of a 2xx answer to a GET of an object, with
  ``direction="request"`` the body of a PUT of an object (single put or upload
  part), with ``"both"`` either. Only non-empty bodies of object requests
  (``/bucket/key``) are eligible, so listings and multipart XML are left alone.
  The issue's "chunk" is this: one message body, so a retried request draws again.
- Server-side calls: the 2xx answers of CopyObject / UploadPartCopy (a PUT with
  ``x-amz-copy-source``) and DeleteObjects (``POST /bucket?delete``) are response
  bodies like a GET's (``reset``, ``truncate``, ``flip`` with ``direction="response"``),
  and DeleteObjects is a write ``drop`` can hit.
- ``error`` can hit any request; ``drop`` PUT/POST object writes answered 2xx;
  ``drip`` 2xx GET object answers; ``latency`` every request.
- ``match`` (optional) narrows any mode: ``match(method, target, headers)``.

Each eligible message is hit with probability ``rate``, decided by a hash of
(seed, mode, method, target, Range, occurrence number of that request): the
same batch with the same seed meets the same faults however the requests
interleave, and the n-th retry of a request draws afresh. Offsets and XOR
values come from the same hash. ``after``/``window`` limit a mode to
``[after, after + window)`` seconds after ``set_mode``.

Counters (``counts()``): ``requests``, ``requests.<METHOD>``,
``eligible.<direction>`` / ``eligible.<mode>``, and per injected fault
``<mode>.<direction>`` (body faults), ``error.<status>``, ``drop``, ``drip``,
``latency``; ``upstream_error`` counts disruptions the proxy did not inject;
``idle_close`` counts client connections closed after ``idle_timeout`` seconds
without a request (an attribute, None by default: a server's keep-alive
timeout, which any mode may run with).
``log()`` holds one ``Record`` per request; ``mean_inflight(t0, t1)`` the
time-weighted number of requests in flight.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Dict, List, Optional, Set, Tuple, Union

KINDS = ("none", "reset", "truncate", "flip", "error", "drip", "drop", "latency")
BODY_KINDS = ("reset", "truncate", "flip")
PIECE = 256 * 1024  # bytes relayed per read
HEAD_LIMIT = 1024 * 1024  # longest request/response head accepted
REASONS = {500: "Internal Server Error", 503: "Slow Down"}
MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
}

Match = Callable[[str, str, "Head"], bool]


@dataclass(frozen=True)
class Fault:
    """What to inject (see the module docstring for each mode)."""

    kind: str = "none"
    rate: float = 1.0  # probability per eligible message
    direction: str = "both"  # body faults: "request", "response" or "both"
    status: int = 503  # error: HTTP status
    code: str = "SlowDown"  # error: S3 error code
    after: float = 0.0  # seconds after set_mode before the mode starts
    window: Optional[float] = None  # seconds the mode lasts (None: until changed)
    drip_bytes: int = 16  # drip: bytes per write
    drip_interval: float = 0.1  # drip: seconds between writes
    delay: float = 0.0  # latency: seconds each request is held before forwarding
    match: Optional[Match] = None  # narrows eligible requests

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault mode {self.kind!r}; one of {KINDS}")
        if self.direction not in ("request", "response", "both"):
            raise ValueError(f"direction must be request, response or both, not {self.direction!r}")


@dataclass(frozen=True)
class Record:
    """One request the proxy saw, and what it did to it."""

    start: float  # time.monotonic() when the request head arrived
    end: float  # when the exchange ended
    method: str
    target: str
    range: Optional[str]
    status: Optional[int]  # the status sent (or that the server sent, for drop)
    injected: Optional[str]  # e.g. "flip.response", "error.503", "drop", None


class Head:
    """A parsed request or response head: start line plus headers (order kept)."""

    def __init__(self, raw: bytes) -> None:
        lines = raw.decode("latin-1").split("\r\n")
        self.start = lines[0]
        self.headers: List[Tuple[str, str]] = []
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                self.headers.append((name.strip(), value.strip()))

    def get(self, name: str) -> Optional[str]:
        """The first value of header ``name`` (case-insensitive), or None."""
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)

    def encode(self, drop: Tuple[str, ...] = ()) -> bytes:
        """The head as bytes, without the headers named in ``drop`` (lower case)."""
        kept = [f"{k}: {v}" for k, v in self.headers if k.lower() not in drop]
        return ("\r\n".join([self.start, *kept]) + "\r\n\r\n").encode("latin-1")

    def closes(self) -> bool:
        """True if this message ends its connection."""
        return (self.get("connection") or "").lower() == "close" or " HTTP/1.0" in self.start


@dataclass
class Body:
    """How a message body is framed. Chunked and close-delimited bodies are read whole."""

    length: int
    chunked: bool = False
    data: Optional[bytes] = None  # the whole body, when read ahead
    until_eof: bool = False


@dataclass
class Plan:
    """What to do to one body as it is relayed."""

    label: str = ""  # counter name when something is injected
    flip_at: Optional[int] = None
    xor: int = 0
    cut_at: Optional[int] = None
    cut_reset: bool = False  # True: RST; False: FIN (truncate)
    drip: Optional[Tuple[int, float]] = None


class _Cut(Exception):
    """A body was cut on purpose: end the exchange and both connections."""


class _Gone(Exception):
    """A peer went away (not injected)."""


class Dice:
    """Deterministic draws for one request (see the module docstring)."""

    def __init__(self, seed: int, kind: str, method: str, target: str, rng: str, n: int) -> None:
        text = f"{seed}|{kind}|{method}|{target}|{rng}|{n}".encode("utf-8", "surrogateescape")
        self.rng = random.Random(int.from_bytes(hashlib.sha256(text).digest()[:8], "big"))

    def hit(self, rate: float) -> bool:
        """True with probability ``rate``."""
        return self.rng.random() < rate

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)``."""
        return self.rng.randrange(n)


def is_object(target: str) -> bool:
    """True for ``/bucket/key...`` (not the service, not a bucket)."""
    path = target.split("?", 1)[0]
    bucket, _, key = path.lstrip("/").partition("/")
    return bool(bucket) and bool(key)


class FaultProxy:
    """The proxy: ``start()``/``stop()`` or a context manager; see the module docstring."""

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        mode: Union[str, Fault] = "none",
        seed: int = 0,
        **params: object,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.seed = seed
        self.port = 0
        self._lock = threading.Lock()
        self._fault = Fault()
        self._since = time.monotonic()
        self._counts: Counter[str] = Counter()
        self._seen: Counter[Tuple[str, str, str]] = Counter()
        self._log: List[Record] = []
        self._inflight = 0
        self._changes: List[Tuple[float, int]] = [(time.monotonic(), 0)]
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._server: Optional[asyncio.AbstractServer] = None
        self._writers: Set[asyncio.StreamWriter] = set()
        #: Seconds a client connection may sit idle between requests before the proxy
        #: closes it, as a server with a keep-alive timeout does (None: never).
        self.idle_timeout: Optional[float] = None
        self.set_mode(mode, **params)

    # ------------------------------------------------------------ control

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT`` (after start())."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def fault(self) -> Fault:
        """The mode in force."""
        return self._fault

    def set_mode(self, mode: Union[str, Fault] = "none", **params: object) -> None:
        """Switch mode now (thread-safe); ``after``/``window`` count from this call."""
        fault = mode if isinstance(mode, Fault) else Fault(kind=mode, **params)  # type: ignore[arg-type]
        if isinstance(mode, Fault) and params:
            fault = dataclasses.replace(mode, **params)  # type: ignore[arg-type]
        with self._lock:
            self._fault = fault
            self._since = time.monotonic()

    def counts(self) -> Dict[str, int]:
        """A snapshot of the counters."""
        with self._lock:
            return dict(self._counts)

    def log(self) -> List[Record]:
        """A snapshot of the per-request records."""
        with self._lock:
            return list(self._log)

    def reset_counts(self) -> None:
        """Zero counters, the request log and the occurrence numbers."""
        with self._lock:
            self._counts.clear()
            self._log.clear()
            self._seen.clear()

    @property
    def inflight(self) -> int:
        """Requests in flight now."""
        return self._inflight

    def mean_inflight(self, t0: float, t1: float) -> float:
        """Time-weighted mean of requests in flight over ``[t0, t1]`` (monotonic)."""
        with self._lock:
            changes = list(self._changes)
        total, level, last = 0.0, 0, t0
        for t, value in changes:
            if t > t1:
                break
            if t > t0:
                total += level * (t - last)
                last = t
            level = value
        total += level * (t1 - last)
        return total / max(t1 - t0, 1e-9)

    def start(self) -> FaultProxy:
        """Start listening on a free loopback port (returns self)."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10) or not self.port:
            raise RuntimeError("fault proxy did not start")
        return self

    def stop(self) -> None:
        """Stop listening and drop every connection."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._shutdown()))
        thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ loop

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        server = loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, limit=HEAD_LIMIT, backlog=1024)
        )
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None and self._loop is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop.stop()

    async def _serve(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        self._writers.add(cwriter)
        upstream = _Upstream(self.upstream)
        try:
            while await self._exchange(creader, cwriter, upstream):
                pass
        except (_Cut, _Gone, ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        except (asyncio.LimitOverrunError, ValueError, IndexError):
            self._bump("bad_http")
        except asyncio.CancelledError:
            pass  # stop(): end quietly
        finally:
            self._writers.discard(cwriter)
            upstream.close()
            cwriter.transport.abort()

    # -------------------------------------------------------- one exchange

    async def _exchange(
        self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter, upstream: _Upstream
    ) -> bool:
        """Relay one request and its answer; False when the connection must end."""
        try:
            raw = await asyncio.wait_for(creader.readuntil(b"\r\n\r\n"), self.idle_timeout)
        except asyncio.IncompleteReadError:
            return False
        except asyncio.TimeoutError:
            self._bump("idle_close")  # closed as a keep-alive timeout would
            return False
        req = Head(raw)
        method, target = (req.start.split(" ") + ["", ""])[:2]
        fault, active, dice = self._begin(method, target, req)
        record: Dict[str, object] = {"method": method, "target": target, "status": None}
        record["injected"] = None
        started = time.monotonic()
        try:
            return await self._relay_exchange(
                creader, cwriter, upstream, req, fault, active, dice, record
            )
        finally:
            self._end(started, record, req.get("range"))

    async def _relay_exchange(
        self,
        creader: asyncio.StreamReader,
        cwriter: asyncio.StreamWriter,
        upstream: _Upstream,
        req: Head,
        fault: Fault,
        active: bool,
        dice: Dice,
        record: Dict[str, object],
    ) -> bool:
        method, target = str(record["method"]), str(record["target"])
        body = await _request_body(creader, req)
        if (req.get("expect") or "").lower() == "100-continue":
            cwriter.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if active and fault.kind == "error" and dice.hit(fault.rate):
            self._count(f"error.{fault.status}", record, fault.status)
            async for _ in _pieces(creader, body):
                pass
            cwriter.write(_error_response(fault, method))
            await cwriter.drain()
            return not req.closes()
        if fault.kind == "latency" and active and dice.hit(fault.rate):
            self._count("latency", record, None)
            await self._hold(fault)
        reader, writer = await upstream.open(self)
        writer.write(req.encode(drop=("expect",)))
        plan = self._body_plan(fault, active, dice, "request", method, target, body.length)
        await self._relay_body(creader, writer, body, plan, record, (upstream, cwriter))
        resp = await upstream.response_head()
        status = int(resp.start.split(" ")[1])
        record["status"] = status
        rbody = await _response_body(reader, resp, method, status)
        if (
            active
            and fault.kind == "drop"
            and _is_write(method, target, status)
            and dice.hit(fault.rate)
        ):
            async for _ in _pieces(reader, rbody):
                pass
            self._count("drop", record, status)
            raise _Cut()
        cwriter.write(_response_head(resp, rbody))
        answer = (method == "GET" and is_object(target)) or server_side(method, target, req)
        ok_get = answer and 200 <= status < 300
        plan = self._body_plan(
            fault, active and ok_get, dice, "response", method, target, rbody.length
        )
        await self._relay_body(reader, cwriter, rbody, plan, record, (upstream, cwriter))
        if resp.closes() or rbody.until_eof:
            upstream.close()
        return not (req.closes() or resp.closes() or rbody.until_eof)

    async def _hold(self, fault: Fault) -> None:
        """Wait ``fault.delay`` seconds, or less if the mode is switched meanwhile."""
        until = time.monotonic() + fault.delay
        while time.monotonic() < until and self._fault is fault:
            await asyncio.sleep(min(0.01, max(0.0, until - time.monotonic())))

    def _body_plan(
        self,
        fault: Fault,
        active: bool,
        dice: Dice,
        direction: str,
        method: str,
        target: str,
        length: int,
    ) -> Plan:
        if not active or length <= 0:  # answers: the caller chose which (``server_side``)
            return Plan()
        if direction == "request" and (method != "PUT" or not is_object(target)):
            return Plan()
        if fault.kind == "drip" and direction == "response":
            self._bump("eligible.drip")
            if dice.hit(fault.rate):
                return Plan(label="drip", drip=(max(1, fault.drip_bytes), fault.drip_interval))
            return Plan()
        if fault.kind not in BODY_KINDS or fault.direction not in (direction, "both"):
            return Plan()
        self._bump(f"eligible.{direction}")
        if not dice.hit(fault.rate):
            return Plan()
        label = f"{fault.kind}.{direction}"
        if fault.kind == "flip":
            return Plan(label=label, flip_at=dice.below(length), xor=1 + dice.below(255))
        return Plan(label=label, cut_at=dice.below(length), cut_reset=fault.kind == "reset")

    async def _relay_body(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        body: Body,
        plan: Plan,
        record: Dict[str, object],
        conns: Tuple[_Upstream, asyncio.StreamWriter],
    ) -> None:
        """Copy a body from reader to writer, applying ``plan`` on the way."""
        pos = 0
        async for piece in _pieces(reader, body):
            if plan.flip_at is not None and pos <= plan.flip_at < pos + len(piece):
                mutable = bytearray(piece)
                mutable[plan.flip_at - pos] ^= plan.xor
                piece = bytes(mutable)
                self._count(plan.label, record, None)  # counted when it goes out
            if plan.cut_at is not None and pos + len(piece) > plan.cut_at:
                await _write(writer, piece[: plan.cut_at - pos], body.chunked, flush=True)
                self._count(plan.label, record, None)
                _cut(conns, plan.cut_reset)
                raise _Cut()
            if plan.drip is not None:
                if pos == 0:
                    self._count(plan.label, record, None)
                for i in range(0, len(piece), plan.drip[0]):
                    await _write(writer, piece[i : i + plan.drip[0]], body.chunked, flush=True)
                    await asyncio.sleep(plan.drip[1])
            else:
                await _write(writer, piece, body.chunked)
            pos += len(piece)
        if body.chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()

    # ---------------------------------------------------------- bookkeeping

    def _begin(self, method: str, target: str, req: Head) -> Tuple[Fault, bool, Dice]:
        rng = req.get("range") or ""
        with self._lock:
            fault, since = self._fault, self._since
            key = (method, target, rng)
            self._seen[key] += 1
            n = self._seen[key]
            self._counts["requests"] += 1
            self._counts[f"requests.{method}"] += 1
            self._inflight += 1
            self._changes.append((time.monotonic(), self._inflight))
        elapsed = time.monotonic() - since
        active = fault.kind != "none" and elapsed >= fault.after
        if fault.window is not None and elapsed >= fault.after + fault.window:
            active = False
        if active and fault.match is not None:
            active = fault.match(method, target, req)
        if active and fault.kind == "error":
            self._bump("eligible.error")
        return fault, active, Dice(self.seed, fault.kind, method, target, rng, n)

    def _end(self, started: float, record: Dict[str, object], rng: Optional[str]) -> None:
        now = time.monotonic()
        entry = Record(
            start=started,
            end=now,
            method=str(record["method"]),
            target=str(record["target"]),
            range=rng,
            status=record["status"] if isinstance(record["status"], int) else None,
            injected=record["injected"] if isinstance(record["injected"], str) else None,
        )
        with self._lock:
            self._inflight -= 1
            self._changes.append((now, self._inflight))
            self._log.append(entry)

    def _bump(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _count(self, label: str, record: Dict[str, object], status: Optional[int]) -> None:
        self._bump(label)
        record["injected"] = label
        if status is not None:
            record["status"] = status


# ---------------------------------------------------------------- helpers


class _Upstream:
    """The server side of one client connection (opened lazily, reopened when closed)."""

    def __init__(self, address: Tuple[str, int]) -> None:
        self.address = address
        self.reader: Optional[asyncio.StreamReader] = None
        self.writer: Optional[asyncio.StreamWriter] = None

    async def open(self, proxy: FaultProxy) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.reader.at_eof():
            self.close()
            try:
                self.reader, self.writer = await asyncio.open_connection(
                    *self.address, limit=HEAD_LIMIT
                )
            except OSError as exc:
                proxy._bump("upstream_error")
                raise _Gone(str(exc)) from None
        return self.reader, self.writer

    async def response_head(self) -> Head:
        assert self.reader is not None
        while True:
            try:
                raw = await self.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                raise _Gone(f"upstream closed before answering: {exc}") from None
            head = Head(raw)
            if not head.start.split(" ")[1].startswith("1"):
                return head

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None


def _is_write(method: str, target: str, status: int) -> bool:
    deletes = method == "POST" and _is_delete_objects(target)
    return method in ("PUT", "POST") and (is_object(target) or deletes) and 200 <= status < 300


def _is_delete_objects(target: str) -> bool:
    query = target.partition("?")[2]
    return "delete" in (part.partition("=")[0] for part in query.split("&"))


def server_side(method: str, target: str, req: Head) -> bool:
    """A CopyObject / UploadPartCopy or a DeleteObjects: its answer is a body to fault."""
    if method == "PUT" and req.get("x-amz-copy-source"):
        return True
    return method == "POST" and _is_delete_objects(target)


async def _request_body(reader: asyncio.StreamReader, head: Head) -> Body:
    if "chunked" in (head.get("transfer-encoding") or "").lower():
        return await _read_chunked(reader)
    return Body(int(head.get("content-length") or 0))


async def _response_body(
    reader: asyncio.StreamReader, head: Head, method: str, status: int
) -> Body:
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Body(0)
    if "chunked" in (head.get("transfer-encoding") or "").lower():
        return await _read_chunked(reader)
    length = head.get("content-length")
    if length is not None:
        return Body(int(length))
    data = await reader.read()
    return Body(len(data), data=data, until_eof=True)


async def _read_chunked(reader: asyncio.StreamReader) -> Body:
    """Read a whole chunked body (trailers dropped); it is re-sent as one chunk."""
    parts: List[bytes] = []
    while True:
        line = await reader.readuntil(b"\r\n")
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            data = b"".join(parts)
            return Body(len(data), chunked=True, data=data)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def _pieces(reader: asyncio.StreamReader, body: Body) -> AsyncIterator[bytes]:
    if body.data is not None:
        for i in range(0, len(body.data), PIECE):
            yield body.data[i : i + PIECE]
        return
    left = body.length
    while left > 0:
        data = await reader.read(min(PIECE, left))
        if not data:
            raise _Gone("peer closed mid-body")
        left -= len(data)
        yield data


async def _write(
    writer: asyncio.StreamWriter, data: bytes, chunked: bool, flush: bool = False
) -> None:
    if data:
        writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
    if flush:
        writer.transport.set_write_buffer_limits(high=0)
    await writer.drain()


def _cut(conns: Tuple[_Upstream, asyncio.StreamWriter], reset: bool) -> None:
    upstream, client = conns
    upstream_writer = upstream.writer
    for writer in (upstream_writer, client):
        if writer is None:
            continue
        if reset:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            writer.transport.abort()
        else:
            writer.close()
    upstream.reader = upstream.writer = None


def _response_head(resp: Head, body: Body) -> bytes:
    if body.chunked or body.until_eof:
        drop = ("transfer-encoding", "content-length")
        head = resp.encode(drop=drop)[:-2]
        if body.chunked:
            return head + b"Transfer-Encoding: chunked\r\n\r\n"
        return head + b"Content-Length: %d\r\n\r\n" % body.length
    return resp.encode()


def _error_response(fault: Fault, method: str) -> bytes:
    message = MESSAGES.get(fault.code, fault.code)
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{fault.code}</Code><Message>{message}</Message>"
        "<RequestId>fault-proxy</RequestId></Error>"
    ).encode()
    body = b"" if method == "HEAD" else xml
    head = (
        f"HTTP/1.1 {fault.status} {REASONS.get(fault.status, 'Error')}\r\n"
        "Content-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\n"
        "x-amz-request-id: fault-proxy\r\n\r\n"
    )
    return head.encode() + body


__all__ = ["BODY_KINDS", "KINDS", "Fault", "FaultProxy", "Head", "Record", "is_object"]

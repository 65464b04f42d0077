"""Temporary credentials kept fresh for a whole batch, in every worker process.

Credentials are resolved once, in the engine's parent process
(``s3op.client.resolve``). Temporary ones (an assumed role, SSO, a
container or instance role, a web identity, a ``credential_process``:
anything botocore gives as ``RefreshableCredentials``) expire, often after
an hour, and a batch, or a warm ``s3op serve``, may run longer.

``LiveCredentials`` is where the parent publishes the current credentials
and where every worker reads them: a small anonymous shared memory map,
made before the workers are forked, so forked workers see each update (no
pipe, no file, nothing on argv). A seqlock makes reads consistent: the
writer makes the sequence number odd, writes, makes it even again; a
reader that saw an odd number, or two different ones around its read,
reads again. A reader keeps the last credentials it decoded and only looks
at the sequence number (one 8-byte read, ~0.3 us) while nothing changed.

``Refresher`` is the parent's thread that keeps the map fresh: it asks
botocore's credentials object for frozen credentials (botocore refreshes
them itself once they are within its advisory window, 15 minutes before
expiry; within 10 minutes every caller waits for the refresh) and
publishes any change. It wakes every quarter of the time the current
credentials have left (at least every ``POLL_MIN`` s, at most every
``POLL_MAX`` s), so credentials that last a few seconds are renewed too.
It stops when the ``LiveCredentials`` it feeds is no longer used, or when
``stop`` is called.

A failed refresh is logged without any part of a credential and retried
after 1 s, then 2, 4, ... (at most ``POLL_MAX``); requests keep the last
credentials meanwhile, and a request they no longer sign fails as S3 says
(``access_denied``, retried by nobody), never silently.
"""

from __future__ import annotations

import json
import mmap
import struct
import threading
import time
import weakref
from typing import Any, NamedTuple, Optional

#: Bytes of the shared map (an STS session token is ~1-2 KiB; room to spare).
MAP_SIZE = 16 * 1024
#: The refresher's shortest and longest sleep, in seconds.
POLL_MIN = 0.2
POLL_MAX = 30.0
_SEQ = struct.Struct("<QI")  # sequence number, payload length


class Frozen(NamedTuple):
    """One set of credentials (botocore's signer reads these three names)."""

    access_key: str
    secret_key: str
    token: Optional[str]


class LiveCredentials:
    """The current credentials, shared by the parent and its forked workers.

    ``publish`` (the parent's refresher only) writes a new set; ``current``
    (any thread of any process of the batch) reads the latest. Not
    picklable: it lives in one process tree.
    """

    def __init__(self, first: Frozen, expiry: Optional[float] = None) -> None:
        self._map = mmap.mmap(-1, MAP_SIZE)  # anonymous, MAP_SHARED: inherited by fork
        self._lock = threading.Lock()  # one writer at a time
        self._local = threading.local()  # per thread: (seq, Frozen) last decoded
        self.publish(first, expiry)

    def publish(self, creds: Frozen, expiry: Optional[float]) -> None:
        """Make ``creds`` (valid until ``expiry``, epoch seconds) the current set."""
        payload = json.dumps([creds.access_key, creds.secret_key, creds.token, expiry]).encode()
        if len(payload) > MAP_SIZE - _SEQ.size:
            raise ValueError(f"credentials too large to share ({len(payload)} bytes)")
        with self._lock:
            seq = _SEQ.unpack_from(self._map, 0)[0]
            _SEQ.pack_into(self._map, 0, seq + 1, 0)  # odd: being written
            self._map[_SEQ.size : _SEQ.size + len(payload)] = payload
            _SEQ.pack_into(self._map, 0, seq + 2, len(payload))

    def current(self) -> Frozen:
        """The latest credentials published."""
        seq = _SEQ.unpack_from(self._map, 0)[0]
        seen = getattr(self._local, "seen", None)
        if seen is not None and seen[0] == seq:
            return seen[1]
        seq, creds, _ = self._read()
        self._local.seen = (seq, creds)
        return creds

    def expiry(self) -> Optional[float]:
        """When the latest credentials expire (epoch seconds; None: they do not)."""
        return self._read()[2]

    def _read(self) -> tuple:
        while True:
            seq, length = _SEQ.unpack_from(self._map, 0)
            payload = self._map[_SEQ.size : _SEQ.size + length]
            if not seq & 1 and _SEQ.unpack_from(self._map, 0)[0] == seq:
                access, secret, token, expiry = json.loads(payload)
                return seq, Frozen(access, secret, token), expiry
            time.sleep(0)  # a write is under way: let it finish

    def __reduce__(self) -> Any:
        raise TypeError("LiveCredentials cannot leave its process tree")

    def __repr__(self) -> str:
        return "<LiveCredentials>"  # never the secrets


def frozen_of(source: Any) -> Frozen:
    """botocore credentials (static or refreshable) as one consistent ``Frozen``
    (a refreshable object is refreshed first if it is due)."""
    got = source.get_frozen_credentials()
    return Frozen(got.access_key, got.secret_key, got.token)


def expiry_of(source: Any) -> Optional[float]:
    """When botocore's refreshable credentials expire (epoch seconds), if they say."""
    when = getattr(source, "_expiry_time", None)  # botocore keeps it as a datetime
    return when.timestamp() if when is not None else None


def is_refreshable(source: Any) -> bool:
    """Whether botocore's ``source`` renews itself (it has an expiry to renew before)."""
    return hasattr(source, "refresh_needed")


class Refresher:
    """The parent's thread that keeps one ``LiveCredentials`` fresh from ``source``
    (botocore's refreshable credentials)."""

    def __init__(self, source: Any, live: LiveCredentials) -> None:
        self._source = source
        self._live = weakref.ref(live)
        self._stop = threading.Event()
        self.refreshes = 0  # changes published (tests, diagnostics)
        self._failures = 0  # refreshes failed in a row: the pause doubles with each
        self._thread = threading.Thread(target=self._loop, name="s3op-credentials", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread (it also ends once its ``LiveCredentials`` is gone)."""
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._pause()):
            live = self._live()
            if live is None:
                return
            self._refresh(live)
            del live

    def _pause(self) -> float:
        if self._failures:
            return min(POLL_MAX, 2.0 ** (self._failures - 1))
        live = self._live()
        expiry = live.expiry() if live is not None else None
        if expiry is None:
            return POLL_MAX
        return min(POLL_MAX, max(POLL_MIN, (expiry - time.time()) / 4))

    def _refresh(self, live: LiveCredentials) -> None:
        try:
            creds = frozen_of(self._source)
        except Exception as exc:  # noqa: BLE001 - any provider error: keep the old set, retry
            self._failures += 1
            import logging  # here: only a failed refresh logs, and logging is off start-up

            logging.getLogger(__name__).warning(
                "s3op: refreshing credentials failed (%s); retrying", type(exc).__name__
            )
            return
        self._failures = 0
        if creds != live.current():
            live.publish(creds, expiry_of(self._source))
            self.refreshes += 1


__all__ = [
    "MAP_SIZE",
    "POLL_MAX",
    "POLL_MIN",
    "Frozen",
    "LiveCredentials",
    "Refresher",
    "expiry_of",
    "frozen_of",
    "is_refreshable",
]

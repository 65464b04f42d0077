"""Read-ahead for listings: ask for page N+1 while page N is parsed.

A ListObjectsV2 listing is a chain: each page names the token of the next.
Between two requests of the chain the engine parses a page (about 4 ms for
1,000 keys), builds its results and hands them over; the server sits idle
meanwhile. ``ReadAhead`` lets the fast client start the next request as
soon as a page's bytes are in, in a thread of its own, and hand the answer
to whoever asks for that page next.

It is only ever a shortcut. A page is taken at most once, by the exact key
(bucket, prefix, delimiter, token) a caller asks for; the token it was
started for is read with a quick scan of the bytes, and the real parse
decides what the caller asks for next, so a wrong guess only wastes a
request. A fetch that failed is not remembered: the caller sends the
request again, through the usual retry loop, and sees the usual error.
Pages nobody takes (a listing abandoned half-way) are dropped after
``TTL_SECONDS`` or when more than ``MAX_PENDING`` are waiting.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Hashable, Optional

#: Pages waiting to be taken, at most (about 200 KB each for 1,000 keys).
MAX_PENDING = 8
#: A page not taken within this many seconds is dropped unread.
TTL_SECONDS = 30.0

_TRUNCATED = b"<IsTruncated>true</IsTruncated>"
_TOKEN_OPEN = b"<NextContinuationToken>"
_TOKEN_CLOSE = b"</NextContinuationToken>"


def next_token(body: bytes) -> Optional[str]:
    """The continuation token of a ListObjectsV2 page, by a quick scan (None: none seen)."""
    if _TRUNCATED not in body:
        return None
    start = body.find(_TOKEN_OPEN)
    if start < 0:
        return None
    start += len(_TOKEN_OPEN)
    end = body.find(_TOKEN_CLOSE, start)
    if end < 0:
        return None
    text = body[start:end].decode("utf-8", "replace")
    if "&" not in text:
        return text
    import html  # here: tokens are rarely escaped, and start-up need not pay ~1 ms

    return html.unescape(text)


class _Fetch:
    """One request running in its own thread."""

    def __init__(self, fetch: Callable[[], bytes]) -> None:
        self.started = time.monotonic()
        self.done = threading.Event()
        self.body: Optional[bytes] = None
        self._fetch = fetch

    def run(self) -> None:
        try:
            self.body = self._fetch()
        except Exception:  # the caller asks again and gets the error through its retries
            self.body = None
        finally:
            self.done.set()


class ReadAhead:
    """Requests started early, each taken at most once by its key (thread-safe)."""

    def __init__(self, max_pending: int = MAX_PENDING, ttl: float = TTL_SECONDS) -> None:
        self._pending: OrderedDict[Hashable, _Fetch] = OrderedDict()
        self._lock = threading.Lock()
        self._max_pending = max_pending
        self._ttl = ttl
        self.hits = 0  # pages taken (for tests and diagnostics)

    def start(self, key: Hashable, fetch: Callable[[], bytes]) -> None:
        """Run ``fetch`` in a thread for whoever takes ``key`` next."""
        item = _Fetch(fetch)
        with self._lock:
            if key in self._pending:
                return
            self._drop_stale(item.started)
            self._pending[key] = item
        threading.Thread(target=item.run, name="s3op-readahead", daemon=True).start()

    def take(self, key: Hashable) -> Optional[bytes]:
        """The body fetched for ``key`` (waiting for it), or None: fetch it yourself."""
        with self._lock:
            item = self._pending.pop(key, None)
        if item is None:
            return None
        item.done.wait()  # bounded by the request's own connect and read timeouts
        if item.body is not None:
            with self._lock:
                self.hits += 1
        return item.body

    def _drop_stale(self, now: float) -> None:
        for key in [k for k, v in self._pending.items() if now - v.started > self._ttl]:
            del self._pending[key]
        while len(self._pending) >= self._max_pending:
            self._pending.popitem(last=False)

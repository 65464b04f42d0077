"""How a fast-path request goes out: its URL, its signature, its connection pool.

``Sender`` builds the URL of a bucket or object (``Endpoint``), signs the
request with our SigV4 signer (``s3op.signing``: UNSIGNED-PAYLOAD; integrity
is Content-MD5 and CRC32), sends it on the
keep-alive pool of its host (``s3op.http1``), and turns an error status
into botocore's ``ClientError`` (``s3op.responses.raise_error``). A bucket
that answers with a redirect to another region raises ``NotOurs`` and is
remembered: botocore, which follows regions, serves it from then on
(``Sender.serves``). Keys with ``.``/``..`` segments never take this path
(``literal_path_safe``).
"""

from __future__ import annotations

import threading
from typing import Dict, NamedTuple, Optional, Set, Tuple
from urllib.parse import quote, urlsplit

from s3op.http1 import Pool, RequestBody
from s3op.http1_conn import Response
from s3op.responses import raise_error
from s3op.signing import UNSIGNED_PAYLOAD, CredentialSource, Signer

#: Asks S3 for the object's checksums (a GET's answer then carries its CRC32).
CHECKSUM_MODE = "x-amz-checksum-mode"


def literal_path_safe(key: str) -> bool:
    """False for keys with ``.``/``..`` segments. URL libraries remove them
    (``a/../b`` would silently become ``b``) and botocore's signer may
    normalise them; such keys go through botocore, which sends them as they
    are."""
    return not any(part in (".", "..") for part in key.split("/"))


class Endpoint:
    """Where a bucket's objects live: base URL, addressing style, region."""

    def __init__(self, endpoint_url: str, region: str, path_style: bool) -> None:
        self.base = endpoint_url.rstrip("/")
        self.region = region
        self.path_style = path_style
        self._places: Dict[str, Place] = {}  # by bucket: where its requests go

    def bucket_url(self, bucket: str) -> str:
        """The bucket's own URL (for listings)."""
        if self.path_style or "." in bucket:
            return f"{self.base}/{bucket}"
        parts = urlsplit(self.base)
        return f"{parts.scheme}://{bucket}.{parts.netloc}/"

    def url(self, bucket: str, key: str) -> str:
        """The object URL, the key percent-encoded as S3 expects."""
        quoted = quote(key, safe="/~")
        if self.path_style or "." in bucket:
            return f"{self.base}/{bucket}/{quoted}"
        parts = urlsplit(self.base)
        return f"{parts.scheme}://{bucket}.{parts.netloc}/{quoted}"

    def place(self, bucket: str) -> Place:
        """Where ``bucket``'s requests go: what ``urlsplit`` makes of its URLs, worked
        out once per bucket (the fast path sent one ``urlsplit`` a request before).

        The key is appended to ``Place.path`` percent-encoded (``quote`` leaves no
        ``?`` or ``#`` that could end the path), so the path is what ``url`` gives.
        """
        place = self._places.get(bucket)
        if place is None:
            parts = urlsplit(self.bucket_url(bucket))
            prefix = parts.path if self.path_style or "." in bucket else ""
            place = Place(parts.hostname or "", parts.port, prefix)
            if len(self._places) >= MAX_PLACES:  # a long-lived engine: forget, never grow
                self._places.clear()
            self._places[bucket] = place
        return place


class Place(NamedTuple):
    """A bucket's host and port, and the path its keys go under ("" or ``/bucket``)."""

    host: str
    port: Optional[int]
    path: str

    def target(self, key: Optional[str]) -> str:
        """The request path of ``key`` (None: of the bucket itself)."""
        if key is None:
            return self.path or "/"
        return f"{self.path}/{quote(key, safe='/~')}"


#: Buckets an ``Endpoint`` remembers the place of.
MAX_PLACES = 1024


class NotOurs(Exception):
    """The fast path can't serve this bucket (a region redirect): use botocore."""


class Sender:
    """Signs and sends fast-path requests, one keep-alive pool per host."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: CredentialSource,
        max_connections: int,
        timeouts: Tuple[float, float],
    ) -> None:
        self.endpoint = endpoint
        self._timeouts = timeouts  # (connect, read) seconds
        self._signer = Signer(credentials, "s3", endpoint.region)
        self._scheme = urlsplit(endpoint.base).scheme
        self._pools: Dict[str, Pool] = {}
        self._pools_lock = threading.Lock()
        self._max_connections = max_connections
        self._slow_buckets: Set[str] = set()  # buckets botocore must serve (other region)

    def serves(self, bucket: str, key: Optional[str] = None) -> bool:
        """Whether the fast path sends requests for ``bucket`` (and ``key``)."""
        if bucket in self._slow_buckets:
            return False
        return key is None or literal_path_safe(key)

    def send(
        self,
        method: str,
        bucket: str,
        key: Optional[str],
        headers: Dict[str, str],
        body: Optional[RequestBody] = None,
        query: str = "",
        operation: Optional[str] = None,
        payload: str = UNSIGNED_PAYLOAD,
    ) -> Response:
        """Send a request and read its status and headers; an error status raises
        (``check``). ``payload``: the body's SHA-256 in hex, to sign it."""
        pool, target, signed = self.prepare(method, bucket, key, headers, body, query, payload)
        return self.check(pool.request(method, target, signed, body), bucket, method, operation)

    def prepare(
        self,
        method: str,
        bucket: str,
        key: Optional[str],
        headers: Dict[str, str],
        body: Optional[RequestBody] = None,
        query: str = "",
        payload: str = UNSIGNED_PAYLOAD,
    ) -> Tuple[Pool, str, Dict[str, str]]:
        """The pool to send to, the request target and the signed headers (``query``:
        "" or ``?`` and the query, percent-encoded)."""
        place = self.endpoint.place(bucket)
        pool = self._pool(place.host, place.port)
        # Signed as given and sent as given (http1 sends no Host of its own then).
        headers["host"] = pool.host_header
        path = place.target(key)
        signed = self._signer.sign(method, path, query[1:], headers, payload)
        return pool, path + query if query[1:] else path, signed

    def check(
        self, resp: Response, bucket: str, method: str, operation: Optional[str] = None
    ) -> Response:
        """``resp`` if it succeeded; else botocore's ClientError (for ``operation``,
        see ``raise_error``), or ``NotOurs`` for a bucket in another region
        (botocore serves it from then on): a redirect, or a 400 naming a region
        other than ours (some stores name their own region on every answer)."""
        region = resp.headers.get("x-amz-bucket-region")
        if resp.status in (301, 307) or (
            resp.status == 400 and region and region != self.endpoint.region
        ):
            resp.close()
            self._slow_buckets.add(bucket)
            raise NotOurs(bucket)
        if resp.status >= 300:
            raise_error(resp, method, operation)
        return resp

    def _pool(self, host: str, port: Optional[int]) -> Pool:
        """The keep-alive pool for one host (virtual-hosted buckets differ by host)."""
        port = port or (443 if self._scheme == "https" else 80)
        key = f"{host}:{port}"
        with self._pools_lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = Pool(self._scheme, host, port, self._timeouts, self._max_connections)
                self._pools[key] = pool
            return pool

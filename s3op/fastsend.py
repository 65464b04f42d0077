"""How a fast-path request goes out: its URL, its signature, its connection pool.

``Sender`` builds the URL of a bucket or object (``Endpoint``), signs the
request with botocore's SigV4 signer (``s3op.signing``), sends it on the
keep-alive pool of its host (``s3op.http1``), and turns an error status
into botocore's ``ClientError`` (``s3op.responses.raise_error``). A bucket
that answers with a redirect to another region raises ``NotOurs`` and is
remembered: botocore, which follows regions, serves it from then on
(``Sender.serves``). Keys with ``.``/``..`` segments never take this path
(``literal_path_safe``).
"""

from __future__ import annotations

import threading
from typing import Dict, Optional, Set, Tuple
from urllib.parse import quote, urlsplit

from s3op.http1 import Pool, RequestBody
from s3op.http1_conn import Response
from s3op.responses import raise_error
from s3op.signing import CredentialSource, Signer, sign

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


class NotOurs(Exception):
    """The fast path can't serve this bucket (a region redirect): use botocore."""


class SigningConfig:
    """What botocore's S3 signer reads from ``request.context['client_config']``."""

    s3 = {"payload_signing_enabled": False}  # integrity: Content-MD5 + CRC32 instead


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
    ) -> Response:
        """Send a request and read its status and headers; an error status raises
        (``check``)."""
        pool, target, signed = self.prepare(method, bucket, key, headers, body, query)
        return self.check(pool.request(method, target, signed, body), bucket, method, operation)

    def prepare(
        self,
        method: str,
        bucket: str,
        key: Optional[str],
        headers: Dict[str, str],
        body: Optional[RequestBody] = None,
        query: str = "",
    ) -> Tuple[Pool, str, Dict[str, str]]:
        """The pool to send to, the request target and the signed headers."""
        base = self.endpoint.bucket_url(bucket) if key is None else self.endpoint.url(bucket, key)
        url = base + query
        parts = urlsplit(url)
        pool = self._pool(parts.hostname or "", parts.port)
        headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
        # Signed as given and sent as given (http1 sends no Host of its own then); left
        # out, the signer works it out again from the URL on every request.
        headers["host"] = pool.host_header
        signed = dict(sign(self._signer, method, url, headers, body, SigningConfig))
        target = parts.path + ("?" + parts.query if parts.query else "")
        return pool, target, signed

    def check(
        self, resp: Response, bucket: str, method: str, operation: Optional[str] = None
    ) -> Response:
        """``resp`` if it succeeded; else botocore's ClientError (for ``operation``,
        see ``raise_error``), or ``NotOurs`` for a bucket in another region
        (botocore serves it from then on)."""
        if resp.status in (301, 307) or (
            resp.status == 400 and resp.headers.get("x-amz-bucket-region")
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

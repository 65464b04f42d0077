"""A lean HTTP path for the hot single-object calls: GET, HEAD and PUT.

botocore's request pipeline costs ~1.1 ms of CPU per request here; signing
with botocore's own SigV4 signer (~30 us, ``s3op.signing``) and sending
with our minimal HTTP/1.1 client (``s3op.http1``) costs a fraction of that.
``FastClient`` answers ``get_object`` / ``head_object`` / ``put_object``
with the same response shape as botocore and raises botocore's
``ClientError`` (same ``response`` dict) on HTTP errors, so the ops and the
one error table in ``s3op.errors`` work unchanged. Every other call goes
to a real botocore client, built lazily. Credentials, signing and error
types stay botocore's; only the transport is ours.

The whole-object CRC32 a server returns (``x-amz-checksum-crc32``) is
checked as the body is read, as botocore would: a mismatch raises
``OpError(corrupt)`` at the end of the stream.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote, urlsplit

from s3op.checksum import crc32, crc32_from_b64
from s3op.errors import OpError
from s3op.http1 import Connection, Pool
from s3op.protocol import ErrorKind
from s3op.readahead import ReadAhead, next_token
from s3op.responses import describe_headers, parse_attributes, parse_listing, raise_error

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


class FastBody:
    """A streaming body: counts bytes and checks a whole-object CRC32 at EOF."""

    def __init__(
        self, response: Any, expect_crc: Optional[int], read: Optional[Any] = None
    ) -> None:
        self._response = response
        self._read = read or response.read  # must return early: read1 semantics
        # Only our own responses read into a buffer with read1 semantics.
        self._readinto = getattr(response, "readinto", None) if read is None else None
        self._expect = expect_crc
        self._crc = 0
        self._done = False

    def read(self, amt: Optional[int] = None) -> bytes:
        """Up to ``amt`` bytes, as soon as any arrive; b"" at the end (checksum passed).

        Returning early (``read1``) lets the caller check its deadline even
        when a server drips bytes slower than any socket timeout would catch.
        """
        data = self._read(amt if amt else -1)
        if data:
            if self._expect is not None:
                self._crc = crc32(data, self._crc)
            return bytes(data)
        self._end()
        return b""

    def readinto(self, buf: memoryview) -> int:
        """``read`` into ``buf`` (reused by the caller); 0 at the end (checksum passed)."""
        if self._readinto is not None:
            got = self._readinto(buf)
        else:
            data = self.read(len(buf))
            buf[: len(data)] = data
            return len(data)  # read() checked the CRC32 already
        if got:
            if self._expect is not None:
                self._crc = crc32(buf[:got], self._crc)
            return int(got)
        self._end()
        return 0

    def _end(self) -> None:
        """The body is complete: it must match the whole-object CRC32, if one came."""
        self._done = True
        if self._expect is not None and self._crc != self._expect:
            raise OpError(
                ErrorKind.CORRUPT,
                f"CRC32 mismatch: body {self._crc:08x}, server {self._expect:08x}",
            )

    def close(self) -> None:
        """Drop the connection if the body was not read (it can't be reused then)."""
        self._response.close()


def early_body(resp: Dict[str, Any]) -> Any:
    """A GET response's body that returns data as soon as any arrives.

    Fast-path bodies already do. botocore's ``StreamingBody.read(n)`` blocks
    until ``n`` bytes came, so a server dripping bytes would outlast any
    deadline; read its raw urllib3 stream with ``read1`` instead and check
    the whole-object CRC32 ourselves (what botocore's checksum wrapper did).
    """
    body = resp["Body"]
    raw = getattr(body, "_raw_stream", None)
    if isinstance(body, FastBody) or raw is None or not hasattr(raw, "read1"):
        return body
    whole = not resp.get("ContentRange")
    crc = crc32_from_b64(resp.get("ChecksumCRC32")) if whole else None
    if resp.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        crc = None
    return FastBody(raw, crc, read=lambda amt: raw.read1(amt) if amt >= 0 else raw.read())


class FileSlice:
    """``length`` bytes of an open file from ``offset``, read in blocks.

    An upload body that never holds a whole part in memory.
    """

    def __init__(self, fileobj: Any, offset: int, length: int) -> None:
        self._file = fileobj
        self._start = offset
        self._length = length
        self._pos = 0
        fileobj.seek(offset)

    def read(self, amt: int = -1) -> bytes:
        """Up to ``amt`` bytes (all that is left when ``amt`` < 0)."""
        left = self._length - self._pos
        if amt is None or amt < 0 or amt > left:
            amt = left
        data = self._file.read(amt) if amt else b""
        self._pos += len(data)
        return data

    def tell(self) -> int:
        """Position within the slice."""
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        """Seek within the slice (for a retry or a length probe)."""
        base = {0: 0, 1: self._pos, 2: self._length}[whence]
        self._pos = max(0, min(self._length, base + pos))
        self._file.seek(self._start + self._pos)
        return self._pos

    def __len__(self) -> int:
        return self._length


class _NotOurs(Exception):
    """The fast path can't serve this (e.g. a region redirect): use botocore."""


class _SigningConfig:
    """What botocore's S3 signer reads from ``request.context['client_config']``."""

    s3 = {"payload_signing_enabled": False}  # integrity: Content-MD5 + CRC32 instead


class FastClient:
    """get/head/put_object over ``s3op.http1`` with botocore signing; rest delegated."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Any,
        slow_client: Any,
        max_connections: int,
        timeouts: Tuple[float, float] = (10.0, 60.0),
    ) -> None:
        from s3op.signing import Signer

        self.endpoint = endpoint
        self._timeouts = timeouts  # (connect, read) seconds
        self._signer = Signer(credentials, "s3", endpoint.region)
        parts = urlsplit(endpoint.base)
        self._pools: Dict[str, Pool] = {}
        self._pools_lock = threading.Lock()
        self._max_connections = max_connections
        self._scheme = parts.scheme
        self._slow_client = slow_client  # a zero-argument factory, called on first use
        self._slow: Any = None
        self._slow_buckets: set = set()  # buckets botocore must serve (other region)
        self._read_ahead = ReadAhead()  # the next page of each listing, asked for early

    def botocore_client(self) -> Any:
        """The real botocore client, built on first use."""
        if self._slow is None:
            self._slow = self._slow_client()
        return self._slow

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.botocore_client(), name)

    # ---------------------------------------------------------- requests

    def _send(
        self,
        method: str,
        bucket: str,
        key: Optional[str],
        headers: Dict[str, str],
        body: Any = None,
        query: str = "",
    ) -> Any:
        pool, target, signed = self._prepare(method, bucket, key, headers, body, query)
        return self._check(pool.request(method, target, signed, body), bucket, method)

    def _prepare(
        self,
        method: str,
        bucket: str,
        key: Optional[str],
        headers: Dict[str, str],
        body: Any = None,
        query: str = "",
    ) -> Tuple[Pool, str, Dict[str, str]]:
        """The pool to send to, the request target and the signed headers."""
        from s3op.signing import sign

        base = self.endpoint.bucket_url(bucket) if key is None else self.endpoint.url(bucket, key)
        url = base + query
        parts = urlsplit(url)
        pool = self._pool(parts.hostname or "", parts.port)
        headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
        # Signed as given and sent as given (http1 sends no Host of its own then); left
        # out, the signer works it out again from the URL on every request.
        headers["host"] = pool.host_header
        signed = dict(sign(self._signer, method, url, headers, body, _SigningConfig))
        target = parts.path + ("?" + parts.query if parts.query else "")
        return pool, target, signed

    def _check(self, resp: Any, bucket: str, method: str, operation: Optional[str] = None) -> Any:
        """``resp`` if it succeeded; else botocore's ClientError (for ``operation``,
        see ``raise_error``), or ``_NotOurs`` for a bucket in another region
        (botocore serves it from then on)."""
        if resp.status in (301, 307) or (
            resp.status == 400 and resp.headers.get("x-amz-bucket-region")
        ):
            resp.close()
            self._slow_buckets.add(bucket)
            raise _NotOurs(bucket)
        if resp.status >= 300:
            raise_error(resp, method, operation)
        return resp

    def start_get(self, Bucket: str, Key: str) -> Optional[Tuple[Pool, Connection]]:
        """Send a whole-object GET and return at once: the pool and the connection
        to ``finish`` it on. None when the fast path does not send this one
        (``get_object`` then does, through botocore)."""
        if Bucket in self._slow_buckets or not literal_path_safe(Key):
            return None
        pool, target, signed = self._prepare("GET", Bucket, Key, {CHECKSUM_MODE: "ENABLED"})
        return pool, pool.start("GET", target, signed)

    def get_answer(self, resp: Any, Bucket: str, Key: str) -> Dict[str, Any]:
        """``get_object``'s answer, or error, for the response to ``start_get``'s request."""
        try:
            return self._get_answer(self._check(resp, Bucket, "GET"), None)
        except _NotOurs:
            return self._slow_call("get_object", Bucket, Key, {})

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

    def get_object(
        self,
        Bucket: str,
        Key: str,
        Range: Optional[str] = None,
        IfMatch: Optional[str] = None,
        **unsupported: Any,
    ) -> Dict[str, Any]:
        """GET an object: botocore's response shape, streaming ``Body``."""
        if unsupported or Bucket in self._slow_buckets or not literal_path_safe(Key):
            kwargs = dict(unsupported, Range=Range, IfMatch=IfMatch)
            return self._slow_call("get_object", Bucket, Key, kwargs)
        try:
            return self._get(Bucket, Key, Range, IfMatch)
        except _NotOurs:
            return self._slow_call("get_object", Bucket, Key, {"Range": Range, "IfMatch": IfMatch})

    def _slow_call(self, name: str, bucket: str, key: str, kwargs: Dict[str, Any]) -> Any:
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        return getattr(self.botocore_client(), name)(Bucket=bucket, Key=key, **kwargs)

    def _get(
        self, Bucket: str, Key: str, Range: Optional[str], IfMatch: Optional[str]
    ) -> Dict[str, Any]:
        headers = {CHECKSUM_MODE: "ENABLED"}
        if Range:
            headers["Range"] = Range
        if IfMatch:
            headers["If-Match"] = IfMatch
        return self._get_answer(self._send("GET", Bucket, Key, headers), Range)

    def _get_answer(self, resp: Any, Range: Optional[str]) -> Dict[str, Any]:
        out = describe_headers(resp.headers)
        whole = resp.status == 200 and not Range
        crc = crc32_from_b64(resp.headers.get("x-amz-checksum-crc32")) if whole else None
        if whole and resp.headers.get("x-amz-checksum-type", "FULL_OBJECT") != "FULL_OBJECT":
            crc = None
        out["Body"] = FastBody(resp, crc)
        return out

    def head_object(self, Bucket: str, Key: str, **unsupported: Any) -> Dict[str, Any]:
        """HEAD an object."""
        if unsupported or Bucket in self._slow_buckets or not literal_path_safe(Key):
            return self._slow_call("head_object", Bucket, Key, unsupported)
        try:
            resp = self._send("HEAD", Bucket, Key, {CHECKSUM_MODE: "ENABLED"})
        except _NotOurs:
            return self._slow_call("head_object", Bucket, Key, {})
        return describe_headers(resp.headers)

    def head_bucket(self, Bucket: str, **unsupported: Any) -> Dict[str, Any]:
        """HEAD a bucket: a 404 raises botocore's ClientError for ``HeadBucket``."""
        if unsupported or Bucket in self._slow_buckets:
            return self.botocore_client().head_bucket(Bucket=Bucket, **unsupported)
        pool, target, signed = self._prepare("HEAD", Bucket, None, {})
        try:
            resp = self._check(pool.request("HEAD", target, signed), Bucket, "HEAD", "HeadBucket")
        except _NotOurs:
            return self.botocore_client().head_bucket(Bucket=Bucket)
        return {"ResponseMetadata": {"HTTPStatusCode": resp.status, "HTTPHeaders": resp.headers}}

    def get_object_attributes(
        self,
        Bucket: str,
        Key: str,
        ObjectAttributes: Sequence[str],
        MaxParts: int = 1000,
        PartNumberMarker: int = 0,
        **unsupported: Any,
    ) -> Dict[str, Any]:
        """GetObjectAttributes (what ``s3op.parts`` asks for), without building the
        botocore client, whose first use in a worker costs ~0.25 s here."""
        args: Dict[str, Any] = {
            "ObjectAttributes": list(ObjectAttributes),
            "MaxParts": MaxParts,
            "PartNumberMarker": PartNumberMarker,
        }
        if unsupported or Bucket in self._slow_buckets or not literal_path_safe(Key):
            return self._slow_call("get_object_attributes", Bucket, Key, dict(args, **unsupported))
        headers = {
            "x-amz-object-attributes": ",".join(ObjectAttributes),
            "x-amz-max-parts": str(MaxParts),
            "x-amz-part-number-marker": str(PartNumberMarker),
        }
        try:
            resp = self._send("GET", Bucket, Key, headers, query="?attributes")
        except _NotOurs:
            return self._slow_call("get_object_attributes", Bucket, Key, args)
        body = bytearray()
        while resp.length is None or resp.length <= ATTRIBUTES_MAX:
            chunk = resp.read(64 * 1024)
            if not chunk or len(body) + len(chunk) > ATTRIBUTES_MAX:
                break
            body += chunk
        if not resp.done:
            resp.close()  # too big for attributes (a server that sent the object?)
            return {}
        return parse_attributes(bytes(body))

    def put_object(
        self,
        Bucket: str,
        Key: str,
        Body: Any,
        ContentMD5: Optional[str] = None,
        ContentType: Optional[str] = None,
        Metadata: Optional[Mapping[str, str]] = None,
        ServerSideEncryption: Optional[str] = None,
        IfNoneMatch: Optional[str] = None,
        ChecksumCRC32: Optional[str] = None,
    ) -> Dict[str, Any]:
        """PUT an object from bytes or a file object (sent as-is, streamed)."""
        args: Dict[str, Any] = {
            "ContentMD5": ContentMD5,
            "ContentType": ContentType,
            "Metadata": Metadata,
            "ServerSideEncryption": ServerSideEncryption,
            "IfNoneMatch": IfNoneMatch,
            "ChecksumCRC32": ChecksumCRC32,
        }
        start = Body.tell() if hasattr(Body, "tell") else 0
        if Bucket not in self._slow_buckets and literal_path_safe(Key):
            try:
                return self._put(Bucket, Key, Body, args)
            except _NotOurs:
                pass
        if hasattr(Body, "seek"):
            Body.seek(start)
        return self._slow_call("put_object", Bucket, Key, dict(args, Body=Body))

    def list_objects_v2(
        self,
        Bucket: str,
        Prefix: str = "",
        Delimiter: str = "",
        ContinuationToken: Optional[str] = None,
        **unsupported: Any,
    ) -> Dict[str, Any]:
        """One page of ListObjectsV2, parsed into botocore's shape (keys decoded)."""
        args = {"Prefix": Prefix, "Delimiter": Delimiter, "ContinuationToken": ContinuationToken}
        if unsupported or Bucket in self._slow_buckets:
            return self._slow_list(Bucket, dict(args, **unsupported))
        key = (Bucket, Prefix, Delimiter, ContinuationToken or "")
        body = self._read_ahead.take(key)
        if body is None:
            try:
                body = self._list_page(*key)
            except _NotOurs:
                return self._slow_list(Bucket, args)
        token = next_token(body)
        if token:  # ask for the next page while this one is parsed and written out
            ahead = (Bucket, Prefix, Delimiter, token)
            self._read_ahead.start(ahead, lambda: self._list_page(*ahead))
        return parse_listing(body)

    def _list_page(self, bucket: str, prefix: str, delimiter: str, token: str) -> bytes:
        params = [("list-type", "2"), ("encoding-type", "url"), ("prefix", prefix)]
        if delimiter:
            params.append(("delimiter", delimiter))
        if token:
            params.append(("continuation-token", token))
        query = "?" + "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in sorted(params))
        return bytes(self._send("GET", bucket, None, {}, query=query).read_all())

    def _slow_list(self, bucket: str, kwargs: Dict[str, Any]) -> Any:
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        return self.botocore_client().list_objects_v2(Bucket=bucket, **kwargs)

    def upload_part(
        self,
        Bucket: str,
        Key: str,
        UploadId: str,
        PartNumber: int,
        Body: Any,
        ContentMD5: Optional[str] = None,
        ChecksumCRC32: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Upload one part of a multipart upload, streamed from ``Body``."""
        args: Dict[str, Any] = {"ContentMD5": ContentMD5, "ChecksumCRC32": ChecksumCRC32}
        query = f"?partNumber={PartNumber}&uploadId={quote(UploadId, safe='')}"
        if Bucket not in self._slow_buckets and literal_path_safe(Key):
            try:
                return self._put(Bucket, Key, Body, args, query)
            except _NotOurs:
                pass
        Body.seek(0)
        kwargs = dict(args, UploadId=UploadId, PartNumber=PartNumber, Body=Body)
        return self._slow_call("upload_part", Bucket, Key, kwargs)

    def _put(self, bucket: str, key: str, body: Any, args: Dict[str, Any], query: str = "") -> Any:
        """PUT ``body``; ``args`` are put_object's optional arguments (botocore names)."""
        headers: Dict[str, str] = {"Content-Length": str(_length(body))}
        for arg, value in args.items():
            if value and arg in _PUT_HEADERS:
                headers[_PUT_HEADERS[arg]] = value
        for name, value in (args.get("Metadata") or {}).items():
            headers[f"x-amz-meta-{name}"] = value
        resp = self._send("PUT", bucket, key, headers, body=body, query=query)
        resp.read_all()  # returns the connection to the pool
        return describe_headers(resp.headers)


#: The largest GetObjectAttributes answer read (1,000 parts take ~100 KB).
ATTRIBUTES_MAX = 4 * 1024 * 1024

#: put_object / upload_part arguments sent as plain headers.
_PUT_HEADERS = {
    "ContentMD5": "Content-MD5",
    "ContentType": "Content-Type",
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "IfNoneMatch": "If-None-Match",
    "ChecksumCRC32": "x-amz-checksum-crc32",
}


def _length(body: Any) -> int:
    if isinstance(body, FileSlice):
        return len(body)
    if isinstance(body, (bytes, bytearray, memoryview)):
        return len(body)
    here = body.tell()
    end = body.seek(0, 2)
    body.seek(here)
    return int(end - here)

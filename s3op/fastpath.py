"""``FastClient``: the ``Transport`` of the lean HTTP path.

botocore's request pipeline costs ~1.1 ms of CPU per request here; signing
with our own SigV4 signer (~7 us, ``s3op.signing``; tested against
botocore's, header for header) and sending
with our minimal HTTP/1.1 client (``s3op.http1``, through
``s3op.fastsend``) costs a fraction of that. ``FastClient`` serves GET,
HEAD, PUT, part uploads, listings and GetObjectAttributes itself, and
batched GETs, HEADs and small PUTs (``get_many``, ``head_many``,
``put_many``: many requests in flight on one thread, ``s3op.inflight``),
and a multipart upload's create, complete and abort (``s3op.fastmultipart``).
Answers have botocore's shape and an error status raises botocore's
``ClientError`` (same ``response`` dict), so the ops and the one error
table in ``s3op.errors`` never know which path served them.

The rest goes to the botocore transport (``s3op.botocore_transport``),
built on first use: the server-side calls the lean path does not send
(``s3op.serverside``: UploadPartCopy), buckets in another region
(``fastsend.NotOurs``), and keys with ``.`` or ``..`` segments. Credentials
and error types stay botocore's; the transport and the signer are ours.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote

from s3op.bodies import FastBody
from s3op.botocore_transport import BotocoreTransport
from s3op.checksum import crc32_from_b64
from s3op.fastmany import get_many, head_many
from s3op.fastmultipart import MultipartCalls
from s3op.fastputs import put_headers, put_many
from s3op.fastsend import CHECKSUM_MODE, Endpoint, NotOurs, Sender
from s3op.http1_conn import Response
from s3op.listpage import ListPage, answer_of_page, page_of_answer, read_page
from s3op.readahead import ReadAhead, next_token
from s3op.responses import describe_headers, parse_attributes
from s3op.serverside import ServerSideCalls
from s3op.signing import CredentialSource
from s3op.transport import (
    FileSlice,
    GetReplies,
    GetTarget,
    HeadReplies,
    PutReplies,
    PutUpload,
    S3Answer,
    UploadBody,
)

#: The largest GetObjectAttributes answer read (1,000 parts take ~100 KB).
ATTRIBUTES_MAX = 4 * 1024 * 1024


class FastClient(ServerSideCalls, MultipartCalls):
    """The calls the ops make, over ``s3op.http1`` with botocore signing."""

    batches_gets = True

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: CredentialSource,
        slow_client: Callable[[], Any],
        max_connections: int,
        timeouts: Tuple[float, float] = (10.0, 60.0),
    ) -> None:
        """``credentials``: botocore's, or a function giving the current ones
        (``s3op.signing.CredentialSource``); ``slow_client``: builds the botocore client
        (on first use) for what the fast path does not serve."""
        self.endpoint = endpoint
        self._sender = Sender(endpoint, credentials, max_connections, timeouts)
        self._slow_client = slow_client
        self._slow: Optional[BotocoreTransport] = None
        self._slow_lock = threading.Lock()  # threads that need it at once build it once
        self._read_ahead = ReadAhead()  # the next page of each listing, asked for early

    def botocore(self) -> BotocoreTransport:
        """The botocore transport, built on first use (once: a client costs ~0.25 s and
        ~8 MiB, and 64 threads copying at once would each build one)."""
        if self._slow is None:
            with self._slow_lock:
                if self._slow is None:
                    self._slow = BotocoreTransport(self._slow_client())
        return self._slow

    def fast_sender(self, bucket: str, key: str) -> Optional[Sender]:
        """The sender, where the lean path serves ``bucket``/``key`` (server-side calls)."""
        return self._sender if self._sender.serves(bucket, key) else None

    # ------------------------------------------------------------- GET

    def get_object(
        self, *, Bucket: str, Key: str, Range: Optional[str] = None, IfMatch: Optional[str] = None
    ) -> S3Answer:
        """GET an object: botocore's answer shape, streaming ``Body``."""
        if self._sender.serves(Bucket, Key):
            headers = {CHECKSUM_MODE: "ENABLED"}
            if Range:
                headers["Range"] = Range
            if IfMatch:
                headers["If-Match"] = IfMatch
            try:
                return _get_answer(self._sender.send("GET", Bucket, Key, headers), Range)
            except NotOurs:
                pass
        return self.botocore().get_object(Bucket=Bucket, Key=Key, Range=Range, IfMatch=IfMatch)

    def get_many(self, targets: Sequence[GetTarget]) -> GetReplies:
        """Send every whole-object GET at once, each on its own keep-alive
        connection; yield each reply as it arrives (``s3op.fastmany``)."""
        return get_many(self._sender, targets, self._opened)

    def _opened(self, resp: Response, target: GetTarget) -> S3Answer:
        """``get_object``'s answer (or error) from a reply to ``get_many``'s request."""
        try:
            return _get_answer(self._sender.check(resp, target.bucket, "GET"), None)
        except NotOurs:
            return self.botocore().get_object(Bucket=target.bucket, Key=target.key)

    # ------------------------------------------------------- HEAD, attributes

    def head_many(self, targets: Sequence[GetTarget]) -> HeadReplies:
        """Send every HEAD at once, each on its own keep-alive connection; yield
        each answer as it arrives (``s3op.fastmany``)."""
        return head_many(self._sender, targets)

    def head_object(self, *, Bucket: str, Key: str) -> S3Answer:
        """HEAD an object."""
        if self._sender.serves(Bucket, Key):
            try:
                resp = self._sender.send("HEAD", Bucket, Key, {CHECKSUM_MODE: "ENABLED"})
                return describe_headers(resp.headers)
            except NotOurs:
                pass
        return self.botocore().head_object(Bucket=Bucket, Key=Key)

    def head_bucket(self, *, Bucket: str) -> S3Answer:
        """HEAD a bucket: a 404 raises botocore's ClientError for ``HeadBucket``."""
        if self._sender.serves(Bucket):
            try:
                resp = self._sender.send("HEAD", Bucket, None, {}, operation="HeadBucket")
                meta = {"HTTPStatusCode": resp.status, "HTTPHeaders": resp.headers}
                return {"ResponseMetadata": meta}
            except NotOurs:
                pass
        return self.botocore().head_bucket(Bucket=Bucket)

    def get_object_attributes(
        self,
        *,
        Bucket: str,
        Key: str,
        ObjectAttributes: Sequence[str],
        MaxParts: int = 1000,
        PartNumberMarker: int = 0,
    ) -> S3Answer:
        """GetObjectAttributes (what ``s3op.parts`` asks for), without building the
        botocore client, whose first use in a worker costs ~0.25 s here."""
        if self._sender.serves(Bucket, Key):
            headers = {
                "x-amz-object-attributes": ",".join(ObjectAttributes),
                "x-amz-max-parts": str(MaxParts),
                "x-amz-part-number-marker": str(PartNumberMarker),
            }
            try:
                resp = self._sender.send("GET", Bucket, Key, headers, query="?attributes")
                return _attributes(resp)
            except NotOurs:
                pass
        return self.botocore().get_object_attributes(
            Bucket=Bucket,
            Key=Key,
            ObjectAttributes=ObjectAttributes,
            MaxParts=MaxParts,
            PartNumberMarker=PartNumberMarker,
        )

    # ------------------------------------------------------------ listing

    def list_objects_v2(
        self,
        *,
        Bucket: str,
        Prefix: str = "",
        Delimiter: str = "",
        ContinuationToken: Optional[str] = None,
    ) -> S3Answer:
        """One page of ListObjectsV2, in botocore's shape (keys decoded)."""
        if self._sender.serves(Bucket):
            return answer_of_page(self.list_page(Bucket, Prefix, Delimiter, ContinuationToken))
        return self._slow_list(Bucket, Prefix, Delimiter, ContinuationToken)

    def list_page(self, bucket: str, prefix: str, delimiter: str, token: Optional[str]) -> ListPage:
        """One page of ListObjectsV2, read (``s3op.listpage``; keys decoded)."""
        if not self._sender.serves(bucket):
            return page_of_answer(self._slow_list(bucket, prefix, delimiter, token))
        key = (bucket, prefix, delimiter, token or "")
        try:
            body = self._read_ahead.take(key) or self._list_page(*key)
        except NotOurs:
            return page_of_answer(self._slow_list(bucket, prefix, delimiter, token))
        following = next_token(body)
        if following:  # ask for the next page while this one is parsed and written out
            ahead = (bucket, prefix, delimiter, following)
            self._read_ahead.start(ahead, lambda: self._list_page(*ahead))
        return read_page(body)

    def _list_page(self, bucket: str, prefix: str, delimiter: str, token: str) -> bytes:
        params = [("list-type", "2"), ("encoding-type", "url"), ("prefix", prefix)]
        if delimiter:
            params.append(("delimiter", delimiter))
        if token:
            params.append(("continuation-token", token))
        query = "?" + "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in sorted(params))
        return bytes(self._sender.send("GET", bucket, None, {}, query=query).read_all())

    def _slow_list(
        self, bucket: str, prefix: str, delimiter: str, token: Optional[str]
    ) -> S3Answer:
        return self.botocore().list_objects_v2(
            Bucket=bucket, Prefix=prefix, Delimiter=delimiter, ContinuationToken=token
        )

    # ----------------------------------------------------------- uploads

    def put_object(
        self,
        *,
        Bucket: str,
        Key: str,
        Body: UploadBody,
        ContentMD5: Optional[str] = None,
        ContentType: Optional[str] = None,
        Metadata: Optional[Mapping[str, str]] = None,
        ServerSideEncryption: Optional[str] = None,
        IfNoneMatch: Optional[str] = None,
        ChecksumCRC32: Optional[str] = None,
    ) -> S3Answer:
        """PUT an object from bytes or a file object (sent as-is, streamed)."""
        args = {
            "ContentMD5": ContentMD5,
            "ContentType": ContentType,
            "ServerSideEncryption": ServerSideEncryption,
            "IfNoneMatch": IfNoneMatch,
            "ChecksumCRC32": ChecksumCRC32,
        }
        start = 0 if isinstance(Body, bytes) else Body.tell()
        if self._sender.serves(Bucket, Key):
            try:
                return self._put(Bucket, Key, Body, args, Metadata)
            except NotOurs:
                pass
        if not isinstance(Body, bytes):
            Body.seek(start)
        return self.botocore().put_object(
            Bucket=Bucket,
            Key=Key,
            Body=Body,
            ContentMD5=ContentMD5,
            ContentType=ContentType,
            Metadata=Metadata,
            ServerSideEncryption=ServerSideEncryption,
            IfNoneMatch=IfNoneMatch,
            ChecksumCRC32=ChecksumCRC32,
        )

    def put_many(self, uploads: Sequence[PutUpload]) -> PutReplies:
        """Send every small PUT at once, each on its own keep-alive connection;
        yield each answer as it arrives (``s3op.fastputs``)."""
        return put_many(self._sender, uploads)

    def upload_part(
        self,
        *,
        Bucket: str,
        Key: str,
        UploadId: str,
        PartNumber: int,
        Body: UploadBody,
        ContentMD5: Optional[str] = None,
        ChecksumCRC32: Optional[str] = None,
    ) -> S3Answer:
        """Upload one part of a multipart upload, streamed from ``Body``."""
        args = {"ContentMD5": ContentMD5, "ChecksumCRC32": ChecksumCRC32}
        query = f"?partNumber={PartNumber}&uploadId={quote(UploadId, safe='')}"
        if self._sender.serves(Bucket, Key):
            try:
                return self._put(Bucket, Key, Body, args, None, query)
            except NotOurs:
                pass
        if not isinstance(Body, bytes):
            Body.seek(0)
        return self.botocore().upload_part(
            Bucket=Bucket,
            Key=Key,
            UploadId=UploadId,
            PartNumber=PartNumber,
            Body=Body,
            ContentMD5=ContentMD5,
            ChecksumCRC32=ChecksumCRC32,
        )

    def _put(
        self,
        bucket: str,
        key: str,
        body: UploadBody,
        args: Mapping[str, Optional[str]],
        metadata: Optional[Mapping[str, str]],
        query: str = "",
    ) -> S3Answer:
        """PUT ``body``; ``args`` are put_object's optional arguments (botocore names)."""
        headers = put_headers(_length(body), args, metadata)
        resp = self._sender.send("PUT", bucket, key, headers, body=body, query=query)
        resp.read_all()  # returns the connection to the pool
        return describe_headers(resp.headers)


def _get_answer(resp: Response, byte_range: Optional[str]) -> S3Answer:
    """A GET response as botocore's answer; its body checks a whole-object CRC32."""
    out = describe_headers(resp.headers)
    whole = resp.status == 200 and not byte_range
    crc = crc32_from_b64(resp.headers.get("x-amz-checksum-crc32")) if whole else None
    if whole and resp.headers.get("x-amz-checksum-type", "FULL_OBJECT") != "FULL_OBJECT":
        crc = None
    out["Body"] = FastBody(resp, crc)
    return out


def _attributes(resp: Response) -> S3Answer:
    """A GetObjectAttributes answer, read up to ``ATTRIBUTES_MAX`` bytes."""
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


def _length(body: UploadBody) -> int:
    if isinstance(body, (FileSlice, bytes)):
        return len(body)
    here = body.tell()
    end = body.seek(0, 2)
    body.seek(here)
    return int(end - here)

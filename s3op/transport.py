"""The interface between the ops and HTTP: ``Transport``, and the types it shares.

An op (``s3op.ops``) talks to S3 only through a ``Transport``; it never
sees a socket, a connection pool or which client is behind it. Two
implement it:

- ``s3op.fastpath.FastClient``: the lean HTTP/1.1 path (``s3op.http1``)
  with botocore's signer, for the hot calls; it hands anything it cannot
  serve (another region, a key with ``.``/``..`` segments, calls it does
  not speak) to the botocore transport below.
- ``s3op.botocore_transport.BotocoreTransport``: a botocore S3 client.

Calls take botocore's keyword names and answer botocore's response
dicts (``S3Answer``), except ``list_page``, which answers a listing page
as an ``s3op.listpage.ListPage`` (a listing need not build and read back a
dict per key). Both raise alike, so ``s3op.errors.classify`` maps every
failure the same way whichever transport raised it (botocore's ``ClientError`` for an
S3 error response, ``ConnectionError``/``TimeoutError`` for the network).
A GET's ``Body`` (``Body``) returns data as soon as any arrives, so a
caller can check its deadline however slowly the bytes come, and checks a
whole-object CRC32 the server sent as it is read.

Batched GETs: ``get_many`` sends many whole-object GETs at once and yields
each reply as it arrives (``ReplyHead``: status and headers in, the body
not read), so one thread can keep many requests in flight
(``s3op.ops.multiget``). ``batches_gets`` says whether that gains anything
(the botocore transport implements ``get_many`` as a loop). ``head_many``
does the same for HEADs, ``put_many`` for small PUTs whose bodies
are in memory (``s3op.ops.multiput``), and ``copy_many`` for small
server-side copies (``s3op.ops.multicopy``).

Nothing here resends anything: a transport makes one attempt per call
(except the stale-connection resend inside ``s3op.http1``; see
``s3op.retry``), and the ops' retry loop decides what happens next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import (
    IO,
    Any,
    Callable,
    Dict,
    Generator,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Union,
)

from s3op.listpage import ListPage

#: An answer in botocore's shape (``ContentLength``, ``ETag``, ``Body``, ...): a dict
#: of heterogeneous fields, the contract both transports keep.
S3Answer = Dict[str, Any]


class Body(Protocol):
    """A GET's streaming body: data as soon as any arrives; a CRC32 sent checked at EOF."""

    def readinto(self, buf: memoryview) -> int:
        """Fill ``buf`` with what has arrived (at least one byte); 0 at the end."""

    def close(self) -> None:
        """Release the body (its connection is dropped if the body was not read)."""


class FileSlice:
    """``length`` bytes of an open file from ``offset``, read in blocks, or handed
    whole to a sender that copies them from file to socket (``take_span``).

    An upload body that never holds a whole part in memory.
    """

    def __init__(self, fileobj: IO[bytes], offset: int, length: int) -> None:
        self._file = fileobj
        self._start = offset
        self._length = length
        self._pos = 0
        fileobj.seek(offset)

    def read(self, amt: Optional[int] = -1) -> bytes:
        """Up to ``amt`` bytes (all that is left when ``amt`` < 0)."""
        left = self._length - self._pos
        if amt is None or amt < 0 or amt > left:
            amt = left
        data = self._file.read(amt) if amt else b""
        self._pos += len(data)
        return data

    def take_span(self) -> Tuple[IO[bytes], int, int]:
        """(the file, offset in it, bytes) of what is left of the slice, all counted as
        read: for a sender that moves them itself (``os.sendfile``)."""
        left = self._length - self._pos
        offset = self._start + self._pos
        self._pos = self._length
        return self._file, offset, left

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


#: What an upload sends: bytes in memory, an open file, or a slice of one.
UploadBody = Union[bytes, IO[bytes], FileSlice]


@dataclass(frozen=True)
class GetTarget:
    """One object for ``get_many`` to GET whole."""

    bucket: str
    key: str


@dataclass(frozen=True)
class NotSent:
    """The batch did not send this request; the single call will (a bucket only
    botocore serves, or the batch could not send any more)."""


@dataclass(frozen=True)
class GetFailed:
    """The request (a batch's GET, HEAD or PUT) failed, or was answered with an
    error status: what it raised (one attempt, to classify; a read timeout is a
    ``TimeoutError``)."""

    error: BaseException


@dataclass(frozen=True)
class ReplyHead:
    """A reply's status line and headers; its body not read yet."""

    status: int
    length: Optional[int]  # the body's announced length; None: chunked
    open: Callable[[], S3Answer]  # get_object's answer; an error status raises its error
    close: Callable[[], None]  # drop the reply unread (its connection is not reused)


@dataclass(frozen=True)
class PutUpload:
    """One small PUT for ``put_many``: its body in memory, put_object's other
    arguments by botocore's names (``ContentMD5``, ``ChecksumCRC32``,
    ``ContentType``, ``ServerSideEncryption``, ``IfNoneMatch``; None: not sent)."""

    bucket: str
    key: str
    body: bytes
    args: Mapping[str, Optional[str]]
    metadata: Optional[Mapping[str, str]] = None  # encoded (``protocol.encode_metadata``)


#: What ``get_many`` yields for each target.
GetReply = Union[NotSent, GetFailed, ReplyHead]
#: ``get_many``'s (index, reply) pairs; ``close()`` drops the requests still out.
GetReplies = Generator[Tuple[int, GetReply], None, None]
#: What ``head_many`` yields of one HEAD: head_object's answer, or why there is none.
HeadReply = Union[NotSent, GetFailed, S3Answer]
#: ``head_many``'s (index into its targets, reply) pairs, in the order replies end.
HeadReplies = Generator[Tuple[int, HeadReply], None, None]
#: ``copy_many``'s (index into its copies, copy_object's answer or why not) pairs.
CopyReplies = Generator[Tuple[int, HeadReply], None, None]
#: What ``put_many`` yields of one PUT: put_object's answer, or why there is none.
PutReply = Union[NotSent, GetFailed, S3Answer]
#: ``put_many``'s (index into its uploads, reply) pairs, in the order replies end.
PutReplies = Generator[Tuple[int, PutReply], None, None]


class Transport(Protocol):
    """The S3 calls the ops make (botocore's names, arguments and answers)."""

    #: True when ``get_many``, ``head_many`` and ``put_many`` really keep many
    #: requests in flight (else each is a loop).
    batches_gets: bool

    def get_object(
        self, *, Bucket: str, Key: str, Range: Optional[str] = None, IfMatch: Optional[str] = None
    ) -> S3Answer:
        """GET an object (or a byte range of it); ``Body`` streams (``Body``)."""

    def get_many(self, targets: Sequence[GetTarget]) -> GetReplies:
        """Send a whole-object GET for each target; yield (index, reply) as each ends.

        Every index is yielded once. Closing the iterator early closes the
        connections of requests still out.
        """

    def head_many(self, targets: Sequence[GetTarget]) -> HeadReplies:
        """HEAD each target; yield (index, answer or why not) as each ends, every
        index once (``get_many``'s rules; an error status is a ``GetFailed``)."""

    def put_many(self, uploads: Sequence[PutUpload]) -> PutReplies:
        """PUT each upload; yield (index, put_object's answer or why not) as each
        ends, every index once (``get_many``'s rules; an error status is a
        ``GetFailed``). Nothing is sent twice: a PUT the server may have applied
        is only ever retried by the ops' retry loop."""

    def head_object(self, *, Bucket: str, Key: str) -> S3Answer:
        """HEAD an object."""

    def head_bucket(self, *, Bucket: str) -> S3Answer:
        """HEAD a bucket (a 404 raises a ``ClientError`` for ``HeadBucket``)."""

    def get_object_attributes(
        self,
        *,
        Bucket: str,
        Key: str,
        ObjectAttributes: Sequence[str],
        MaxParts: int = 1000,
        PartNumberMarker: int = 0,
    ) -> S3Answer:
        """GetObjectAttributes (what ``s3op.parts`` asks for)."""

    def list_objects_v2(
        self,
        *,
        Bucket: str,
        Prefix: str = "",
        Delimiter: str = "",
        ContinuationToken: Optional[str] = None,
    ) -> S3Answer:
        """One page of ListObjectsV2 (keys decoded)."""

    def list_page(self, bucket: str, prefix: str, delimiter: str, token: Optional[str]) -> ListPage:
        """One page of ListObjectsV2, read (``s3op.listpage``; keys decoded): what a
        listing needs, without building botocore's dict of it."""

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
        """PUT an object."""

    def create_multipart_upload(
        self,
        *,
        Bucket: str,
        Key: str,
        ContentType: Optional[str] = None,
        Metadata: Optional[Mapping[str, str]] = None,
        ServerSideEncryption: Optional[str] = None,
        ChecksumAlgorithm: Optional[str] = None,
        ChecksumType: Optional[str] = None,
    ) -> S3Answer:
        """Start a multipart upload (its ``UploadId``)."""

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
        """Upload one part of a multipart upload."""

    def complete_multipart_upload(
        self,
        *,
        Bucket: str,
        Key: str,
        UploadId: str,
        MultipartUpload: Mapping[str, Sequence[Mapping[str, object]]],
        IfNoneMatch: Optional[str] = None,
        ChecksumCRC32: Optional[str] = None,
        ChecksumType: Optional[str] = None,
    ) -> S3Answer:
        """Complete a multipart upload from its parts."""

    def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str) -> S3Answer:
        """Abort a multipart upload (its parts are dropped)."""

    def delete_objects(self, *, Bucket: str, Keys: Sequence[str]) -> S3Answer:
        """DeleteObjects of up to 1,000 keys (with the checksum header S3 requires):
        ``Deleted`` and ``Errors`` lists, as botocore answers."""

    def copy_object(
        self,
        *,
        Bucket: str,
        Key: str,
        CopySource: Mapping[str, str],
        CopySourceIfMatch: Optional[str] = None,
        MetadataDirective: Optional[str] = None,
        ContentType: Optional[str] = None,
        Metadata: Optional[Mapping[str, str]] = None,
        ServerSideEncryption: Optional[str] = None,
        SSEKMSKeyId: Optional[str] = None,
        ChecksumAlgorithm: Optional[str] = None,
    ) -> S3Answer:
        """CopyObject (its ``CopyObjectResult``: ETag, maybe ChecksumCRC32)."""

    def copy_many(self, copies: Sequence[Mapping[str, Any]]) -> CopyReplies:
        """CopyObject each of ``copies`` (copy_object's arguments); yield (index,
        copy_object's answer or why not) as each ends, every index once
        (``put_many``'s rules: nothing is sent twice; an error status, or an
        ``<Error>`` in a 200's body, is a ``GetFailed``)."""

    def create_multipart_copy(
        self,
        *,
        Bucket: str,
        Key: str,
        ContentType: Optional[str] = None,
        Metadata: Optional[Mapping[str, str]] = None,
        ServerSideEncryption: Optional[str] = None,
        SSEKMSKeyId: Optional[str] = None,
        ChecksumAlgorithm: Optional[str] = None,
        ChecksumType: Optional[str] = None,
    ) -> S3Answer:
        """Start the multipart upload a multipart copy fills (its ``UploadId``)."""

    def upload_part_copy(
        self,
        *,
        Bucket: str,
        Key: str,
        UploadId: str,
        PartNumber: int,
        CopySource: Mapping[str, str],
        CopySourceRange: str,
        CopySourceIfMatch: Optional[str] = None,
    ) -> S3Answer:
        """UploadPartCopy (its ``CopyPartResult``: ETag, maybe ChecksumCRC32)."""

"""``Transport`` over a botocore S3 client.

What serves every call when the fast path is off (``S3OP_FAST=0``, a
configuration only botocore understands), and what ``FastClient`` hands
the calls it cannot serve to. Arguments left ``None`` are not passed
(botocore refuses them). GET bodies are read with ``read1`` from the raw
urllib3 stream (``s3op.bodies``): ``StreamingBody.read(n)`` waits for all
``n`` bytes, so a server dripping bytes would outlast any deadline.
``get_many`` is a loop (``batches_gets`` is False): botocore sends one
request at a time per thread.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NoReturn, Optional, Sequence, cast

from s3op import bandwidth
from s3op.bodies import FastBody
from s3op.checksum import crc32_from_b64
from s3op.errors import OpError
from s3op.listpage import ListPage, page_of_answer
from s3op.protocol import ErrorKind
from s3op.serverside import ServerSideCalls
from s3op.transport import (
    Body,
    GetFailed,
    GetReplies,
    GetTarget,
    HeadReplies,
    PutReplies,
    PutUpload,
    ReplyHead,
    S3Answer,
    UploadBody,
)


def _given(**kwargs: object) -> Mapping[str, object]:
    return {name: value for name, value in kwargs.items() if value is not None}


class BotocoreTransport(ServerSideCalls):
    """The ``Transport`` calls, made by a botocore S3 client."""

    batches_gets = False

    def __init__(self, client: Any) -> None:
        self.client = client  # a botocore S3 client (botocore's classes are made at run time)

    def botocore(self) -> BotocoreTransport:
        """Itself (what sends the server-side calls)."""
        return self

    def get_object(
        self, *, Bucket: str, Key: str, Range: Optional[str] = None, IfMatch: Optional[str] = None
    ) -> S3Answer:
        """GET an object; its ``Body`` returns data as soon as any arrives."""
        answer: S3Answer = self.client.get_object(
            **_given(Bucket=Bucket, Key=Key, Range=Range, IfMatch=IfMatch)
        )
        answer["Body"] = early_body(answer)
        return answer

    def get_many(self, targets: Sequence[GetTarget]) -> GetReplies:
        """One GET after another (botocore keeps one request in flight per thread)."""
        for index, target in enumerate(targets):
            try:
                answer = self.get_object(Bucket=target.bucket, Key=target.key)
            except Exception as exc:  # noqa: BLE001 - the attempt's failure, classified later
                yield index, GetFailed(exc)
                continue
            length = int(answer["ContentLength"])
            yield index, ReplyHead(200, length, _given_answer(answer), answer["Body"].close)

    def head_many(self, targets: Sequence[GetTarget]) -> HeadReplies:
        """One HEAD after another."""
        for index, target in enumerate(targets):
            try:
                yield index, self.head_object(Bucket=target.bucket, Key=target.key)
            except Exception as exc:  # noqa: BLE001 - the attempt's failure, classified later
                yield index, GetFailed(exc)

    def put_many(self, uploads: Sequence[PutUpload]) -> PutReplies:
        """One PUT after another."""
        for index, up in enumerate(uploads):
            try:
                yield (
                    index,
                    self.put_object(
                        Bucket=up.bucket, Key=up.key, Body=up.body, Metadata=up.metadata, **up.args
                    ),
                )
            except Exception as exc:  # noqa: BLE001 - the attempt's failure, classified later
                yield index, GetFailed(exc)

    def head_object(self, *, Bucket: str, Key: str) -> S3Answer:
        """HEAD an object."""
        return self.client.head_object(Bucket=Bucket, Key=Key)

    def head_bucket(self, *, Bucket: str) -> S3Answer:
        """HEAD a bucket."""
        return self.client.head_bucket(Bucket=Bucket)

    def get_object_attributes(
        self,
        *,
        Bucket: str,
        Key: str,
        ObjectAttributes: Sequence[str],
        MaxParts: int = 1000,
        PartNumberMarker: int = 0,
    ) -> S3Answer:
        """GetObjectAttributes."""
        return self.client.get_object_attributes(
            Bucket=Bucket,
            Key=Key,
            ObjectAttributes=list(ObjectAttributes),
            MaxParts=MaxParts,
            PartNumberMarker=PartNumberMarker,
        )

    def list_objects_v2(
        self,
        *,
        Bucket: str,
        Prefix: str = "",
        Delimiter: str = "",
        ContinuationToken: Optional[str] = None,
    ) -> S3Answer:
        """One page of ListObjectsV2."""
        kwargs = _given(
            Bucket=Bucket, Prefix=Prefix, Delimiter=Delimiter, ContinuationToken=ContinuationToken
        )
        return self.client.list_objects_v2(**kwargs)

    def list_page(self, bucket: str, prefix: str, delimiter: str, token: Optional[str]) -> ListPage:
        """One page of ListObjectsV2, read (keys decoded)."""
        answer = self.list_objects_v2(
            Bucket=bucket, Prefix=prefix, Delimiter=delimiter, ContinuationToken=token
        )
        return page_of_answer(answer)

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
        kwargs = _given(
            Bucket=Bucket,
            Key=Key,
            Body=bandwidth.metered(Body),
            ContentMD5=ContentMD5,
            ContentType=ContentType,
            Metadata=Metadata,
            ServerSideEncryption=ServerSideEncryption,
            IfNoneMatch=IfNoneMatch,
            ChecksumCRC32=ChecksumCRC32,
        )
        return self.client.put_object(**kwargs)

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
        """Start a multipart upload."""
        kwargs = _given(
            Bucket=Bucket,
            Key=Key,
            ContentType=ContentType,
            Metadata=Metadata,
            ServerSideEncryption=ServerSideEncryption,
            ChecksumAlgorithm=ChecksumAlgorithm,
            ChecksumType=ChecksumType,
        )
        return self.client.create_multipart_upload(**kwargs)

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
        """Upload one part."""
        kwargs = _given(
            Bucket=Bucket,
            Key=Key,
            UploadId=UploadId,
            PartNumber=PartNumber,
            Body=bandwidth.metered(Body),
            ContentMD5=ContentMD5,
            ChecksumCRC32=ChecksumCRC32,
        )
        return self.client.upload_part(**kwargs)

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
        """Complete a multipart upload."""
        kwargs = _given(
            Bucket=Bucket,
            Key=Key,
            UploadId=UploadId,
            MultipartUpload=MultipartUpload,
            IfNoneMatch=IfNoneMatch,
            ChecksumCRC32=ChecksumCRC32,
            ChecksumType=ChecksumType,
        )
        return self.client.complete_multipart_upload(**kwargs)

    def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str) -> S3Answer:
        """Abort a multipart upload."""
        return self.client.abort_multipart_upload(Bucket=Bucket, Key=Key, UploadId=UploadId)


def _given_answer(answer: S3Answer) -> Callable[[], S3Answer]:
    return lambda: answer


def early_body(answer: S3Answer) -> Body:
    """A botocore GET answer's body, made to return data as soon as any arrives.

    Its raw urllib3 stream is read with ``read1`` and the whole-object
    CRC32 checked here (what botocore's checksum wrapper did); a body
    without a raw stream (a stub's) is left as it is.
    """
    body = answer["Body"]
    raw = getattr(body, "_raw_stream", None)
    if raw is None or not hasattr(raw, "read1"):
        return cast(Body, body)
    whole = not answer.get("ContentRange")
    crc = crc32_from_b64(answer.get("ChecksumCRC32")) if whole else None
    if answer.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
        crc = None
    return FastBody(
        raw, crc, read=lambda amt: _received(raw.read1(amt) if amt >= 0 else raw.read())
    )


def _received(data: bytes) -> bytes:
    """``data`` just read, counted against the bandwidth cap if there is one."""
    if bandwidth.LIMITER is not None:
        bandwidth.received(len(data))
    return data


class Unbuilt:
    """Stands in for a botocore client that could not be built: every call
    fails, clearly, so every job is still answered (``unbuilt_transport``)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __getattr__(self, name: str) -> Callable[..., NoReturn]:
        def fail(*args: object, **kwargs: object) -> NoReturn:
            raise OpError(ErrorKind.INVALID_REQUEST, self.message)

        return fail


def unbuilt_transport(message: str) -> BotocoreTransport:
    """A transport whose every call fails with ``invalid_request: message``."""
    return BotocoreTransport(Unbuilt(message))

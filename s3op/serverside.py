"""The server-side calls (DeleteObjects, CopyObject, UploadPartCopy, a multipart
copy's CreateMultipartUpload).

``ServerSideCalls`` holds them once; ``BotocoreTransport`` and ``FastClient``
both mix it in (each says which botocore transport serves them through
``botocore()``, and where the lean path serves a bucket: ``fast_sender``).
DeleteObjects, CopyObject and the multipart copy's create go on the lean
path where it serves the bucket (``s3op.fastdelete``, ``s3op.fastcopy``,
``s3op.fastmultipart``); UploadPartCopy always on botocore: each moves up to
gigabytes server-side, so botocore's ~1.1 ms of CPU per request is nothing
beside it.

DeleteObjects must carry a checksum of its body (S3 refuses it without
``Content-MD5`` or an ``x-amz-checksum-*`` header): botocore adds one,
its operation model marking the body's checksum as required (CRC32 since
botocore 1.36, Content-MD5 before). moto and SeaweedFS accept it in the
conformance tests (``tests/conformance_ops.py``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional, Sequence

from s3op.errors import OpError
from s3op.fastcopy import fast_copy_many, fast_copy_object
from s3op.fastdelete import fast_delete_objects
from s3op.fastmultipart import fast_create_upload
from s3op.fastsend import NotOurs
from s3op.protocol import ErrorKind
from s3op.transport import CopyReplies, NotSent, S3Answer

if TYPE_CHECKING:
    from s3op.botocore_transport import BotocoreTransport
    from s3op.fastsend import Sender


def given(**kwargs: object) -> Mapping[str, object]:
    """The arguments that are not None (botocore refuses None)."""
    return {name: value for name, value in kwargs.items() if value is not None}


@contextlib.contextmanager
def readable_answer() -> Iterator[None]:
    """A ValueError while botocore parses an answer (a timestamp or number damaged on
    the way) is a damaged answer: ``corrupt``, retried, never taken for a bug."""
    try:
        yield
    except (ValueError, LookupError) as exc:  # LookupError: an encoding name damaged
        raise OpError(ErrorKind.CORRUPT, f"unreadable answer: {exc}") from None


class ServerSideCalls:
    """DeleteObjects, CopyObject and UploadPartCopy, sent by a botocore client."""

    def botocore(self) -> BotocoreTransport:
        """The botocore transport that sends them."""
        raise NotImplementedError

    def fast_sender(self, bucket: str, key: str) -> Optional[Sender]:
        """The lean path's sender, where it serves ``bucket``/``key`` (None: botocore)."""
        return None

    def delete_objects(self, *, Bucket: str, Keys: Sequence[str]) -> S3Answer:
        """DeleteObjects (not quiet: every key deleted is named in the answer; on the
        lean path where it serves the bucket: ``s3op.fastdelete``)."""
        fast = self.fast_sender(Bucket, "")
        if fast is not None:
            try:
                return fast_delete_objects(fast, Bucket, Keys)
            except NotOurs:
                pass
        objects = [{"Key": key} for key in Keys]
        client = self.botocore().client
        with readable_answer():
            answer: S3Answer = client.delete_objects(
                Bucket=Bucket, Delete={"Objects": objects, "Quiet": False}
            )
        return answer

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
        """CopyObject (on the lean path where it serves both objects: ``s3op.fastcopy``)."""
        fast = self.fast_sender(Bucket, Key)
        if fast is not None and self.fast_sender(CopySource["Bucket"], CopySource["Key"]):
            args = {
                "CopySourceIfMatch": CopySourceIfMatch,
                "MetadataDirective": MetadataDirective,
                "ContentType": ContentType,
                "ServerSideEncryption": ServerSideEncryption,
                "SSEKMSKeyId": SSEKMSKeyId,
                "ChecksumAlgorithm": ChecksumAlgorithm,
            }
            try:
                return fast_copy_object(fast, Bucket, Key, CopySource, args, Metadata)
            except NotOurs:
                pass
        kwargs = given(
            Bucket=Bucket,
            Key=Key,
            CopySource=dict(CopySource),
            CopySourceIfMatch=CopySourceIfMatch,
            MetadataDirective=MetadataDirective,
            ContentType=ContentType,
            Metadata=dict(Metadata) if Metadata is not None else None,
            ServerSideEncryption=ServerSideEncryption,
            SSEKMSKeyId=SSEKMSKeyId,
            ChecksumAlgorithm=ChecksumAlgorithm,
        )
        with readable_answer():
            answer: S3Answer = self.botocore().client.copy_object(**kwargs)
        return answer

    def copy_many(self, copies: Sequence[Mapping[str, Any]]) -> CopyReplies:
        """CopyObjects many in flight on the lean path (``s3op.fastcopy``); none sent
        where it does not serve (``NotSent``: each is then sent alone)."""
        fast = self.fast_sender(copies[0]["Bucket"], "") if copies else None
        if fast is None:
            for index in range(len(copies)):
                yield index, NotSent()
            return
        yield from fast_copy_many(fast, copies)

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
        """CreateMultipartUpload of a multipart copy: as an upload's, plus the KMS key
        an SSE-KMS source's copy keeps (on the lean path where it serves the key)."""
        fast = self.fast_sender(Bucket, Key)
        if fast is not None:
            args = {
                "ContentType": ContentType,
                "ServerSideEncryption": ServerSideEncryption,
                "SSEKMSKeyId": SSEKMSKeyId,
                "ChecksumAlgorithm": ChecksumAlgorithm,
                "ChecksumType": ChecksumType,
            }
            try:
                return fast_create_upload(fast, Bucket, Key, args, Metadata)
            except NotOurs:
                pass
        kwargs = given(
            Bucket=Bucket,
            Key=Key,
            ContentType=ContentType,
            Metadata=dict(Metadata) if Metadata is not None else None,
            ServerSideEncryption=ServerSideEncryption,
            SSEKMSKeyId=SSEKMSKeyId,
            ChecksumAlgorithm=ChecksumAlgorithm,
            ChecksumType=ChecksumType,
        )
        with readable_answer():
            answer: S3Answer = self.botocore().client.create_multipart_upload(**kwargs)
        return answer

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
        """UploadPartCopy."""
        kwargs = given(
            Bucket=Bucket,
            Key=Key,
            UploadId=UploadId,
            PartNumber=PartNumber,
            CopySource=dict(CopySource),
            CopySourceRange=CopySourceRange,
            CopySourceIfMatch=CopySourceIfMatch,
        )
        with readable_answer():
            answer: S3Answer = self.botocore().client.upload_part_copy(**kwargs)
        return answer


__all__ = ["ServerSideCalls", "given"]

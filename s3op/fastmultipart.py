"""A multipart upload's create, complete and abort on the lean path (``s3op.fastsend``).

These three calls went through botocore, and so did the create of a
multipart copy. Each is one request per object, but the first of them in
an engine built the botocore client (~0.25 s of CPU here, 0.45 s on a busy
machine, with the upload's threads waiting on it) and every one of them
paid botocore's request pipeline (~1 ms). Now the lean path sends them
where it serves the bucket and key, and botocore only where it does not
(a bucket in another region: ``NotOurs``; keys with ``.`` segments).

The requests are botocore's: the same headers for the same arguments, and
CompleteMultipartUpload's XML body (``complete_body``), whose SHA-256 is
signed (``X-Amz-Content-SHA256``, as botocore does over plain HTTP), so a
body damaged on the way is refused by the server, never applied. Answers
take botocore's shape, with the fields the ops read: ``UploadId``; the
completed object's ``ETag`` and checksum. A 200 whose body is an ``<Error>``
(S3 may fail a completion after sending the status) raises the ClientError
it names, ranked as botocore ranks it (as a 500: a code the error table
does not know is retried); an answer that does not parse is ``corrupt``
(``answer_root``), and so is a create whose answer names no upload. An
empty 200 to a complete is an answer with no fields, as botocore takes it.

``MultipartCalls`` is the mixin ``FastClient`` takes the three calls from.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Mapping, Optional, Sequence
from urllib.parse import quote

from s3op.errors import OpError
from s3op.fastcopy import answer_root
from s3op.fastputs import put_headers
from s3op.fastsend import NotOurs, Sender
from s3op.protocol import ErrorKind
from s3op.transport import S3Answer

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from s3op.botocore_transport import BotocoreTransport

_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
#: Fields of a part's entry in the XML body, in botocore's order.
_PART_FIELDS = ("ETag", "ChecksumCRC32", "PartNumber")


def fast_create_upload(
    sender: Sender, bucket: str, key: str, args: Mapping[str, Optional[str]],
    metadata: Optional[Mapping[str, str]],
) -> S3Answer:  # fmt: skip
    """CreateMultipartUpload; ``args``: its optional arguments by botocore's names
    (None: not sent; ``fastputs.put_headers``). Answers ``{"UploadId": ...}``."""
    headers = put_headers(0, args, metadata)
    resp = sender.send(
        "POST", bucket, key, headers, query="?uploads", operation="CreateMultipartUpload"
    )
    root = answer_root(resp.read_all(), resp.headers, "CreateMultipartUpload")
    upload_id = _field(root, "UploadId")
    if not upload_id:
        raise OpError(ErrorKind.CORRUPT, "CreateMultipartUpload answer names no UploadId")
    return {"UploadId": upload_id}


def fast_complete_upload(
    sender: Sender, bucket: str, key: str, upload_id: str,
    parts: Sequence[Mapping[str, object]], args: Mapping[str, Optional[str]],
) -> S3Answer:  # fmt: skip
    """CompleteMultipartUpload of ``parts`` (botocore's ``MultipartUpload["Parts"]``);
    ``args``: ``IfNoneMatch``, ``ChecksumCRC32``, ``ChecksumType`` (None: not sent)."""
    body = complete_body(parts)
    headers = put_headers(len(body), args, None)
    headers["Content-Type"] = "application/xml"
    resp = sender.send(
        "POST", bucket, key, headers, body=body, query=_upload_query(upload_id),
        operation="CompleteMultipartUpload", payload=hashlib.sha256(body).hexdigest(),
    )  # fmt: skip
    return complete_answer(resp.read_all(), resp.headers)


def complete_answer(body: bytes, headers: Mapping[str, str]) -> S3Answer:
    """A 200 answer to CompleteMultipartUpload, in botocore's shape. An empty body is
    an answer with no fields, as botocore takes it (no ETag to check then)."""
    answer: S3Answer = {}
    if body.strip():
        root = answer_root(body, headers, "CompleteMultipartUpload")
        for name in ("ETag", "ChecksumCRC32", "ChecksumType"):
            value = _field(root, name)
            if value is not None:
                answer[name] = value
    version = headers.get("x-amz-version-id")
    if version:
        answer["VersionId"] = version
    return answer


def fast_abort_upload(sender: Sender, bucket: str, key: str, upload_id: str) -> S3Answer:
    """AbortMultipartUpload (its parts are dropped)."""
    resp = sender.send(
        "DELETE", bucket, key, {}, query=_upload_query(upload_id),
        operation="AbortMultipartUpload",
    )  # fmt: skip
    resp.read_all()  # returns the connection to the pool
    return {}


def complete_body(parts: Sequence[Mapping[str, object]]) -> bytes:
    """CompleteMultipartUpload's XML for ``parts`` (each a dict of botocore's part
    fields: ``PartNumber``, ``ETag``, optionally ``ChecksumCRC32``)."""
    from xml.sax.saxutils import escape  # here: off the engine's start-up path

    entries = []
    for part in parts:
        fields = "".join(
            f"<{name}>{escape(str(part[name]))}</{name}>" for name in _PART_FIELDS if name in part
        )
        entries.append(f"<Part>{fields}</Part>")
    text = f'<CompleteMultipartUpload xmlns="{_NS}">{"".join(entries)}</CompleteMultipartUpload>'
    return text.encode("utf-8")


class MultipartCalls:
    """create, complete and abort of a multipart upload: on the lean path where it
    serves the bucket and key, else botocore (the class that mixes it in gives both)."""

    def botocore(self) -> BotocoreTransport:
        raise NotImplementedError

    def fast_sender(self, bucket: str, key: str) -> Optional[Sender]:
        raise NotImplementedError

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
        args = {
            "ContentType": ContentType,
            "ServerSideEncryption": ServerSideEncryption,
            "ChecksumAlgorithm": ChecksumAlgorithm,
            "ChecksumType": ChecksumType,
        }
        fast = self.fast_sender(Bucket, Key)
        if fast is not None:
            try:
                return fast_create_upload(fast, Bucket, Key, args, Metadata)
            except NotOurs:
                pass
        return self.botocore().create_multipart_upload(
            Bucket=Bucket,
            Key=Key,
            ContentType=ContentType,
            Metadata=Metadata,
            ServerSideEncryption=ServerSideEncryption,
            ChecksumAlgorithm=ChecksumAlgorithm,
            ChecksumType=ChecksumType,
        )

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
        args = {
            "IfNoneMatch": IfNoneMatch,
            "ChecksumCRC32": ChecksumCRC32,
            "ChecksumType": ChecksumType,
        }
        fast = self.fast_sender(Bucket, Key)
        if fast is not None:
            try:
                parts = MultipartUpload["Parts"]
                return fast_complete_upload(fast, Bucket, Key, UploadId, parts, args)
            except NotOurs:
                pass
        return self.botocore().complete_multipart_upload(
            Bucket=Bucket,
            Key=Key,
            UploadId=UploadId,
            MultipartUpload=MultipartUpload,
            IfNoneMatch=IfNoneMatch,
            ChecksumCRC32=ChecksumCRC32,
            ChecksumType=ChecksumType,
        )

    def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str) -> S3Answer:
        """Abort a multipart upload (its parts are dropped)."""
        fast = self.fast_sender(Bucket, Key)
        if fast is not None:
            try:
                return fast_abort_upload(fast, Bucket, Key, UploadId)
            except NotOurs:
                pass
        return self.botocore().abort_multipart_upload(Bucket=Bucket, Key=Key, UploadId=UploadId)


def _upload_query(upload_id: str) -> str:
    return f"?uploadId={quote(upload_id, safe='')}"


def _field(root: Element, name: str) -> Optional[str]:
    """The text of ``root``'s child ``name``, in S3's namespace or none."""
    found = root.findtext(f"{{{_NS}}}{name}")
    return root.findtext(name) if found is None else found


__all__ = [
    "MultipartCalls",
    "complete_answer",
    "complete_body",
    "fast_abort_upload",
    "fast_complete_upload",
    "fast_create_upload",
]

"""CopyObject on the lean HTTP/1.1 path (``s3op.fastsend``): a PUT with a copy source.

A small copy is one request whose work is the server's; botocore's
pipeline would cost more CPU here than the copy costs us (~1.1 ms a
request, plus parsing). The request is botocore's CopyObject, header for
header; the answer's XML (``CopyObjectResult``) is parsed into botocore's
shape. S3 may answer 200 with an ``<Error>`` body (a copy that failed after
the status was sent): that is raised as the ClientError it names. An answer
that does not parse (damaged on the way) is ``corrupt``.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional
from urllib.parse import quote
from xml.etree import ElementTree

from s3op.errors import OpError
from s3op.fastsend import Sender
from s3op.protocol import ErrorKind
from s3op.transport import S3Answer

#: copy_object arguments sent as plain headers.
_COPY_HEADERS = {
    "CopySourceIfMatch": "x-amz-copy-source-if-match",
    "MetadataDirective": "x-amz-metadata-directive",
    "ContentType": "Content-Type",
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
    "ChecksumAlgorithm": "x-amz-checksum-algorithm",
}


def fast_copy_object(
    sender: Sender,
    bucket: str,
    key: str,
    source: Mapping[str, str],
    args: Mapping[str, Optional[str]],
    metadata: Optional[Mapping[str, str]],
) -> S3Answer:
    """Send a CopyObject; its answer in botocore's shape (``CopyObjectResult``)."""
    headers: Dict[str, str] = {
        "Content-Length": "0",
        "x-amz-copy-source": quote(f"{source['Bucket']}/{source['Key']}", safe="/~"),
    }
    for arg, value in args.items():
        if value:
            headers[_COPY_HEADERS[arg]] = value
    for name, value in (metadata or {}).items():
        headers[f"x-amz-meta-{name}"] = value
    resp = sender.send("PUT", bucket, key, headers, body=b"", operation="CopyObject")
    return parse_copy_answer(resp.read_all(), dict(resp.headers))


def parse_copy_answer(body: bytes, headers: Mapping[str, str]) -> S3Answer:
    """A CopyObject answer's XML -> ``{"CopyObjectResult": {...}}``."""
    root = answer_root(body, headers, "CopyObject")
    fields = {child.tag.rpartition("}")[2]: child.text or "" for child in root}
    result = {k: fields[k] for k in ("ETag", "ChecksumCRC32") if k in fields}
    return {"CopyObjectResult": result}


def answer_root(body: bytes, headers: Mapping[str, str], operation: str) -> ElementTree.Element:
    """The root element of a 200 answer's XML. An ``<Error>`` root (S3 failed after
    sending the status) raises the ClientError it names; XML that does not parse
    (damaged on the way) is ``corrupt``."""
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, LookupError, ValueError) as exc:  # LookupError: a
        # flipped byte in the declaration's encoding name ("UTFC8")
        raise OpError(ErrorKind.CORRUPT, f"unreadable {operation} answer: {exc}") from None
    if root.tag.rpartition("}")[2] == "Error":
        from botocore.exceptions import ClientError

        fields = {child.tag.rpartition("}")[2]: child.text or "" for child in root}
        error: Any = {
            "Error": {"Code": fields.get("Code", ""), "Message": fields.get("Message", "")},
            "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": dict(headers)},
        }
        raise ClientError(error, operation)
    return root


__all__ = ["answer_root", "fast_copy_object", "parse_copy_answer"]

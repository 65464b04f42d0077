"""CopyObject on the lean HTTP/1.1 path (``s3op.fastsend``): a PUT with a copy source.

A small copy is one request whose work is the server's; botocore's
pipeline would cost more CPU here than the copy costs us (~1.1 ms a
request, plus parsing). The request is botocore's CopyObject, header for
header; the answer's XML (``CopyObjectResult``) is parsed into botocore's
shape. S3 may answer 200 with an ``<Error>`` body (a copy that failed after
the status was sent): that is raised as the ClientError it names. An answer
that does not parse (damaged on the way) is ``corrupt``.

``fast_copy_many`` sends many small copies at once on one thread, as
``s3op.fastmany`` does GETs (``s3op.ops.multicopy``): each answer's body
is read and parsed the same way, an ``<Error>`` in a 200 being a failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Sequence, Union
from urllib.parse import quote

from s3op.errors import OpError
from s3op.fastmany import Outgoing, exchange
from s3op.fastsend import NotOurs, Sender
from s3op.http1_conn import Response
from s3op.protocol import ErrorKind
from s3op.responses import xml_root
from s3op.transport import CopyReplies, GetFailed, HeadReply, NotSent, S3Answer

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

#: copy_object arguments sent as plain headers.
_COPY_HEADERS = {
    "CopySourceIfMatch": "x-amz-copy-source-if-match",
    "MetadataDirective": "x-amz-metadata-directive",
    "ContentType": "Content-Type",
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
    "ChecksumAlgorithm": "x-amz-checksum-algorithm",
}


def copy_headers(
    source: Mapping[str, str],
    args: Mapping[str, Optional[str]],
    metadata: Optional[Mapping[str, str]],
) -> Dict[str, str]:
    """The headers of a CopyObject of ``source``: ``args`` are copy_object's optional
    arguments (botocore's names; None or empty: not sent), ``metadata`` encoded."""
    headers: Dict[str, str] = {
        "Content-Length": "0",
        "x-amz-copy-source": quote(f"{source['Bucket']}/{source['Key']}", safe="/~"),
    }
    for arg, value in args.items():
        if value:
            headers[_COPY_HEADERS[arg]] = value
    for name, value in (metadata or {}).items():
        headers[f"x-amz-meta-{name}"] = value
    return headers


def fast_copy_object(
    sender: Sender,
    bucket: str,
    key: str,
    source: Mapping[str, str],
    args: Mapping[str, Optional[str]],
    metadata: Optional[Mapping[str, str]],
) -> S3Answer:
    """Send a CopyObject; its answer in botocore's shape (``CopyObjectResult``)."""
    headers = copy_headers(source, args, metadata)
    resp = sender.send("PUT", bucket, key, headers, body=b"", operation="CopyObject")
    return parse_copy_answer(resp.read_all(), dict(resp.headers))


def fast_copy_many(sender: Sender, copies: Sequence[Mapping[str, Any]]) -> CopyReplies:
    """(index, copy_object's answer, or why not) for every copy (copy_object's
    arguments), as each ends (``Transport.copy_many``). A copy whose source the
    lean path does not serve is left unsent (``NotSent``)."""
    sendable = [i for i, c in enumerate(copies) if _serves_source(sender, c["CopySource"])]
    for index in sorted(set(range(len(copies))) - set(sendable)):
        yield index, NotSent()
    requests = (_outgoing(copies[index]) for index in sendable)
    for n, got in exchange(sender, requests):
        index = sendable[n]
        yield index, _copy_reply(sender, got, copies[index]["Bucket"])


def _serves_source(sender: Sender, source: Mapping[str, str]) -> bool:
    return sender.serves(source["Bucket"], source["Key"])


def _outgoing(call: Mapping[str, Any]) -> Outgoing:
    """One CopyObject of a batch, from copy_object's arguments."""
    args = {name: call.get(name) for name in _COPY_HEADERS}
    headers = copy_headers(call["CopySource"], args, call.get("Metadata"))
    return ("PUT", call["Bucket"], call["Key"], headers, b"")


def _copy_reply(
    sender: Sender, got: Union[Response, Exception, NotSent, GetFailed], bucket: str
) -> HeadReply:
    """A batched CopyObject's answer, or why there is none (an error status, or an
    ``<Error>`` in a 200's body: ``GetFailed``; a bucket in another region:
    ``NotSent``, botocore sends it)."""
    if isinstance(got, (NotSent, GetFailed)):
        return got
    if isinstance(got, Exception):
        return GetFailed(got)
    try:
        checked = sender.check(got, bucket, "PUT", "CopyObject")
        return parse_copy_answer(checked.read_all(), dict(checked.headers))
    except NotOurs:
        return NotSent()
    except Exception as exc:  # noqa: BLE001 - the attempt's failure, classified later
        return GetFailed(exc)


def parse_copy_answer(body: bytes, headers: Mapping[str, str]) -> S3Answer:
    """A CopyObject answer's XML -> ``{"CopyObjectResult": {...}}``."""
    root = answer_root(body, headers, "CopyObject")
    fields = {child.tag.rpartition("}")[2]: child.text or "" for child in root}
    result = {k: fields[k] for k in ("ETag", "ChecksumCRC32") if k in fields}
    return {"CopyObjectResult": result}


def answer_root(body: bytes, headers: Mapping[str, str], operation: str) -> Element:
    """The root element of a 200 answer's XML. An ``<Error>`` root (S3 failed after
    sending the status) raises the ClientError it names, with status 500 as
    botocore gives it (``_handle_200_error``), so a code the error table does not
    know is retried, never taken for a bad request; XML that does not parse
    (damaged on the way) is ``corrupt``. Whitespace before the XML (S3 and
    others send some while a long call works) is skipped."""
    from xml.etree.ElementTree import ParseError

    try:
        root = xml_root(body.lstrip())
    except (ParseError, LookupError, ValueError) as exc:  # LookupError: a
        # flipped byte in the declaration's encoding name ("UTFC8")
        raise OpError(ErrorKind.CORRUPT, f"unreadable {operation} answer: {exc}") from None
    if root.tag.rpartition("}")[2] == "Error":
        from botocore.exceptions import ClientError

        fields = {child.tag.rpartition("}")[2]: child.text or "" for child in root}
        error: Any = {
            "Error": {"Code": fields.get("Code", ""), "Message": fields.get("Message", "")},
            "ResponseMetadata": {"HTTPStatusCode": 500, "HTTPHeaders": dict(headers)},
        }
        raise ClientError(error, operation)
    return root


__all__ = ["answer_root", "copy_headers", "fast_copy_many", "fast_copy_object", "parse_copy_answer"]

"""PUTs of the fast path: the headers a PUT sends, and small PUTs batched.

``put_headers`` turns put_object's arguments (botocore's names) into the
headers of a PUT, for one PUT (``FastClient.put_object``) and for many.

``put_many`` signs and sends every small PUT of a batch at once, each on
its own keep-alive connection with its body in memory (``s3op.inflight``),
and yields put_object's answer for each as it arrives; an error status is a
``GetFailed`` holding botocore's ``ClientError``, as ``head_many`` does.
Nothing is sent twice here (``s3op.http1`` never resends a PUT): a request
that got no answer fails, and only the ops' retry loop may send it again.
Once a request cannot be sent (no connection), the rest are left unsent
(``NotSent``), and so is any the fast path does not serve
(``Sender.serves``, or a bucket found to be in another region).
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

from s3op.fastmany import answer_of, exchange
from s3op.fastsend import Sender
from s3op.transport import PutReplies, PutUpload

#: Arguments sent as plain headers, by botocore's names: put_object's and
#: upload_part's, and those of a multipart upload's create and complete
#: (``s3op.fastmultipart``), which name the same headers.
_PUT_HEADERS = {
    "ContentMD5": "Content-MD5",
    "ContentType": "Content-Type",
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
    "IfNoneMatch": "If-None-Match",
    "ChecksumCRC32": "x-amz-checksum-crc32",
    "ChecksumAlgorithm": "x-amz-checksum-algorithm",
    "ChecksumType": "x-amz-checksum-type",
}


def put_headers(
    length: int, args: Mapping[str, Optional[str]], metadata: Optional[Mapping[str, str]]
) -> Dict[str, str]:
    """The headers of a PUT (or POST) of ``length`` bytes: ``args`` are the call's
    optional arguments (botocore's names, ``_PUT_HEADERS``; None or empty: not
    sent), ``metadata`` encoded."""
    headers: Dict[str, str] = {"Content-Length": str(length)}
    for arg, value in args.items():
        if value:
            headers[_PUT_HEADERS[arg]] = value
    for name, value in (metadata or {}).items():
        headers[f"x-amz-meta-{name}"] = value
    return headers


def put_many(sender: Sender, uploads: Sequence[PutUpload]) -> PutReplies:
    """(index, put_object's answer, or why not) for every upload, as each ends
    (``Transport.put_many``)."""
    requests = (
        ("PUT", up.bucket, up.key, put_headers(len(up.body), up.args, up.metadata), up.body)
        for up in uploads
    )
    for index, got in exchange(sender, requests):
        yield index, answer_of(sender, got, uploads[index].bucket, "PUT")

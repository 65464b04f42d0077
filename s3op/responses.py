"""S3 responses, read without botocore: headers, attributes, errors.

The fast path (``s3op.fastpath``) answers in botocore's shapes so the ops
and the error table never know which path served them: response headers
become botocore's field names, and an error response becomes botocore's
``ClientError``. Listing pages are read by ``s3op.listpage``.
"""

from __future__ import annotations

import datetime
import functools
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Union

from s3op.http1_conn import Response
from s3op.transport import S3Answer

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def xml_root(body: bytes) -> Element:
    """The root of an XML answer (``xml.etree.ElementTree.ParseError`` if it is not XML).

    ElementTree is imported here: a batch of GETs that succeed reads no XML,
    and an engine's start-up need not pay for it (~2 ms).
    """
    from xml.etree import ElementTree

    return ElementTree.fromstring(body)


def parse_attributes(body: bytes) -> S3Answer:
    """A GetObjectAttributes XML answer -> botocore's dict (ETag, ObjectSize, ObjectParts
    with its Parts; the attributes ``s3op.parts`` asks for)."""
    root = xml_root(body)
    ns = _NS if root.tag.startswith(_NS) else ""
    out: S3Answer = {}
    etag, size = root.findtext(f"{ns}ETag"), root.findtext(f"{ns}ObjectSize")
    if etag:
        out["ETag"] = etag
    if size:
        out["ObjectSize"] = int(size)
    node = root.find(f"{ns}ObjectParts")
    if node is not None:
        parts: Dict[str, Union[bool, int, List[Dict[str, int]]]] = {
            "IsTruncated": (node.findtext(f"{ns}IsTruncated") or "").lower() == "true"
        }
        for name in ("TotalPartsCount", "PartNumberMarker", "NextPartNumberMarker", "MaxParts"):
            text = node.findtext(f"{ns}{name}")
            if text:
                parts[name] = int(text)
        listed = [
            {"PartNumber": int(p.findtext(f"{ns}PartNumber") or 0),
             "Size": int(p.findtext(f"{ns}Size") or 0)}
            for p in node.findall(f"{ns}Part")
        ]  # fmt: skip
        if listed:
            parts["Parts"] = listed
        out["ObjectParts"] = parts
    return out


#: botocore's fields for the response headers sent only sometimes.
_OPTIONAL = (
    ("ContentRange", "content-range"),
    ("ServerSideEncryption", "x-amz-server-side-encryption"),
    ("SSEKMSKeyId", "x-amz-server-side-encryption-aws-kms-key-id"),
    ("SSECustomerAlgorithm", "x-amz-server-side-encryption-customer-algorithm"),
    ("ChecksumCRC32", "x-amz-checksum-crc32"),
    ("ChecksumType", "x-amz-checksum-type"),
)


def describe_headers(headers: Mapping[str, str]) -> S3Answer:
    """botocore's field names for the (lower-case) response headers we use."""
    out: S3Answer = {
        "ContentLength": int(headers.get("content-length", 0)),
        "ETag": headers.get("etag"),
        "ContentType": headers.get("content-type"),
        "Metadata": {
            name[11:]: value for name, value in headers.items() if name.startswith("x-amz-meta-")
        },
    }
    for field, header in _OPTIONAL:
        value = headers.get(header)
        if value is not None:
            out[field] = value
    modified = headers.get("last-modified")
    if modified:
        out["LastModified"] = http_time(modified)
    return out


@functools.lru_cache(maxsize=1024)
def http_time(text: str) -> datetime.datetime:
    """An HTTP date (``Thu, 03 Dec 2026 19:47:40 GMT``) as an aware UTC datetime.

    Remembered: the objects of a batch were often written within the same
    few seconds, and parsing one costs ~5 us against ~0.2 for a hit
    (datetimes are immutable, so every answer may share one). The form S3
    sends is read here; any other goes to ``email.utils`` (imported then:
    with ``calendar`` and ``locale`` it is ~3.5 ms of an engine's start-up).
    """
    fixed = _fixdate(text)
    if fixed is not None:
        return fixed
    import email.utils

    return email.utils.parsedate_to_datetime(text).astimezone(datetime.timezone.utc)


_MONTH_NAMES = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}


def _fixdate(text: str) -> Optional[datetime.datetime]:
    """RFC 9110's IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``), exactly; None for
    anything else. The weekday is not checked: ``email.utils`` does not check it."""
    parts = text.split(" ")
    if len(parts) != 6 or parts[5] != "GMT" or len(parts[0]) != 4 or parts[0][3] != ",":
        return None
    day, month, year, clock = parts[1:5]
    hms = clock.split(":")
    digits = day + year + "".join(hms)
    shape = (len(day), len(year), len(hms), *map(len, hms))
    if month not in _MONTHS or shape != (2, 4, 3, 2, 2, 2) or not _ascii_digits(digits):
        return None
    if int(year) < 100:  # email.utils reads years 0-99 as 1969-2068, as two-digit ones
        return None
    try:
        return datetime.datetime(
            int(year), _MONTHS[month], int(day), int(hms[0]), int(hms[1]), int(hms[2]),
            tzinfo=datetime.timezone.utc,
        )  # fmt: skip
    except ValueError:  # 31 Feb, second 60...: email.utils decides
        return None


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def raise_error(resp: Response, method: str, operation: Optional[str] = None) -> None:
    """Turn an S3 error response into botocore's ClientError.

    ``operation`` is botocore's name for the call (default: ``GetObject``,
    ``HeadObject`` or ``PutObject`` by ``method``). It matters to the error
    table for a bare 404: to ``HeadBucket`` it means the bucket is missing.
    The code is the XML body's (``NoSuchKey``, ``NoSuchBucket``...) when
    there is one; a body-less 404 (any HEAD) gets ``NotFound``.
    """
    from xml.etree.ElementTree import ParseError

    from botocore.exceptions import ClientError

    body = b"" if method == "HEAD" else resp.read_all()
    code, message = str(resp.status), resp.reason or ""
    try:
        root = xml_root(body) if body else None
    except ParseError:
        root = None
    if root is not None:
        code = root.findtext("Code") or code
        message = root.findtext("Message") or message
    elif resp.status == 404:
        code = "NotFound"
    error: Any = {  # botocore types it as a TypedDict of fields S3 leaves out here
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": resp.status, "HTTPHeaders": dict(resp.headers)},
    }
    default = {"GET": "GetObject", "HEAD": "HeadObject"}.get(method, "PutObject")
    raise ClientError(error, operation or default)

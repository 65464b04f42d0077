"""One ListObjectsV2 page, read: ``ListPage``, by a targeted scan or by ElementTree.

A page of 1,000 keys is ~200 KB of XML. ElementTree builds ~8,000
elements from it and ``findtext`` walks them: ~3.5 ms a page, as much CPU
as the rest of a listing's work in the engine. S3 writes these pages in
one plain form (no comments, CDATA, processing instructions, attributes or
namespace prefixes below the root), so ``read_page`` reads that form with a
few regular-expression passes over the text (~1 ms), and hands every other
page to ElementTree (``read_page_tree``). The two read every page the scan
accepts the same way (``tests/unit/test_listpage.py`` holds them to it);
the scan also checks its counts against each other and against the page's
``KeyCount`` before trusting them. Like ElementTree, it decodes the five
XML entities and character references; unlike it, it does not validate a
page it accepts (a server sending broken XML is not caught here).

``encoding-type=url`` pages (what the fast path asks for) have their keys
and prefixes URL-decoded, as botocore does.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote_plus

#: One object of a page: (key, size, last modified as Unix seconds or None, ETag or None).
PageObject = Tuple[str, int, Optional[int], Optional[str]]


@dataclass(frozen=True)
class ListPage:
    """What one ListObjectsV2 page says, keys decoded; its objects by column."""

    keys: Tuple[str, ...] = ()
    sizes: Tuple[int, ...] = ()
    modified: Tuple[Optional[int], ...] = ()  # Unix seconds (None: not given)
    etags: Tuple[Optional[str], ...] = ()
    prefixes: Tuple[str, ...] = ()  # the common prefixes (listings with a delimiter)
    truncated: bool = False  # more pages follow
    token: Optional[str] = None  # the next page's continuation token

    @property
    def objects(self) -> List[PageObject]:
        """Each object as (key, size, modified, etag)."""
        return list(zip(self.keys, self.sizes, self.modified, self.etags))

    @classmethod
    def of(
        cls, objects: List[PageObject], prefixes: Tuple[str, ...], truncated: bool,
        token: Optional[str],
    ) -> ListPage:  # fmt: skip
        """A page from its objects as (key, size, modified, etag) rows."""
        keys, sizes, modified, etags = zip(*objects) if objects else ((), (), (), ())
        return cls(keys, sizes, modified, etags, prefixes, truncated, token)


class _NotPlain(Exception):
    """The page is not in the plain form the scan reads: ElementTree reads it."""


def read_page(body: bytes) -> ListPage:
    """Read a ListObjectsV2 XML page (``ParseError`` if it is not XML)."""
    try:
        return _scan(body.decode("utf-8"))
    except (_NotPlain, UnicodeDecodeError):
        return read_page_tree(body)


# ------------------------------------------------------------------ the scan

_HEAD = re.compile(
    r'(?:<\?xml[ \t\n][^<>?]*\?>)?[ \t\n]*'
    r'<ListBucketResult(?:[ \t\n]+xmlns="http://s3\.amazonaws\.com/doc/2006-03-01/")?[ \t\n]*>'
)  # fmt: skip
_DECLARED = re.compile(r"""encoding[ \t\n]*=[ \t\n]*["']([^"']*)["']""")
_TAIL = "</ListBucketResult>"


def _field(name: str) -> re.Pattern[str]:
    return re.compile(f"<{name}>([^<]*)</{name}>")


_KEY, _SIZE, _ETAG, _MODIFIED = (_field(n) for n in ("Key", "Size", "ETag", "LastModified"))
_TRUNCATED, _TOKEN = _field("IsTruncated"), _field("NextContinuationToken")
_ENCODING, _KEY_COUNT = _field("EncodingType"), _field("KeyCount")
_PREFIX = re.compile(
    r"<CommonPrefixes>[ \t\n]*<Prefix>([^<]*)</Prefix>[ \t\n]*</CommonPrefixes>"
)  # fmt: skip


def _scan(text: str) -> ListPage:
    start = _plain_start(text)
    count = text.count("<Contents>", start)
    keys, sizes = _KEY.findall(text, start), _SIZE.findall(text, start)
    etags, modified = _ETAG.findall(text, start), _MODIFIED.findall(text, start)
    if any(len(found) != count for found in (keys, sizes, etags, modified)):
        raise _NotPlain  # an object lacks a field, or has one in a form we do not read
    groups = text.count("<CommonPrefixes>", start)
    prefixes = _PREFIX.findall(text, start) if groups else []
    if len(prefixes) != groups:
        raise _NotPlain
    top = _Top(text, start, count, groups)
    if top.key_count is not None and _count(top.key_count) != count + groups:
        raise _NotPlain  # the server counted elements the scan did not see
    encoded = _text(top.encoding or "").lower() == "url"
    return ListPage(
        tuple(_keys(keys, encoded)),
        tuple(map(int, sizes)) if "" not in sizes else tuple(int(n or 0) for n in sizes),
        tuple(_stamps(_texts(modified))),
        tuple(_texts(etags)),
        tuple(_keys(prefixes, encoded)),
        _text(top.truncated).lower() == "true",
        _text(top.token) if top.token else None,
    )


class _Top:
    """The root's own fields (``IsTruncated``...), read where S3 puts them: before
    the first object or prefix, or after the last (the middle can be 200 KB)."""

    def __init__(self, text: str, start: int, count: int, groups: int) -> None:
        first = min(text.find("<Contents>", start) if count else len(text),
                    text.find("<CommonPrefixes>", start) if groups else len(text))  # fmt: skip
        last = max(text.rfind("</Contents>") if count else start,
                   text.rfind("</CommonPrefixes>") if groups else start)  # fmt: skip
        middle = first < last
        outer = text[start:first] + text[last:] if middle else text[start:]
        truncated = _one(_TRUNCATED, outer)
        if truncated is None:  # S3 always says; elsewhere in the page is not its form
            raise _NotPlain
        self.truncated = truncated
        self.token = _one(_TOKEN, outer)
        if self.token is None and _text(truncated).lower() == "true":
            raise _NotPlain
        self.encoding = _one(_ENCODING, outer)
        if self.encoding is None and middle and "<EncodingType>" in text:
            raise _NotPlain
        self.key_count = _one(_KEY_COUNT, outer)


def _plain_start(text: str) -> int:
    """Where the root's children begin, if the page is in the plain form (else _NotPlain)."""
    head = _HEAD.match(text)
    if head is None or not text.rstrip(" \t\n").endswith(_TAIL):
        raise _NotPlain
    declared = _DECLARED.search(head.group())
    if declared is not None and declared.group(1).lower().replace("_", "-") != "utf-8":
        raise _NotPlain
    start = head.end()
    # One-character searches first: they are memchr's, and "!" and "?" are rare in a page.
    if "!" in text and "<!" in text:
        raise _NotPlain  # comments, CDATA, DTDs
    if text.find("?", start) >= 0 and text.find("<?", start) >= 0:
        raise _NotPlain  # processing instructions
    if "\r" in text:
        raise _NotPlain  # XML reads CR LF as LF
    return start


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _NotPlain from None


def _one(pattern: re.Pattern[str], text: str) -> Optional[str]:
    """The text of a field that appears at most once (_NotPlain if it is there twice)."""
    found = pattern.findall(text)
    if len(found) > 1:
        raise _NotPlain
    return found[0] if found else None


_ENTITY = re.compile(r"&(?:#([0-9]+)|#x([0-9A-Fa-f]+)|(lt|gt|amp|quot|apos));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _text(raw: str) -> str:
    """XML text with its entities and character references decoded."""
    if "&" not in raw:
        return raw
    quoted = raw.replace("&#34;", '"').replace("&quot;", '"')  # ETags' quotes: the usual case
    if "&" not in quoted:
        return quoted
    out, replaced = _ENTITY.subn(_entity, raw)
    if replaced != raw.count("&"):
        raise _NotPlain  # an entity XML does not define: ElementTree reports it
    return out


def _entity(match: re.Match[str]) -> str:
    decimal, hexadecimal, name = match.groups()
    if name:
        return _NAMED[name]
    point = int(decimal) if decimal else int(hexadecimal, 16)
    if not _xml_char(point):
        raise _NotPlain
    return chr(point)


def _xml_char(point: int) -> bool:
    return (
        point in (0x9, 0xA, 0xD)
        or 0x20 <= point <= 0xD7FF
        or 0xE000 <= point <= 0xFFFD
        or 0x10000 <= point <= 0x10FFFF
    )


def _texts(raws: List[str]) -> List[str]:
    """``_text`` of each. The usual entities, ETags' quotes, are decoded in one pass
    over the texts joined by ``<``, which no XML text holds (nor decodes to ``<``)."""
    joined = "<".join(raws)
    if "&" not in joined:
        return raws
    quoted = joined.replace("&#34;", '"').replace("&quot;", '"')
    texts = quoted.split("<")
    return texts if "&" not in quoted else [_text(t) if "&" in t else t for t in texts]


def _keys(raws: List[str], encoded: bool) -> List[str]:
    """Keys (or prefixes) as XML texts, URL-decoded if ``encoded``."""
    texts = _texts(raws)
    if not encoded:
        return texts
    raw = "<".join(raws)  # without "&", the texts are the raws: nothing to decode if no % or +
    if "%" not in raw and "+" not in raw and "&" not in raw:
        return texts
    return [unquote_plus(text) for text in texts]


def _stamps(texts: List[str]) -> List[Optional[int]]:
    """``epoch`` of each non-empty text (None for an empty one), each distinct one once."""
    known = {text: epoch(text) if text else None for text in set(texts)}
    return [known[text] for text in texts]


# ---------------------------------------------------------------- times

_EPOCHS: Dict[str, int] = {}
_EPOCHS_MAX = 4096


def epoch(text: str) -> int:
    """An S3 ISO 8601 time ("2026-11-24T08:30:05.000Z") as whole Unix seconds.

    Remembered by the second: the objects of a page were often written within
    the same few seconds, and a hit costs a tenth of a parse.
    """
    head, tail = text[:19], text[19:]
    if tail != "Z" and not (tail[:1] == "." and tail[-1:] == "Z" and tail[1:-1].isdigit()):
        return int(iso_time(text).timestamp())
    found = _EPOCHS.get(head)
    if found is None:
        if len(_EPOCHS) >= _EPOCHS_MAX:
            _EPOCHS.clear()
        found = _EPOCHS[head] = int(iso_time(head + "Z").timestamp())
    return found


def iso_time(text: str) -> datetime.datetime:
    """S3's ISO 8601 times ("2026-11-24T08:30:05.000Z") on any Python >= 3.7 (whole
    seconds: a listing's times have no more)."""
    text = text.strip().replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(text[:19] + text[-6:] if "." in text else text)


# ------------------------------------------------------------ ElementTree

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def read_page_tree(body: bytes) -> ListPage:
    """Read any ListObjectsV2 XML page with ElementTree (``ParseError`` if it is not XML)."""
    from xml.etree import ElementTree  # here: most engines never read a page this way

    root = ElementTree.fromstring(body)
    ns = _NS if root.tag.startswith(_NS) else ""
    encoded = (root.findtext(f"{ns}EncodingType") or "").lower() == "url"

    def decode(text: Optional[str]) -> str:
        return unquote_plus(text or "") if encoded else (text or "")

    objects: List[PageObject] = []
    for item in root.iter(f"{ns}Contents"):
        modified = item.findtext(f"{ns}LastModified")
        objects.append(
            (
                decode(item.findtext(f"{ns}Key")),
                int(item.findtext(f"{ns}Size") or 0),
                int(iso_time(modified).timestamp()) if modified else None,
                item.findtext(f"{ns}ETag"),
            )
        )
    prefixes = tuple(decode(p.findtext(f"{ns}Prefix")) for p in root.iter(f"{ns}CommonPrefixes"))
    truncated = (root.findtext(f"{ns}IsTruncated") or "").lower() == "true"
    token = root.findtext(f"{ns}NextContinuationToken") or None
    return ListPage.of(objects, prefixes, truncated, token)


# ------------------------------------------------------- botocore's shape

_UTC = datetime.timezone.utc


def page_of_answer(answer: Dict[str, Any]) -> ListPage:
    """botocore's ListObjectsV2 dict as a ``ListPage``."""
    objects: List[PageObject] = []
    for item in answer.get("Contents", []):
        modified = item.get("LastModified")
        stamp = int(modified.timestamp()) if modified is not None else None
        objects.append((item["Key"], int(item["Size"]), stamp, item.get("ETag")))
    prefixes = tuple(p["Prefix"] for p in answer.get("CommonPrefixes", []))
    token = answer.get("NextContinuationToken") or None
    return ListPage.of(objects, prefixes, bool(answer.get("IsTruncated")), token)


def answer_of_page(page: ListPage) -> Dict[str, Any]:
    """A ``ListPage`` in botocore's shape (``LastModified`` an aware UTC datetime)."""
    contents = []
    for key, size, stamp, etag in zip(page.keys, page.sizes, page.modified, page.etags):
        entry: Dict[str, Any] = {"Key": key, "Size": size, "ETag": etag}
        if stamp is not None:
            entry["LastModified"] = datetime.datetime.fromtimestamp(stamp, _UTC)
        contents.append(entry)
    out: Dict[str, Any] = {
        "IsTruncated": page.truncated,
        "Contents": contents,
        "CommonPrefixes": [{"Prefix": p} for p in page.prefixes],
    }
    if page.token:
        out["NextContinuationToken"] = page.token
    return out


__all__ = ["ListPage", "PageObject", "answer_of_page", "epoch", "iso_time", "page_of_answer",
           "read_page", "read_page_tree"]  # fmt: skip

"""Reading ListObjectsV2 pages (``s3op.listpage``): the scan against ElementTree.

Every page here is read twice: by ``read_page`` (the scan, or ElementTree
when the page is not in the plain form) and by ``read_page_tree``
(ElementTree alone); the two must agree. Pages in S3's own forms (AWS's
order, SeaweedFS's, pretty-printed) must be read by the scan itself, and a
few readings are spelled out so that both readers cannot be wrong together.
"""

from __future__ import annotations

import datetime
import random
from typing import List, Optional, Sequence, Tuple
from urllib.parse import quote
from xml.etree.ElementTree import ParseError

import pytest

from s3op import listpage
from s3op.listpage import (
    ListPage,
    answer_of_page,
    epoch,
    iso_time,
    page_of_answer,
    read_page,
    read_page_tree,
)

DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
ROOT = '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
Obj = Tuple[str, int, str, str]  # key, size, LastModified text, ETag


def esc(text: str) -> str:
    """XML-escape as Go's encoding/xml does (quotes as character references)."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return out.replace('"', "&#34;").replace("'", "&#39;")


def url(text: str) -> str:
    return quote(text, safe="/")


def contents(obj: Obj, encode: bool, aws: bool) -> str:
    key, size, modified, etag = obj
    key_text = esc(url(key) if encode else key)
    if aws:  # AWS's order, with what SeaweedFS leaves out
        return (
            f"<Contents><Key>{key_text}</Key><LastModified>{modified}</LastModified>"
            f"<ETag>{esc(etag)}</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>"
            f"<Size>{size}</Size><Owner><ID>abc</ID><DisplayName>me</DisplayName></Owner>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
        )
    return (
        f"<Contents><Key>{key_text}</Key><ETag>{esc(etag)}</ETag><Size>{size}</Size>"
        f"<StorageClass>STANDARD</StorageClass><LastModified>{modified}</LastModified></Contents>"
    )


def page(
    objs: Sequence[Obj] = (),
    prefixes: Sequence[str] = (),
    token: Optional[str] = None,
    encode: bool = True,
    aws: bool = False,
    key_count: Optional[int] = None,
) -> bytes:
    """A page as SeaweedFS writes it (its fields after the objects), or as AWS does."""
    top = "<Name>b</Name><Prefix>p/</Prefix><MaxKeys>1000</MaxKeys>"
    flag = f"<IsTruncated>{'true' if token else 'false'}</IsTruncated>"
    tok = f"<NextContinuationToken>{esc(token)}</NextContinuationToken>" if token else ""
    enc = "<EncodingType>url</EncodingType>" if encode else ""
    count = len(objs) + len(prefixes) if key_count is None else key_count
    body = "".join(contents(o, encode, aws) for o in objs) + "".join(
        f"<CommonPrefixes><Prefix>{esc(url(p) if encode else p)}</Prefix></CommonPrefixes>"
        for p in prefixes
    )
    if aws:
        text = f"{top}{tok}<KeyCount>{count}</KeyCount>{enc}{flag}{body}"
    else:
        text = f"{top}{flag}{body}{tok}{enc}<KeyCount>{count}</KeyCount>"
    return (DECL + ROOT + text + "</ListBucketResult>").encode("utf-8")


T = "2026-12-04T18:23:44.000Z"
E = '"d41d8cd98f00b204e9800998ecf8427e"'
ODD_KEYS = [
    "plain/key.txt",
    "p/amp & lt < gt > quote \" apos ' done",
    "p/<Key>not a tag</Key><Contents>",
    "p/plus+and space and %25 percent",
    "p/caf\u00e9/\u65e5\u672c/\U0001f600",
    "p/tab\there",
    "p/&amp;already-escaped&#34;",
    "p/trailing/",
    "p/]]>",
]
OBJS: List[Obj] = [
    (key, n * 7, T if n % 2 else "2026-12-04T18:23:45Z", E if n % 3 else f'"{n:032x}-2"')
    for n, key in enumerate(ODD_KEYS)
]
PLAIN = {
    "seaweed": page(OBJS, token="p/trailing/"),
    "aws": page(OBJS, token="tok+/=&<>", aws=True),
    "not encoded": page(OBJS, encode=False),
    "not encoded aws": page(OBJS, encode=False, aws=True),
    "empty": page(),
    "prefixes only": page(prefixes=["p/a/", "p/b c/", "p/\u00e9+%/"]),
    "both": page(OBJS[:3], prefixes=["p/a/", "p/b/"], token="x"),
    "no key count": page(OBJS).replace(b"<KeyCount>9</KeyCount>", b""),
    "no declaration": page(OBJS).replace(DECL.encode(), b""),
    "no namespace": page(OBJS).replace(ROOT.encode(), b"<ListBucketResult>"),
    "pretty": page(OBJS, prefixes=["p/z/"], aws=True)
    .replace(b"><", b">\n  <")
    .replace(b"<Contents>\n  <Key>", b"<Contents><Key>"),
    "char refs": page([("p/\u00e9", 1, T, E)], encode=False).replace(
        "p/\u00e9".encode(), b"p/&#233;&#x1F600;&#10;"
    ),
    "times with offsets": page([("a", 1, "2026-12-04T20:23:44.5+02:00", E)]),
}
NOT_PLAIN = {
    "comment": page(OBJS[:2]).replace(b"<Contents>", b"<!-- <Key>x</Key> --><Contents>", 1),
    "cdata key": page([("p/k", 1, T, E)], encode=False).replace(
        b"<Key>p/k</Key>", b"<Key><![CDATA[p/<k>&]]></Key>"
    ),
    "prefixed": page(OBJS[:2])
    .replace(b"<Contents>", b'<s3:Contents xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">')
    .replace(b"</Contents>", b"</s3:Contents>"),
    "attribute": page(OBJS[:2]).replace(b"<Size>", b'<Size unit="bytes">', 1),
    "empty etag element": page(OBJS[:2]).replace(
        b"<ETag>" + esc(E).encode() + b"</ETag>", b"<ETag/>", 1
    ),
    "no last modified": page(OBJS[:2]).replace(f"<LastModified>{T}</LastModified>".encode(), b""),
    "crlf": page([("p/a\r\nb", 1, T, E)], encode=False),
    "processing instruction": page(OBJS[:2]).replace(b"<Contents>", b"<?pi x?><Contents>", 1),
    "latin-1": page([("p/\u00e9", 1, T, E)], encode=False)
    .replace(b"UTF-8", b"ISO-8859-1")
    .replace("\u00e9".encode(), "\u00e9".encode("latin-1")),
    "bom": b"\xef\xbb\xbf" + page(OBJS[:2]),
    "truncated without token": page(OBJS[:2]).replace(b">false<", b">true<"),
    "key count off": page(OBJS[:2], key_count=5),
    "token in the middle": page(OBJS[:2], token="t")
    .replace(
        b"</Contents><Contents>",
        b"</Contents><NextContinuationToken>m</NextContinuationToken><Contents>",
    )
    .replace(b"<NextContinuationToken>t</NextContinuationToken>", b""),
}


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_plain_pages_are_scanned_as_elementtree_reads_them(name: str) -> None:
    body = PLAIN[name]
    expected = read_page_tree(body)
    assert listpage._scan(body.decode("utf-8")) == expected
    assert read_page(body) == expected


@pytest.mark.parametrize("name", sorted(NOT_PLAIN))
def test_other_pages_go_to_elementtree(name: str) -> None:
    body = NOT_PLAIN[name]
    with pytest.raises((listpage._NotPlain, UnicodeDecodeError)):
        listpage._scan(body.decode("utf-8"))
    assert read_page(body) == read_page_tree(body)


def test_what_a_page_says() -> None:
    got = read_page(PLAIN["aws"])
    assert list(got.keys) == ODD_KEYS
    assert list(got.sizes) == [n * 7 for n in range(len(ODD_KEYS))]
    assert got.etags[1] == E and got.etags[0] == f'"{0:032x}-2"'
    assert got.modified[:2] == (1796408625, 1796408624)
    assert (got.truncated, got.token, got.prefixes) == (True, "tok+/=&<>", ())
    both = read_page(PLAIN["both"])
    assert both.prefixes == ("p/a/", "p/b/") and list(both.keys) == ODD_KEYS[:3]
    assert read_page(PLAIN["prefixes only"]).prefixes == ("p/a/", "p/b c/", "p/\u00e9+%/")
    assert read_page(PLAIN["char refs"]).keys == ("p/\u00e9\U0001f600\n",)
    assert read_page(PLAIN["empty"]) == ListPage()


def test_the_other_forms_are_read_too() -> None:
    assert read_page(NOT_PLAIN["cdata key"]).keys == ("p/<k>&",)
    assert read_page(NOT_PLAIN["prefixed"]).keys == tuple(ODD_KEYS[:2])
    assert read_page(NOT_PLAIN["token in the middle"]).token == "m"
    assert read_page(NOT_PLAIN["latin-1"]).keys == ("p/\u00e9",)
    modified = read_page(NOT_PLAIN["no last modified"]).modified
    assert modified[0] is not None and modified[1] is None


@pytest.mark.parametrize(
    "body",
    [b"", b"not xml", page(OBJS[:1]).replace(b"&#34;", b"&nbsp;"), page(OBJS[:1])[:-3]],
)
def test_what_is_not_xml_raises_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError):
        read_page(body)


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-04T18:23:44Z", "2026-12-04T18:23:44.000Z", "2026-12-04T18:23:44.999999Z",
        "1969-12-31T23:59:59.500Z", "2026-12-04T20:23:44+02:00", "2026-12-04T18:23:44.1-05:30",
    ],
)  # fmt: skip
def test_epoch_is_the_whole_seconds_of_the_time(text: str) -> None:
    assert epoch(text) == int(iso_time(text).timestamp())
    assert epoch(text) == epoch(text)  # remembered: the same answer


def test_botocore_shape_round_trips() -> None:
    got = read_page(PLAIN["both"])
    answer = answer_of_page(got)
    when = answer["Contents"][0]["LastModified"]
    assert when == datetime.datetime(2026, 12, 4, 18, 23, 45, tzinfo=datetime.timezone.utc)
    assert answer["NextContinuationToken"] == "x" and answer["IsTruncated"] is True
    assert answer["CommonPrefixes"] == [{"Prefix": "p/a/"}, {"Prefix": "p/b/"}]
    assert page_of_answer(answer) == got
    assert page_of_answer({"IsTruncated": False}) == ListPage()


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("encode", [True, False])
def test_random_keys_read_alike(seed: int, encode: bool) -> None:
    rng = random.Random(seed)
    alphabet = "ab/ &<>\"'%+;#x\t\n\u00e9\u65e5\U0001f600]"
    objs = [
        ("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))), n, T, E)
        for n in range(rng.randint(0, 30))
    ]
    prefixes = ["".join(rng.choice(alphabet) for _ in range(5)) + "/" for _ in range(3)]
    body = page(objs, prefixes if seed % 2 else (), token="t&amp;" if seed % 3 else None,
                encode=encode, aws=seed % 4 == 0)  # fmt: skip
    assert listpage._scan(body.decode("utf-8")) == read_page_tree(body)
    assert list(read_page(body).keys) == [key for key, _, _, _ in objs]

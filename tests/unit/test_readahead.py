"""s3op.readahead: the token scan and the take-once store of early requests."""

from __future__ import annotations

import threading
from typing import List

from s3op.readahead import ReadAhead, next_token

PAGE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Name>b</Name><IsTruncated>%s</IsTruncated>"
    b"<Contents><Key>k</Key><Size>1</Size></Contents>"
    b"%s</ListBucketResult>"
)


def _page(truncated: bool, token: bytes = b"") -> bytes:
    tail = b"<NextContinuationToken>" + token + b"</NextContinuationToken>" if token else b""
    return PAGE % (b"true" if truncated else b"false", tail)


def test_next_token_of_a_truncated_page() -> None:
    assert next_token(_page(True, b"1/abc+def==")) == "1/abc+def=="


def test_next_token_unescapes_xml_entities() -> None:
    assert next_token(_page(True, b"a&amp;b&#34;c&lt;")) == 'a&b"c<'


def test_no_token_on_the_last_page_or_a_broken_one() -> None:
    assert next_token(_page(False, b"stale")) is None
    assert next_token(_page(True)) is None
    assert next_token(b"<IsTruncated>true</IsTruncated><NextContinuationToken>abc") is None


def test_a_page_is_taken_once_by_its_key() -> None:
    ahead = ReadAhead()
    calls: List[str] = []

    def fetch() -> bytes:
        calls.append("x")
        return b"body"

    ahead.start(("b", "p/", "", "t1"), fetch)
    ahead.start(("b", "p/", "", "t1"), fetch)  # already under way: not asked twice
    assert ahead.take(("b", "p/", "", "other")) is None
    assert ahead.take(("b", "p/", "", "t1")) == b"body"
    assert ahead.take(("b", "p/", "", "t1")) is None
    assert calls == ["x"] and ahead.hits == 1


def test_take_waits_for_a_fetch_under_way() -> None:
    ahead = ReadAhead()
    release = threading.Event()

    def fetch() -> bytes:
        assert release.wait(10)
        return b"late"

    ahead.start("k", fetch)
    threading.Timer(0.05, release.set).start()
    assert ahead.take("k") == b"late"


def test_a_failed_fetch_is_not_remembered() -> None:
    ahead = ReadAhead()

    def fetch() -> bytes:
        raise ConnectionResetError("gone")

    ahead.start("k", fetch)
    assert ahead.take("k") is None  # the caller sends the request itself
    assert ahead.hits == 0


def test_pages_nobody_takes_are_dropped() -> None:
    ahead = ReadAhead(max_pending=2, ttl=60)
    for key in ("a", "b", "c"):
        ahead.start(key, lambda key=key: key.encode())
    assert ahead.take("a") is None  # the oldest went when the third came
    assert (ahead.take("b"), ahead.take("c")) == (b"b", b"c")

    stale = ReadAhead(ttl=-1)  # everything is stale
    stale.start("old", lambda: b"old")
    stale.start("new", lambda: b"new")
    assert stale.take("old") is None

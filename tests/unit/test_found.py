"""A listing page's compact results (``jobs.Found``) and the op that makes them.

``Found.lines`` writes result lines without building ``Result`` objects; it
must write exactly what ``Result.to_json`` would, or s3client and anyone
reading s3op's output would see something else for a listing.
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, List, Optional

import pytest

from s3op import jobs
from s3op.listpage import ListPage, page_of_answer
from s3op.ops import OpContext
from s3op.ops.listing import run_list
from s3op.protocol import ListRequest, Result
from s3op.retry import RetryPolicy

# Keys and ETags that JSON has to escape: quotes, backslashes, control characters,
# non-ASCII (BMP and astral), a would-be HTML tag, and plain ones.
AWKWARD = [
    "s3://b/plain/key.txt",
    's3://b/with "quotes" and \\backslash\\',
    "s3://b/tab\there/new\nline/nul\x00/del\x7f",
    "s3://b/caf\u00e9/\u65e5\u672c/\U0001f600",
    "s3://b/</script>&amp;",
    "s3://b/",
]


@pytest.mark.parametrize("url", AWKWARD)
@pytest.mark.parametrize("modified", [None, 0, 1_796_232_188])
@pytest.mark.parametrize("etag", [None, '"de3836ed8a88adc58dab3fc9aba0f7d9"', '"\u00e9\\"-3'])
def test_lines_are_what_to_json_writes(
    url: str, modified: Optional[int], etag: Optional[str]
) -> None:
    found = jobs.Found(7, ((url, 2**40 + 1, modified, etag), (url, 0, None, None)), (url,))
    expected = "".join(res.to_json() + "\n" for res in found.results())
    assert found.lines() == expected


def test_lines_parse_back_into_the_results() -> None:
    objects = tuple((url, n, 1_700_000_000 + n, f'"{n:032x}"') for n, url in enumerate(AWKWARD))
    found = jobs.Found(3, objects, ("s3://b/dir/", "s3://b/other/"))
    parsed = [Result.from_json(line) for line in found.lines().splitlines()]
    assert parsed == found.results()
    assert [r.is_prefix for r in parsed] == [None] * len(AWKWARD) + [True, True]
    assert all(r.ok and r.idx == 3 for r in parsed)


def test_an_empty_page_writes_nothing() -> None:
    assert jobs.Found(0).lines() == "" and jobs.Found(0).results() == []


class OnePage:
    """A transport whose bucket answers one ListObjectsV2 page, as botocore shapes it
    (read as ``BotocoreTransport.list_page`` reads it)."""

    def __init__(self, page: Dict[str, Any]) -> None:
        self.page = page
        self.calls: List[Dict[str, Any]] = []

    def list_page(self, bucket: str, prefix: str, delimiter: str, token: Optional[str]) -> ListPage:
        self.calls.append(dict(bucket=bucket, prefix=prefix, delimiter=delimiter, token=token))
        return page_of_answer(self.page)


def _listing(page: Dict[str, Any], recursive: bool) -> Any:
    ctx = OpContext(OnePage(page), RetryPolicy(), jobs.Settings())
    return run_list(ctx, jobs.ListJob(ListRequest(idx=5, url="s3://bkt/pre"), recursive))


def test_a_page_becomes_found_objects_then_prefixes() -> None:
    when = datetime.datetime(2026, 12, 2, 17, 23, 8, tzinfo=datetime.timezone.utc)
    page = {
        "IsTruncated": True,
        "NextContinuationToken": "tok",
        "Contents": [
            {"Key": "pre/a", "Size": 3, "ETag": '"e1"', "LastModified": when},
            {"Key": "pre/b\u00e9", "Size": 0},
        ],
        "CommonPrefixes": [{"Prefix": "pre/sub/"}],
    }
    out = _listing(page, recursive=False)
    assert isinstance(out, jobs.Page) and isinstance(out.found, jobs.Found)
    assert out.more is not None and out.more.token == "tok"
    assert out.found.results() == [
        Result(
            idx=5, url="s3://bkt/pre/a", size=3, last_modified=int(when.timestamp()), etag='"e1"'
        ),
        Result(idx=5, url="s3://bkt/pre/b\u00e9", size=0),
        Result(idx=5, url="s3://bkt/pre/sub/", is_prefix=True),
    ]


def test_the_last_page_has_no_next_job() -> None:
    out = _listing({"IsTruncated": False, "Contents": [{"Key": "pre/a", "Size": 1}]}, True)
    assert isinstance(out, jobs.Page) and out.more is None
    assert isinstance(out.found, jobs.Found) and len(out.found.objects) == 1

"""Answers of the lean path's XML calls (``s3op.fastcopy.answer_root``,
``s3op.fastmultipart.complete_answer``): how a 200 that carries an error, a padded
answer, an empty one and a damaged one come out, and how ``s3op.errors`` ranks them."""

from __future__ import annotations

import pytest

from s3op.errors import OpError, classify
from s3op.fastcopy import answer_root
from s3op.fastmultipart import complete_answer
from s3op.protocol import ErrorKind

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _kind_of_200_error(code_part: str) -> ErrorKind:
    body = f"<Error>{code_part}<Message>try again</Message></Error>".encode()
    with pytest.raises(Exception) as err:
        answer_root(body, {}, "CompleteMultipartUpload")
    return classify(err.value)[0]


@pytest.mark.parametrize(
    ("code_part", "kind"),
    [
        ("<Code>SlowDownWrite</Code>", ErrorKind.TRANSIENT),  # a code the table lacks
        ("<Code>SomethingNew</Code>", ErrorKind.TRANSIENT),
        ("", ErrorKind.TRANSIENT),  # no code at all
        ("<Code>InternalError</Code>", ErrorKind.TRANSIENT),
        ("<Code>AccessDenied</Code>", ErrorKind.ACCESS_DENIED),  # the table still decides
        ("<Code>NoSuchUpload</Code>", ErrorKind.NOT_FOUND),
    ],
)
def test_an_error_inside_a_200_is_ranked_as_botocore_ranks_it(
    code_part: str, kind: ErrorKind
) -> None:
    """botocore turns such an answer into a 500 before raising: unknown codes retry."""
    assert _kind_of_200_error(code_part) is kind


def test_whitespace_before_the_answer_is_skipped() -> None:
    body = (
        b'\n   \n<?xml version="1.0" encoding="UTF-8"?>\n'
        + f'<CompleteMultipartUploadResult xmlns="{NS}"><Bucket>b</Bucket>'.encode()
        + b"<ETag>&quot;9b2cf535f27731c974343645a3985328-2&quot;</ETag>"
        + b"<ChecksumCRC32>AAAAAA==</ChecksumCRC32></CompleteMultipartUploadResult>"
    )
    answer = complete_answer(body, {"x-amz-version-id": "v7"})
    assert answer == {
        "ETag": '"9b2cf535f27731c974343645a3985328-2"',
        "ChecksumCRC32": "AAAAAA==",
        "VersionId": "v7",
    }


@pytest.mark.parametrize("body", [b"", b"   \n  "])
def test_an_empty_complete_answer_has_no_fields_as_with_botocore(body: bytes) -> None:
    assert complete_answer(body, {}) == {}


def test_a_damaged_answer_is_corrupt() -> None:
    with pytest.raises(OpError) as err:
        complete_answer(b"<CompleteMultipartUploadResult><ETag>x</ET", {})
    assert err.value.kind is ErrorKind.CORRUPT

"""The lean DeleteObjects' body and answer (``s3op.fastdelete``)."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from botocore.exceptions import ClientError

from s3op.errors import OpError
from s3op.fastdelete import delete_body, parse_delete_answer
from s3op.fastsend import NotOurs
from s3op.protocol import ErrorKind

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def test_the_body_carries_every_key_exactly_as_given() -> None:
    keys = ["a", "lt<gt>&amp;'\"", "]]>", "tab\there\rcr\nnl", "ünï/☃"]
    root = ElementTree.fromstring(delete_body(keys))
    assert [obj.findtext(f"{NS}Key") for obj in root.iter(f"{NS}Object")] == keys
    assert root.findtext(f"{NS}Quiet") == "false"  # every key deleted is named


def test_a_key_xml_cannot_carry_is_left_to_botocore() -> None:
    with pytest.raises(NotOurs):
        delete_body(["fine", "ctl\x01"])


def test_the_answer_names_deleted_keys_and_errors() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Deleted><Key>a&amp;b</Key></Deleted><Deleted><Key>c</Key></Deleted>"
        b"<Error><Key>d</Key><Code>AccessDenied</Code><Message>no</Message></Error>"
        b"</DeleteResult>"
    )
    answer = parse_delete_answer(body, {})
    assert answer["Deleted"] == [{"Key": "a&b"}, {"Key": "c"}]
    assert answer["Errors"] == [{"Key": "d", "Code": "AccessDenied", "Message": "no"}]


def test_a_damaged_answer_is_corrupt_and_an_error_body_is_raised() -> None:
    with pytest.raises(OpError) as caught:
        parse_delete_answer(b"<DeleteResult><Deleted><Key>a</Ke", {})
    assert caught.value.kind is ErrorKind.CORRUPT
    with pytest.raises(ClientError) as error:
        parse_delete_answer(b"<Error><Code>InternalError</Code><Message>x</Message></Error>", {})
    assert error.value.response["Error"]["Code"] == "InternalError"

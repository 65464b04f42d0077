"""``Transport`` implementations: the botocore adapter over a stubbed client.

The fast path's side (``FastClient``) runs against real servers in
``tests/functional/test_multiget.py`` and ``test_listing_pages.py``.
"""

from __future__ import annotations

import io
from typing import Any, Dict, List

import pytest
from botocore.exceptions import ClientError

from s3op.botocore_transport import BotocoreTransport, unbuilt_transport
from s3op.errors import OpError, classify
from s3op.protocol import ErrorKind
from s3op.transport import GetFailed, GetTarget, ReplyHead


class Stub:
    """A botocore-like client: ``get_object`` of a known key, 404 otherwise."""

    def __init__(self, objects: Dict[str, bytes]) -> None:
        self.objects = objects
        self.calls: List[Dict[str, Any]] = []

    def get_object(self, **kwargs: Any) -> Dict[str, Any]:
        self.calls.append(kwargs)
        body = self.objects.get(kwargs["Key"])
        if body is None:
            error = {"Error": {"Code": "NoSuchKey"}, "ResponseMetadata": {"HTTPStatusCode": 404}}
            raise ClientError(error, "GetObject")  # type: ignore[arg-type]
        return {"ContentLength": len(body), "Body": io.BytesIO(body)}


def test_arguments_left_none_are_not_passed_to_botocore() -> None:
    stub = Stub({"k": b"abc"})
    BotocoreTransport(stub).get_object(Bucket="b", Key="k", Range=None, IfMatch="e")
    assert stub.calls == [{"Bucket": "b", "Key": "k", "IfMatch": "e"}]


def test_get_many_is_a_loop_of_get_object() -> None:
    transport = BotocoreTransport(Stub({"a": b"aa", "c": b"cccc"}))
    assert transport.batches_gets is False
    targets = [GetTarget("b", "a"), GetTarget("b", "missing"), GetTarget("b", "c")]

    replies = dict(transport.get_many(targets))

    assert sorted(replies) == [0, 1, 2]
    first, missing, last = replies[0], replies[1], replies[2]
    assert isinstance(first, ReplyHead) and (first.status, first.length) == (200, 2)
    assert first.open()["Body"].read() == b"aa"
    assert isinstance(missing, GetFailed)
    assert classify(missing.error)[0] is ErrorKind.NOT_FOUND
    assert isinstance(last, ReplyHead) and last.length == 4


def test_a_transport_that_could_not_be_built_fails_every_call_clearly() -> None:
    transport = unbuilt_transport("cannot build the S3 client: ValueError: bad endpoint")
    with pytest.raises(OpError) as err:
        transport.head_object(Bucket="b", Key="k")
    assert err.value.kind is ErrorKind.INVALID_REQUEST and "bad endpoint" in str(err.value)
    ((index, reply),) = list(transport.get_many([GetTarget("b", "k")]))
    assert index == 0 and isinstance(reply, GetFailed)

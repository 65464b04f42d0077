"""Issue #14: DNS failures are transient and name the host; a missing bucket is its own kind.

``classify`` is fed the exceptions the two transports really raise: botocore's
(a real client sent to an ``.invalid`` host, which never resolves) and the
fast path's (``s3op.http1`` and ``s3op.responses``). ``info.head`` is driven
with a stubbed client to count the HeadBucket calls a missing key costs.
"""

from __future__ import annotations

import errno
import pickle
import socket
from typing import Any, Dict, List

import pytest
from botocore.exceptions import ClientError

import s3client
from s3client.errors import (
    KIND_TO_ERROR,
    S3BucketNotFound,
    S3NotFound,
    error_for_kind,
    is_not_found,
)
from s3op.errors import OpError, classify
from s3op.http1 import Pool, UnresolvedHost
from s3op.jobs import Settings
from s3op.ops import OpContext
from s3op.ops.info import head
from s3op.protocol import ErrorKind, ExitCode, Result, exit_code_of
from s3op.responses import raise_error
from s3op.retry import Failure, RetryPolicy

BAD_HOST = "no-such-host.invalid"


def client_error(status: int, code: str, op: str) -> ClientError:
    """A ClientError as botocore builds it from an S3 error response."""
    response = {
        "Error": {"Code": code, "Message": "Not Found"},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
    }
    return ClientError(response, op)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- DNS


def test_fast_path_dns_failure_names_the_host_and_is_transient() -> None:
    pool = Pool("http", BAD_HOST, 9000, (2.0, 2.0))
    with pytest.raises(UnresolvedHost) as err:
        pool.request("GET", "/bucket/key", {})
    assert isinstance(err.value, socket.gaierror) and err.value.host == BAD_HOST
    kind, message = classify(err.value)
    assert kind is ErrorKind.TRANSIENT and kind.retryable
    assert message.startswith(f"cannot resolve host {BAD_HOST} (")
    copy = pickle.loads(pickle.dumps(err.value))
    assert (copy.host, copy.errno, copy.strerror) == (BAD_HOST, err.value.errno, err.value.strerror)


def test_botocore_dns_failure_names_the_host_and_is_transient() -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=f"http://{BAD_HOST}:9000",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2),
    )
    with pytest.raises(Exception) as err:  # botocore's EndpointConnectionError
        client.head_object(Bucket="bucket", Key="key")
    kind, message = classify(err.value)
    assert kind is ErrorKind.TRANSIENT
    assert message.startswith(f"cannot resolve host {BAD_HOST} (")


@pytest.mark.parametrize("code", [socket.EAI_NONAME, socket.EAI_AGAIN])
def test_a_bare_gaierror_is_transient_never_a_local_file(code: int) -> None:
    kind, message = classify(socket.gaierror(code, "Temporary failure in name resolution"))
    assert kind is ErrorKind.TRANSIENT
    assert message == "cannot resolve host (unknown) (Temporary failure in name resolution)"


def test_wrapped_errors_that_are_not_dns_stay_what_they_were() -> None:
    from botocore import exceptions as bexc

    streaming = bexc.ResponseStreamingError(error="connection reset")  # 'error' is a str
    kind, message = classify(streaming)
    assert kind is ErrorKind.TRANSIENT and "resolve" not in message
    refused = bexc.EndpointConnectionError(
        endpoint_url="http://127.0.0.1:1/b", error=ConnectionRefusedError("refused")
    )
    kind, message = classify(refused)
    assert kind is ErrorKind.TRANSIENT and "resolve" not in message


def test_local_file_errors_still_point_at_the_disk() -> None:
    missing = FileNotFoundError(errno.ENOENT, "No such file or directory", "/x/y")
    assert classify(missing)[0] is ErrorKind.LOCAL_FILE_MISSING
    assert classify(PermissionError(errno.EACCES, "denied", "/x"))[0] is ErrorKind.LOCAL_FILE_ERROR
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "refused")
    kind, message = classify(refused)
    assert kind is ErrorKind.TRANSIENT and "resolve" not in message


# ----------------------------------------------------------------- missing bucket


@pytest.mark.parametrize(
    "status,code,op,kind",
    [
        (404, "NoSuchBucket", "GetObject", ErrorKind.BUCKET_NOT_FOUND),
        (404, "NoSuchBucket", "ListObjectsV2", ErrorKind.BUCKET_NOT_FOUND),
        (404, "NoSuchBucket", "PutObject", ErrorKind.BUCKET_NOT_FOUND),
        (404, "404", "HeadBucket", ErrorKind.BUCKET_NOT_FOUND),  # botocore: no body
        (404, "NotFound", "HeadBucket", ErrorKind.BUCKET_NOT_FOUND),  # fast path: no body
        (404, "404", "HeadObject", ErrorKind.NOT_FOUND),  # could be either: see info.head
        (404, "NoSuchKey", "GetObject", ErrorKind.NOT_FOUND),
        (403, "403", "HeadBucket", ErrorKind.ACCESS_DENIED),
    ],
)
def test_missing_bucket_kinds(status: int, code: str, op: str, kind: ErrorKind) -> None:
    got, message = classify(client_error(status, code, op))
    assert got is kind
    assert code in message


class FakeResponse:
    """Enough of ``s3op.http1.Response`` for ``raise_error``."""

    def __init__(self, status: int, body: bytes = b"") -> None:
        self.status, self.reason, self._body = status, "Not Found", body
        self.headers: Dict[str, str] = {}

    def read_all(self) -> bytes:
        return self._body


NO_SUCH_BUCKET = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchBucket</Code>"
    b"<Message>The specified bucket does not exist</Message></Error>"
)


@pytest.mark.parametrize(
    "method,operation,body,kind",
    [
        ("GET", None, NO_SUCH_BUCKET, ErrorKind.BUCKET_NOT_FOUND),
        ("HEAD", "HeadBucket", b"", ErrorKind.BUCKET_NOT_FOUND),
        ("HEAD", None, b"", ErrorKind.NOT_FOUND),
    ],
)
def test_fast_path_errors_classify_like_botocore(
    method: str, operation: Any, body: bytes, kind: ErrorKind
) -> None:
    with pytest.raises(ClientError) as err:
        raise_error(FakeResponse(404, body), method, operation)
    assert classify(err.value)[0] is kind


class StubClient:
    """head_object always 404s; head_bucket answers from ``bucket_exists``."""

    def __init__(self, bucket_exists: bool) -> None:
        self.bucket_exists = bucket_exists
        self.calls: List[str] = []

    def head_object(self, Bucket: str, Key: str) -> Dict[str, Any]:
        self.calls.append("head_object")
        raise client_error(404, "404", "HeadObject")

    def head_bucket(self, Bucket: str) -> Dict[str, Any]:
        self.calls.append("head_bucket")
        if not self.bucket_exists:
            raise client_error(404, "404", "HeadBucket")
        return {}


def context(client: Any) -> OpContext:
    return OpContext(client, RetryPolicy(max_attempts=2, base=0.0), Settings())


def test_head_tells_a_missing_bucket_from_a_missing_key() -> None:
    client = StubClient(bucket_exists=False)
    out = head(context(client), "gone", "k")
    assert isinstance(out, Failure) and out.kind is ErrorKind.BUCKET_NOT_FOUND
    assert out.attempts == 1 and "HeadBucket" in out.message
    assert client.calls == ["head_object", "head_bucket"]


def test_a_bucket_seen_to_exist_costs_one_head_bucket_for_many_missing_keys() -> None:
    client = StubClient(bucket_exists=True)
    ctx = context(client)
    outs = [head(ctx, "there", f"k{i}") for i in range(5)]
    assert all(isinstance(o, Failure) and o.kind is ErrorKind.NOT_FOUND for o in outs)
    assert client.calls.count("head_bucket") == 1
    assert client.calls.count("head_object") == 5
    other = StubClient(bucket_exists=True)  # the memory is per client
    head(context(other), "there", "k")
    assert other.calls == ["head_object", "head_bucket"]


def test_head_keeps_not_found_when_head_bucket_cannot_tell() -> None:
    client = StubClient(bucket_exists=True)

    def denied(Bucket: str) -> Dict[str, Any]:
        raise client_error(403, "403", "HeadBucket")

    client.head_bucket = denied  # type: ignore[method-assign]
    out = head(context(client), "private", "k")
    assert isinstance(out, Failure) and out.kind is ErrorKind.NOT_FOUND


def test_op_error_kind_is_kept() -> None:
    assert classify(OpError(ErrorKind.BUCKET_NOT_FOUND, "x"))[0] is ErrorKind.BUCKET_NOT_FOUND


# --------------------------------------------------------------------- s3client


def test_bucket_not_found_exception() -> None:
    err = error_for_kind(ErrorKind.BUCKET_NOT_FOUND, "s3://gone/k", "NoSuchBucket: ...")
    assert type(err) is S3BucketNotFound and isinstance(err, S3NotFound)
    assert str(err) == "S3 bucket not found: s3://gone/k (NoSuchBucket: ...)"
    assert err.kind is ErrorKind.BUCKET_NOT_FOUND and err.url == "s3://gone/k"
    assert KIND_TO_ERROR[ErrorKind.BUCKET_NOT_FOUND] is S3BucketNotFound
    assert s3client.S3BucketNotFound is S3BucketNotFound and "S3BucketNotFound" in s3client.__all__
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), copy.url, copy.kind) == (S3BucketNotFound, err.url, err.kind)


def test_return_missing_and_allow_missing_never_hide_a_missing_bucket() -> None:
    bucket = Result.failure(0, "s3://gone/k", ErrorKind.BUCKET_NOT_FOUND, "m", 1)
    key = Result.failure(0, "s3://there/k", ErrorKind.NOT_FOUND, "m", 1)
    assert not is_not_found(bucket) and is_not_found(key)
    assert exit_code_of(bucket, allow_missing=True) is ExitCode.FAILED
    assert exit_code_of(key, allow_missing=True) is ExitCode.OK

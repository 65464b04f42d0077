"""s3op.errors.classify: the one table from failures to error kinds."""

from __future__ import annotations

import errno
import os

import pytest
from botocore import exceptions as bexc
from botocore.exceptions import ClientError

from s3op.errors import OpError, classify, error_code
from s3op.protocol import ErrorKind


def client_error(
    status: int, code: str, message: str = "msg", op: str = "GetObject"
) -> ClientError:
    """A ClientError as botocore builds it from an S3 error response."""
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
    }
    return ClientError(response, op)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "status,code,kind",
    [
        (404, "NoSuchKey", ErrorKind.NOT_FOUND),
        (404, "NoSuchBucket", ErrorKind.BUCKET_NOT_FOUND),
        (404, "404", ErrorKind.NOT_FOUND),  # HEAD: no body, the code is the status
        (404, "NoSuchUpload", ErrorKind.NOT_FOUND),
        (403, "AccessDenied", ErrorKind.ACCESS_DENIED),
        (403, "403", ErrorKind.ACCESS_DENIED),
        (403, "SignatureDoesNotMatch", ErrorKind.ACCESS_DENIED),
        (400, "ExpiredToken", ErrorKind.ACCESS_DENIED),
        (416, "InvalidRange", ErrorKind.INVALID_RANGE),
        (416, "416", ErrorKind.INVALID_RANGE),
        (412, "PreconditionFailed", ErrorKind.PRECONDITION_FAILED),
        (412, "412", ErrorKind.PRECONDITION_FAILED),
        (503, "SlowDown", ErrorKind.TRANSIENT),
        (503, "503", ErrorKind.TRANSIENT),
        (503, "ServiceUnavailable", ErrorKind.TRANSIENT),
        (500, "InternalError", ErrorKind.TRANSIENT),
        (500, "500", ErrorKind.TRANSIENT),
        (502, "BadGateway", ErrorKind.TRANSIENT),
        (400, "RequestTimeout", ErrorKind.TRANSIENT),
        (429, "TooManyRequests", ErrorKind.TRANSIENT),
        (400, "InvalidArgument", ErrorKind.INVALID_REQUEST),
        (400, "SomethingNew", ErrorKind.INVALID_REQUEST),
        (400, "KeyTooLongError", ErrorKind.INVALID_REQUEST),
        (400, "MetadataTooLarge", ErrorKind.INVALID_METADATA),
        (400, "BadDigest", ErrorKind.CORRUPT),
        (400, "XAmzContentSHA256Mismatch", ErrorKind.CORRUPT),
        (405, "MethodNotAllowed", ErrorKind.INVALID_REQUEST),
    ],
)
def test_client_errors_map_by_code_then_status(status: int, code: str, kind: ErrorKind) -> None:
    got, message = classify(client_error(status, code, "the server said so"))
    assert got is kind
    assert code in message and "the server said so" in message


@pytest.mark.parametrize(
    "kind,retryable",
    [
        (ErrorKind.TRANSIENT, True),
        (ErrorKind.CORRUPT, True),
        (ErrorKind.NOT_FOUND, False),
        (ErrorKind.ACCESS_DENIED, False),
        (ErrorKind.INVALID_RANGE, False),
        (ErrorKind.INVALID_REQUEST, False),
        (ErrorKind.PRECONDITION_FAILED, False),
        (ErrorKind.OUT_OF_DISK, False),
        (ErrorKind.LOCAL_FILE_MISSING, False),
        (ErrorKind.LOCAL_FILE_ERROR, False),
        (ErrorKind.INTERNAL, False),
        (ErrorKind.WORKER_DIED, False),
    ],
)
def test_only_transient_and_corrupt_are_retryable(kind: ErrorKind, retryable: bool) -> None:
    assert kind.retryable is retryable


def test_the_code_decides_before_the_status() -> None:
    # A throttling answer may come as 400 or 503: the code says what it is.
    assert classify(client_error(400, "SlowDown"))[0] is ErrorKind.TRANSIENT
    assert classify(client_error(500, "AccessDenied"))[0] is ErrorKind.ACCESS_DENIED


def test_a_client_error_without_status_is_transient() -> None:
    exc = ClientError({"Error": {"Code": "Weird", "Message": "?"}}, "GetObject")
    assert classify(exc)[0] is ErrorKind.TRANSIENT


def test_error_code_reads_the_code_of_client_errors_only() -> None:
    assert error_code(client_error(503, "SlowDown")) == "SlowDown"
    assert error_code(client_error(404, "404", op="HeadObject")) == "404"
    assert error_code(KeyError("x")) is None
    assert error_code(bexc.EndpointConnectionError(endpoint_url="http://h")) is None


@pytest.mark.parametrize(
    "exc",
    [
        bexc.ConnectionClosedError(endpoint_url="http://h"),
        bexc.EndpointConnectionError(endpoint_url="http://h"),
        bexc.ResponseStreamingError(error="connection reset"),
        bexc.IncompleteReadError(actual_bytes=10, expected_bytes=20),
        ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
        BrokenPipeError(errno.EPIPE, "Broken pipe"),
        TimeoutError("timed out"),
        OSError(errno.ECONNREFUSED, "Connection refused"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transport_errors_are_transient(exc: BaseException) -> None:
    kind, message = classify(exc)
    assert kind is ErrorKind.TRANSIENT
    assert kind.retryable
    assert message


@pytest.mark.parametrize(
    "exc",
    [
        bexc.ReadTimeoutError(endpoint_url="http://h"),
        bexc.ConnectTimeoutError(endpoint_url="http://h"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_botocore_timeouts_are_transient(exc: BaseException) -> None:
    assert classify(exc)[0] is ErrorKind.TRANSIENT


def test_checksum_mismatch_is_corrupt_and_retried() -> None:
    kind, message = classify(bexc.FlexibleChecksumError(error_msg="crc32 mismatch"))
    assert kind is ErrorKind.CORRUPT
    assert kind.retryable
    assert "crc32 mismatch" in message


def test_credential_and_parameter_problems_are_permanent() -> None:
    assert classify(bexc.NoCredentialsError())[0] is ErrorKind.ACCESS_DENIED
    assert classify(bexc.ParamValidationError(report="bad key"))[0] is ErrorKind.INVALID_REQUEST


@pytest.mark.parametrize(
    "err,kind",
    [
        (errno.ENOSPC, ErrorKind.OUT_OF_DISK),
        (errno.EDQUOT, ErrorKind.OUT_OF_DISK),
        (errno.ENOENT, ErrorKind.LOCAL_FILE_MISSING),
        (errno.EACCES, ErrorKind.LOCAL_FILE_ERROR),
        (errno.EISDIR, ErrorKind.LOCAL_FILE_ERROR),
        (errno.EROFS, ErrorKind.LOCAL_FILE_ERROR),
    ],
)
def test_local_os_errors_by_errno(err: int, kind: ErrorKind) -> None:
    exc = OSError(err, os.strerror(err), "/data/file")
    got, message = classify(exc)
    assert got is kind
    assert not got.retryable
    assert "/data/file" in message


def test_a_real_missing_file_is_local_file_missing(tmp_path: object) -> None:
    with pytest.raises(OSError) as info:
        open(os.path.join(str(tmp_path), "nope"), "rb")
    assert classify(info.value)[0] is ErrorKind.LOCAL_FILE_MISSING


def test_op_error_keeps_its_own_kind() -> None:
    assert classify(OpError(ErrorKind.CORRUPT, "short body")) == (ErrorKind.CORRUPT, "short body")


@pytest.mark.parametrize(
    "exc", [KeyError("x"), AttributeError("y"), TypeError("z"), ValueError("v"), AssertionError()]
)
def test_unexpected_exceptions_are_internal_and_never_retried(exc: BaseException) -> None:
    kind, message = classify(exc)
    assert kind is ErrorKind.INTERNAL
    assert not kind.retryable
    assert type(exc).__name__ in message

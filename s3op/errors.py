"""One table from failures to ``ErrorKind``s, applied at the boto boundary.

Every failure an operation can meet ends here: botocore ``ClientError``s
(mapped by operation and HTTP status first, then by error code, then by
HTTP status), host names that do not resolve, botocore/urllib3 transport
errors, local ``OSError``s, and our own ``OpError``.

A DNS failure (``socket.gaierror``) is an ``OSError`` but never a local
file's: it is ``transient`` and its message names the host, found on
whatever wrapped it (botocore's ``EndpointConnectionError``, urllib3's
``NameResolutionError`` or ``s3op.http1.UnresolvedHost``).
"""

from __future__ import annotations

import errno
import socket
from typing import Dict, Iterator, Optional, Tuple, Union
from urllib.parse import urlsplit

from s3op.protocol import ErrorKind


class OpError(Exception):
    """An operation's own verdict on a request (e.g. a short body)."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


#: S3 error codes -> kinds. Checked after OPERATION_STATUS_KINDS, before the HTTP status.
CODE_KINDS: Dict[str, ErrorKind] = {
    "NoSuchKey": ErrorKind.NOT_FOUND,
    "NoSuchBucket": ErrorKind.BUCKET_NOT_FOUND,
    "NotFound": ErrorKind.NOT_FOUND,
    "NoSuchUpload": ErrorKind.NOT_FOUND,
    "AccessDenied": ErrorKind.ACCESS_DENIED,
    "AllAccessDisabled": ErrorKind.ACCESS_DENIED,
    "InvalidAccessKeyId": ErrorKind.ACCESS_DENIED,
    "SignatureDoesNotMatch": ErrorKind.ACCESS_DENIED,
    "ExpiredToken": ErrorKind.ACCESS_DENIED,
    "InvalidRange": ErrorKind.INVALID_RANGE,
    "PreconditionFailed": ErrorKind.PRECONDITION_FAILED,
    "BadDigest": ErrorKind.CORRUPT,
    "InvalidDigest": ErrorKind.CORRUPT,
    "XAmzContentSHA256Mismatch": ErrorKind.CORRUPT,
    "IncompleteBody": ErrorKind.TRANSIENT,
    "SlowDown": ErrorKind.TRANSIENT,
    "Throttling": ErrorKind.TRANSIENT,
    "ThrottlingException": ErrorKind.TRANSIENT,
    "RequestTimeout": ErrorKind.TRANSIENT,
    "RequestTimeTooSkewed": ErrorKind.TRANSIENT,
    "InternalError": ErrorKind.TRANSIENT,
    "ServiceUnavailable": ErrorKind.TRANSIENT,
    "ConditionalRequestConflict": ErrorKind.TRANSIENT,
    "OperationAborted": ErrorKind.TRANSIENT,
    "KeyTooLongError": ErrorKind.INVALID_REQUEST,
    "MetadataTooLarge": ErrorKind.INVALID_METADATA,
    "InvalidArgument": ErrorKind.INVALID_REQUEST,
    "InvalidBucketName": ErrorKind.INVALID_URL,
    "EntityTooLarge": ErrorKind.INVALID_REQUEST,
    "EntityTooSmall": ErrorKind.INVALID_REQUEST,
    "InvalidPart": ErrorKind.INVALID_REQUEST,
    "InvalidPartOrder": ErrorKind.INVALID_REQUEST,
}

#: (operation, HTTP status) -> kind, checked first: statuses that say more to one
#: operation than any code could (HeadBucket's 404 has no body, so no code).
OPERATION_STATUS_KINDS: Dict[Tuple[str, int], ErrorKind] = {
    ("HeadBucket", 404): ErrorKind.BUCKET_NOT_FOUND,
}

#: HTTP status -> kind, for codes not in CODE_KINDS.
STATUS_KINDS: Dict[int, ErrorKind] = {
    400: ErrorKind.INVALID_REQUEST,
    403: ErrorKind.ACCESS_DENIED,
    404: ErrorKind.NOT_FOUND,
    408: ErrorKind.TRANSIENT,
    409: ErrorKind.TRANSIENT,
    412: ErrorKind.PRECONDITION_FAILED,
    416: ErrorKind.INVALID_RANGE,
    429: ErrorKind.TRANSIENT,
}

#: Local errnos -> kinds.
ERRNO_KINDS: Dict[int, ErrorKind] = {
    errno.ENOSPC: ErrorKind.OUT_OF_DISK,
    errno.EDQUOT: ErrorKind.OUT_OF_DISK,
    errno.EFBIG: ErrorKind.OUT_OF_DISK,
    errno.ENOENT: ErrorKind.LOCAL_FILE_MISSING,
}

#: Error codes that mean "slow down": they also shrink concurrency.
THROTTLE_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "503"})


def classify(exc: BaseException) -> Tuple[ErrorKind, str]:
    """Map any failure of one attempt to (kind, message)."""
    if isinstance(exc, OpError):
        return exc.kind, str(exc)
    client = _classify_client_error(exc)
    if client is not None:
        return client
    dns = _classify_unresolved(exc)
    if dns is not None:
        return dns
    if isinstance(exc, OSError) and not _is_transport(exc) and not _from_http_stack(exc):
        kind = ERRNO_KINDS.get(exc.errno or 0, ErrorKind.LOCAL_FILE_ERROR)
        return kind, f"{exc.strerror or exc} ({exc.filename or 'local file'})"
    return _classify_botocore(exc)


def classify_code(code: str, message: str) -> Tuple[ErrorKind, str]:
    """The kind of an error S3 named by code alone, inside an answer that succeeded
    (a key's entry in DeleteObjects' ``Errors``): the code table, else transient
    for codes that say the server is in trouble, else invalid_request."""
    kind = CODE_KINDS.get(code)
    if kind is None:
        transient = code.startswith(("Internal", "Service", "Slow")) or code.startswith("5")
        kind = ErrorKind.TRANSIENT if transient else ErrorKind.INVALID_REQUEST
    return kind, f"{code}: {message}" if message else code


def error_code(exc: BaseException) -> Optional[str]:
    """The S3 error code of a ClientError ("SlowDown", "404", ...) or None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    return str(response.get("Error", {}).get("Code", "")) or None


def _classify_client_error(exc: BaseException) -> Optional[Tuple[ErrorKind, str]]:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict) or "Error" not in response:
        return None
    code = str(response["Error"].get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    message = str(response["Error"].get("Message") or code or status)
    operation = str(getattr(exc, "operation_name", ""))
    kind = OPERATION_STATUS_KINDS.get((operation, status))
    if kind is not None:  # the status says it all: name the request it answered
        return kind, f"{operation} {code or status}: {message}"
    kind = CODE_KINDS.get(code) or STATUS_KINDS.get(status)
    if kind is None:
        kind = ErrorKind.TRANSIENT if status >= 500 or status == 0 else ErrorKind.INVALID_REQUEST
    return kind, f"{code or status}: {message}"


def _classify_unresolved(exc: BaseException) -> Optional[Tuple[ErrorKind, str]]:
    """A host name that did not resolve: a network failure, retried, naming the host."""
    cause = next((e for e in _chain(exc) if isinstance(e, socket.gaierror)), None)
    if cause is None:
        return None
    host = next(filter(None, (_host_of(e) for e in _chain(exc))), None)
    reason = cause.strerror or str(cause)
    return ErrorKind.TRANSIENT, f"cannot resolve host {host or '(unknown)'} ({reason})"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: causes, contexts and botocore's ``error`` kwarg."""
    seen: set = set()
    todo = [exc]
    while todo and len(seen) < 16:
        link = todo.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        kwargs = getattr(link, "kwargs", None)
        wrapped = kwargs.get("error") if isinstance(kwargs, dict) else None
        found = (wrapped, link.__cause__, link.__context__)
        todo += [e for e in found if isinstance(e, BaseException)]


def _host_of(exc: BaseException) -> Optional[str]:
    """The host an exception in a DNS failure's chain names, if it names one."""
    host = getattr(exc, "host", None)  # s3op.http1.UnresolvedHost
    if isinstance(host, str) and host:
        return host
    kwargs = getattr(exc, "kwargs", None)  # botocore's EndpointConnectionError
    url = kwargs.get("endpoint_url") if isinstance(kwargs, dict) else None
    if isinstance(url, str) and urlsplit(url).hostname:
        return urlsplit(url).hostname
    host = getattr(exc, "_host", None)  # urllib3 >= 2's NameResolutionError
    return host if isinstance(host, str) and host else None


def _from_http_stack(exc: BaseException) -> bool:
    """botocore/urllib3 timeouts and SSL errors subclass OSError; they are transport."""
    return type(exc).__module__.split(".")[0] in ("botocore", "urllib3", "ssl", "http")


def _is_transport(exc: OSError) -> bool:
    """Socket-level OSErrors (resets, timeouts) are transport, not local files."""
    return isinstance(exc, (ConnectionError, TimeoutError)) or exc.errno in (
        errno.ECONNRESET,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.ECONNREFUSED,
    )


def _classify_botocore(exc: BaseException) -> Tuple[ErrorKind, str]:
    from botocore import exceptions as bexc
    from botocore.parsers import ResponseParserError

    name = type(exc).__name__
    if isinstance(exc, bexc.FlexibleChecksumError):
        return ErrorKind.CORRUPT, f"checksum mismatch: {exc}"
    if isinstance(exc, ResponseParserError):  # an answer damaged on the way
        return ErrorKind.CORRUPT, f"unreadable answer: {exc}"
    if isinstance(exc, (bexc.NoCredentialsError, bexc.PartialCredentialsError)):
        return ErrorKind.ACCESS_DENIED, f"no usable credentials: {exc}"
    if isinstance(exc, bexc.ParamValidationError):
        return ErrorKind.INVALID_REQUEST, str(exc)
    if isinstance(exc, _transport_errors()):
        return ErrorKind.TRANSIENT, f"{name}: {exc}"
    # A bug or an error nobody planned for: permanent, never guessed transient.
    return ErrorKind.INTERNAL, f"unexpected {name}: {exc}"


def _transport_errors() -> Tuple[type, ...]:
    from botocore import exceptions as bexc
    from urllib3 import exceptions as uexc

    return (
        bexc.HTTPClientError,  # connection closed/reset, read/connect timeouts
        bexc.EndpointConnectionError,
        bexc.ResponseStreamingError,
        bexc.IncompleteReadError,
        uexc.HTTPError,
        ConnectionError,
        TimeoutError,
        OSError,
    )


def classify_local(exc: Union[OSError, ValueError], path: str) -> Tuple[ErrorKind, str]:
    """``classify`` for a local path the caller names, met outside any op (the
    scheduler making a destination directory, a download's temp file sized or
    renamed into place): an ``OSError``'s kind by its errno (``ERRNO_KINDS``),
    with a message naming ``path`` rather than a temp file; a ``ValueError``
    (a key refused as a file name, ``paths.local_path``) is a local file error.
    """
    if isinstance(exc, ValueError):
        return ErrorKind.LOCAL_FILE_ERROR, str(exc)
    kind, _ = classify(exc)
    return kind, f"{exc.strerror or exc}: {path}"

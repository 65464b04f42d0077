"""Every exception ``s3client`` raises, and the one table mapping engine errors.

The whole tree (``except S3Error`` catches all of them)::

    S3Error                       base class; .url, .kind and .failed_urls on every instance
     ├── S3NotFound               the object or prefix does not exist
     │    └── S3BucketNotFound    the bucket does not exist (never hidden by
     │                            return_missing)
     ├── S3AccessDenied           credentials lack permission (HTTP 403)
     ├── S3URLError               invalid URL, non-s3 root, absolute URL with a
     │                            root, suffix without a root, key > 1024 bytes
     ├── S3InvalidObject          a put value that is not str/bytes/file object,
     │    │                       a put spec with neither/both value and path,
     │    │                       or a key given twice in one put batch
     │    └── S3InvalidMetadata   metadata not JSON-encodable or over 2 KB
     │                            (also a TypeError, as in metaflow)
     ├── S3InvalidRange           a range that is malformed or starts past the end
     ├── S3InvalidRequest         S3 (or the engine) rejected the request (HTTP 400)
     │    └── S3RefusedError      refused before anything was done: deleting a whole
     │                            root or bucket without allow_root=True, a copy
     │                            onto itself, one destination twice in a batch
     ├── S3InsufficientDiskSpace  the local disk filled up during a download
     ├── S3TransientError         transient / corrupt / worker_died after retries
     ├── S3LocalFileError         a local file to upload is missing or unreadable
     │    └── S3LocalFileNotFound a missing one; also an S3NotFound, as
     │                            metaflow raises MetaflowS3NotFound for it
     ├── S3ObjectChanged          object replaced during a multipart download,
     │                            or another conditional request's precondition
     └── S3EngineError            the s3op engine failed: usage error (exit 2),
                                  crash, internal error, unreadable output,
                                  or it was killed

Errors reported by the engine arrive as an ``ErrorKind`` on a result line;
``error_for_kind`` turns one into an exception through ``KIND_TO_ERROR``,
the single place where kinds meet exception classes. Every message names
the URL (or key) concerned.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Type, TypeVar

from s3op.protocol import ErrorKind, Result

_E = TypeVar("_E", bound="S3Error")


class S3Error(Exception):
    """Base class of every ``s3client`` error.

    ``url`` is the S3 URL (or, when it could not be resolved, the key) the
    error is about, or None when it concerns no single object. ``kind`` is
    the engine's ``ErrorKind`` when the error came from the engine, else the
    class's default kind (None for errors found before running anything
    that have no matching kind).
    """

    #: Short description that opens the message.
    headline = "S3 operation failed"
    #: The kind an instance gets when none is given.
    default_kind: Optional[ErrorKind] = None

    def __init__(
        self, message: str, url: Optional[str] = None, kind: Optional[ErrorKind] = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.kind = kind if kind is not None else self.default_kind
        #: Every URL that failed in the batch (request order); see S3 batch methods.
        self.failed_urls: List[str] = [url] if url else []

    def __reduce__(self) -> Tuple[Any, ...]:
        # Keep url and kind when pickled (e.g. across multiprocessing).
        return (type(self), (self.message, self.url, self.kind))

    @classmethod
    def about(cls: Type[_E], url: Optional[str], detail: str = "", **extra: Any) -> _E:
        """Build an error whose message is ``headline: url (detail)``."""
        message = f"{cls.headline}: {url}" + (f" ({detail})" if detail else "")
        return cls(message, url=url, **extra)


class S3NotFound(S3Error):
    """The object or prefix does not exist (its subclass ``S3BucketNotFound``: the bucket)."""

    headline = "S3 object not found"
    default_kind = ErrorKind.NOT_FOUND


class S3BucketNotFound(S3NotFound):
    """The bucket does not exist.

    A subclass of ``S3NotFound``, so ``except S3NotFound`` still catches it;
    but ``return_missing=True`` never turns it into a missing object: a
    missing bucket is a mistake in the URL, not an absent key.
    """

    headline = "S3 bucket not found"
    default_kind = ErrorKind.BUCKET_NOT_FOUND


class S3AccessDenied(S3Error):
    """The credentials in use may not perform this operation (HTTP 403)."""

    headline = "S3 access denied"
    default_kind = ErrorKind.ACCESS_DENIED


class S3URLError(S3Error):
    """A URL or key that cannot be used; raised before anything is done.

    Causes: not an ``s3://`` URL, an invalid bucket name, a root that is not
    ``s3://``, an absolute URL given to a client that has a root, a suffix
    given to a client without one, or a key over 1024 UTF-8 bytes.
    """

    headline = "invalid S3 address"
    default_kind = ErrorKind.INVALID_URL


class S3InvalidObject(S3Error):
    """A put request that cannot be uploaded; raised before anything is done.

    Causes: a value that is not ``str``, bytes-like or a readable and
    seekable file object; an ``S3PutObject`` with neither or both of
    ``value`` and ``path``; the same URL twice in one batch.
    """

    headline = "invalid object to upload"


class S3InvalidMetadata(S3InvalidObject, TypeError):
    """Metadata that is not a JSON-encodable dict or is over S3's 2 KB limit.

    Also a ``TypeError``: metaflow.S3 lets ``json.dumps`` raise one for
    metadata it cannot encode, so ``except TypeError`` keeps working.
    """

    headline = "invalid metadata"
    default_kind = ErrorKind.INVALID_METADATA


class S3InvalidRange(S3Error):
    """A byte range that is malformed, empty or starts past the object's end."""

    headline = "invalid byte range"
    default_kind = ErrorKind.INVALID_RANGE


class S3InvalidRequest(S3Error):
    """S3 or the engine rejected the request as malformed (HTTP 400).

    For example an encryption type that S3 does not know.
    """

    headline = "invalid S3 request"
    default_kind = ErrorKind.INVALID_REQUEST


class S3RefusedError(S3InvalidRequest):
    """An operation refused before anything was done, because it is most likely a
    mistake: ``delete_recursive`` of a whole root or bucket without
    ``allow_root=True``, a copy whose source is its destination, or two copies
    to one destination in a batch."""

    headline = "refused"


class S3InsufficientDiskSpace(S3Error):
    """The local disk (the temp dir under ``tmproot``) filled up."""

    headline = "insufficient local disk space"
    default_kind = ErrorKind.OUT_OF_DISK


class S3TransientError(S3Error):
    """A failure that retries did not cure: transient, corrupt or a worker died.

    Trying again later may succeed.
    """

    headline = "S3 operation failed after retries"
    default_kind = ErrorKind.TRANSIENT


class S3LocalFileError(S3Error):
    """A local file to upload is missing or unreadable.

    ``url`` holds the key the file was meant for and ``path`` the local path.
    """

    headline = "local file missing or unreadable"
    default_kind = ErrorKind.LOCAL_FILE_MISSING

    def __init__(
        self,
        message: str,
        url: Optional[str] = None,
        kind: Optional[ErrorKind] = None,
        path: Optional[str] = None,
    ) -> None:
        super().__init__(message, url=url, kind=kind)
        self.path = path

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.message, self.url, self.kind, self.path))


class S3LocalFileNotFound(S3LocalFileError, S3NotFound):
    """A local file to upload does not exist.

    Also an ``S3NotFound``: metaflow.S3 raises ``MetaflowS3NotFound`` here,
    so ``except MetaflowS3NotFound`` (``s3client.compat``) keeps catching it.
    """

    headline = "local file not found"
    default_kind = ErrorKind.LOCAL_FILE_MISSING


class S3ObjectChanged(S3Error):
    """The object changed while we worked on it.

    Raised when an object was replaced during a multipart download
    (``object_changed``) and for a failed precondition the engine could not
    resolve (``precondition_failed``).
    """

    headline = "S3 object changed during the operation"
    default_kind = ErrorKind.OBJECT_CHANGED


class S3EngineError(S3Error):
    """The ``s3op`` engine itself failed.

    Causes: a usage error or malformed manifest (exit 2), a crash, an
    internal error reported for a request (``internal``), output that is
    not result lines, results missing for some requests, or the engine
    being stopped by a signal (``interrupted``). The message carries the end of the
    engine's stderr when there is one.
    """

    headline = "s3op engine failed"
    default_kind = None


#: The one mapping from an engine ``ErrorKind`` to the exception it raises.
KIND_TO_ERROR: Dict[ErrorKind, Type[S3Error]] = {
    ErrorKind.NOT_FOUND: S3NotFound,
    ErrorKind.BUCKET_NOT_FOUND: S3BucketNotFound,
    ErrorKind.ACCESS_DENIED: S3AccessDenied,
    ErrorKind.INVALID_URL: S3URLError,
    ErrorKind.INVALID_RANGE: S3InvalidRange,
    ErrorKind.INVALID_REQUEST: S3InvalidRequest,
    ErrorKind.INVALID_METADATA: S3InvalidMetadata,
    ErrorKind.OUT_OF_DISK: S3InsufficientDiskSpace,
    ErrorKind.LOCAL_FILE_MISSING: S3LocalFileNotFound,
    ErrorKind.LOCAL_FILE_ERROR: S3LocalFileError,
    ErrorKind.PRECONDITION_FAILED: S3ObjectChanged,
    ErrorKind.OBJECT_CHANGED: S3ObjectChanged,
    ErrorKind.CORRUPT: S3TransientError,
    ErrorKind.TRANSIENT: S3TransientError,
    ErrorKind.WORKER_DIED: S3TransientError,
    ErrorKind.INTERRUPTED: S3EngineError,
    ErrorKind.INTERNAL: S3EngineError,
}


def error_for_kind(kind: ErrorKind, url: str, message: str) -> S3Error:
    """The exception for an engine error of ``kind`` about ``url``."""
    cls = KIND_TO_ERROR.get(kind, S3EngineError)
    return cls.about(url, message, kind=kind)


def raise_for_result(res: Result, url: Optional[str] = None) -> None:
    """Raise the exception for a failed result (naming ``url`` or the result's)."""
    if res.error is not None:
        raise error_for_kind(res.error.kind, url or res.url, res.error.message)


def is_not_found(res: Result) -> bool:
    """True for a result saying the object does not exist (False when its bucket
    does not: ``return_missing`` must not hide that)."""
    return res.error is not None and res.error.kind is ErrorKind.NOT_FOUND


__all__ = [
    "KIND_TO_ERROR",
    "S3AccessDenied",
    "S3BucketNotFound",
    "S3EngineError",
    "S3Error",
    "S3InsufficientDiskSpace",
    "S3InvalidMetadata",
    "S3InvalidObject",
    "S3InvalidRange",
    "S3InvalidRequest",
    "S3LocalFileError",
    "S3LocalFileNotFound",
    "S3NotFound",
    "S3ObjectChanged",
    "S3RefusedError",
    "S3TransientError",
    "S3URLError",
    "error_for_kind",
    "is_not_found",
    "raise_for_result",
]

"""Metaflow's exception names, as aliases of ours, so ``except`` clauses keep working.

Code written for ``metaflow.S3`` catches ``MetaflowS3NotFound`` and friends.
With only the import changed, ``from s3client.compat import
MetaflowS3NotFound`` gives the class ``s3client`` really raises
(``S3NotFound``), so the same ``except`` clause catches the same failures::

    metaflow.S3 raises                 s3client.S3 raises (alias here)
    MetaflowException                  S3Error (the base of everything)
    MetaflowS3Exception                S3Error
    MetaflowS3NotFound                 S3NotFound (S3BucketNotFound too)
    MetaflowS3AccessDenied             S3AccessDenied
    MetaflowS3URLException             S3URLError
    MetaflowS3InvalidObject            S3InvalidObject
    MetaflowS3InvalidRange             S3InvalidRange
    MetaflowS3InsufficientDiskSpace    S3InsufficientDiskSpace

``METAFLOW_EQUIVALENTS`` is that table as data: metaflow's class name ->
our class. It is the one published mapping the differential tests use to
say that a failure through ``metaflow.S3`` and one through ``s3client.S3``
are "the same exception". Importing this module does not import metaflow.
"""

from __future__ import annotations

from typing import Dict, Type

from .errors import (
    S3AccessDenied,
    S3Error,
    S3InsufficientDiskSpace,
    S3InvalidObject,
    S3InvalidRange,
    S3NotFound,
    S3URLError,
)

MetaflowException = S3Error
MetaflowS3Exception = S3Error
MetaflowS3NotFound = S3NotFound
MetaflowS3AccessDenied = S3AccessDenied
MetaflowS3URLException = S3URLError
MetaflowS3InvalidObject = S3InvalidObject
MetaflowS3InvalidRange = S3InvalidRange
MetaflowS3InsufficientDiskSpace = S3InsufficientDiskSpace

#: metaflow's exception class name -> the s3client class raised in its place.
METAFLOW_EQUIVALENTS: Dict[str, Type[S3Error]] = {
    "MetaflowException": S3Error,
    "MetaflowS3Exception": S3Error,
    "MetaflowS3NotFound": S3NotFound,
    "MetaflowS3AccessDenied": S3AccessDenied,
    "MetaflowS3URLException": S3URLError,
    "MetaflowS3InvalidObject": S3InvalidObject,
    "MetaflowS3InvalidRange": S3InvalidRange,
    "MetaflowS3InsufficientDiskSpace": S3InsufficientDiskSpace,
}


def equivalent(metaflow_exc: BaseException) -> Type[S3Error]:
    """The s3client class that stands for ``metaflow_exc``'s class.

    Looks the class and then its bases up by name, so a metaflow subclass
    we do not list maps to its nearest listed base. Raises KeyError for an
    exception that is not a metaflow one (a ``TypeError``, say).
    """
    for cls in type(metaflow_exc).__mro__:
        if cls.__name__ in METAFLOW_EQUIVALENTS:
            return METAFLOW_EQUIVALENTS[cls.__name__]
    raise KeyError(type(metaflow_exc).__name__)


__all__ = [
    "METAFLOW_EQUIVALENTS",
    "MetaflowException",
    "MetaflowS3AccessDenied",
    "MetaflowS3Exception",
    "MetaflowS3InsufficientDiskSpace",
    "MetaflowS3InvalidObject",
    "MetaflowS3InvalidRange",
    "MetaflowS3NotFound",
    "MetaflowS3URLException",
    "equivalent",
]

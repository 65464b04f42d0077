"""s3client: a high-level S3 client running batches through the s3op engine.

::

    from s3client import S3

    with S3(s3root="s3://bucket/data") as s3:
        s3.put("hello.txt", "hello")
        print(s3.get("hello.txt").text)

``S3`` (``client.py``) resolves keys and owns a temp dir; the engine
manager (``engine_process.py``, with the shared, private and one-shot
policies) hands each batch to ``s3op`` as a manifest; ``objects.py`` holds
the value types; ``errors.py`` the exception tree (``except S3Error``
catches all), ``compat.py`` metaflow's names for it.
Importing this package is cheap: boto3 is only ever imported by the engine,
and what a get, a listing or a HEAD does not need (sync, the progress
types, the bandwidth error) is imported when first asked for.
"""

from typing import TYPE_CHECKING, Any

from s3op.lazy import load

from .client import S3
from .errors import (
    S3AccessDenied,
    S3BucketNotFound,
    S3EngineError,
    S3Error,
    S3InsufficientDiskSpace,
    S3InvalidMetadata,
    S3InvalidObject,
    S3InvalidRange,
    S3InvalidRequest,
    S3LocalFileError,
    S3LocalFileNotFound,
    S3NotFound,
    S3ObjectChanged,
    S3RefusedError,
    S3TransientError,
    S3URLError,
)
from .objects import PutValue, RangeInfo, S3GetObject, S3Object, S3PutObject

if TYPE_CHECKING:
    from s3op.bandwidth import BandwidthError
    from s3op.progress import ProgressSnapshot

    from .sync import S3InvalidSync, SyncSummary

#: Public names -> the module defining them, imported on first use (a test checks
#: that ``import s3client`` leaves these modules out).
_LAZY = {
    "BandwidthError": "s3op.bandwidth",
    "ProgressSnapshot": "s3op.progress",
    "S3InvalidSync": "s3client.sync",
    "SyncSummary": "s3client.sync",
}


def __getattr__(name: str) -> Any:
    """The names of ``_LAZY``, imported when first asked for."""
    return load(globals(), _LAZY, name)


#: The package version; kept equal to setup.py's and ``s3op.__version__`` (a test checks).
__version__ = "0.1.0"

__all__ = [
    "__version__",
    "BandwidthError",
    "ProgressSnapshot",
    "PutValue",
    "RangeInfo",
    "S3",
    "S3AccessDenied",
    "S3BucketNotFound",
    "S3EngineError",
    "S3Error",
    "S3GetObject",
    "S3InsufficientDiskSpace",
    "S3InvalidMetadata",
    "S3InvalidObject",
    "S3InvalidRange",
    "S3InvalidRequest",
    "S3InvalidSync",
    "S3LocalFileError",
    "S3LocalFileNotFound",
    "S3NotFound",
    "S3Object",
    "S3ObjectChanged",
    "S3PutObject",
    "S3RefusedError",
    "S3TransientError",
    "S3URLError",
    "SyncSummary",
]

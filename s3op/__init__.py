"""s3op: the standalone S3 batch engine under s3client.

Run ``python -m s3op --help``. The wire contract (requests, results, error
kinds, exit codes, environment names) lives in ``s3op.protocol``; the one
way to run a batch in a program is ``run_batch(op, requests, options, sink)``
with a ``BatchOptions``::

    from s3op import BatchOptions, run_batch
    from s3op.protocol import InfoRequest

    results = []
    code = run_batch("info", [InfoRequest(0, "s3://bucket/key")], BatchOptions(), results.append)

``run_batch`` and its types are imported on first use, so that
``import s3op`` (and ``s3op --version``) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from s3op.lazy import load

#: ``s3op --version``. A literal kept equal to setup.py's version (a test checks):
#: reading package metadata would add its import and a search of sys.path to every
#: ``python -m s3op`` start-up.
__version__ = "0.1.0"

if TYPE_CHECKING:
    from s3op.batch import ResultSink, run_batch
    from s3op.options import BatchOptions, BatchUsageError

#: Public name -> the module defining it (imported on first use).
_LAZY = {
    "run_batch": "s3op.batch",
    "ResultSink": "s3op.batch",
    "BatchOptions": "s3op.options",
    "BatchUsageError": "s3op.options",
}


def __getattr__(name: str) -> object:
    """``run_batch`` and its types, imported when first asked for."""
    return load(globals(), _LAZY, name)


__all__ = ["BatchOptions", "BatchUsageError", "ResultSink", "__version__", "run_batch"]

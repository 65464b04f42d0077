"""s3op: the standalone S3 batch engine under s3client.

Run ``python -m s3op --help``. The wire contract (requests, results, error
kinds, exit codes) lives in ``s3op.protocol``, the only module s3client
imports.
"""

__version__ = "0.1.0"

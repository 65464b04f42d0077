"""s3op: the standalone S3 batch engine under s3client.

Run ``python -m s3op --help``. The wire contract (requests, results, error
kinds, exit codes) lives in ``s3op.protocol``, the only module s3client
imports.
"""

#: ``s3op --version``. A literal kept equal to setup.py's version (a test checks):
#: reading package metadata would add its import and a search of sys.path to every
#: ``python -m s3op`` start-up.
__version__ = "0.1.0"

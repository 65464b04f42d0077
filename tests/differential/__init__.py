"""Differential tests: metaflow.S3 and s3client.S3 on the same calls (see conftest.py)."""

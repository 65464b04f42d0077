"""Conformance tests: the same test functions run on every S3 backend.

Test functions live in this module and take the ``s3backend`` fixture (a
:class:`tests.backends.Backend` with a fresh bucket, whose ``AWS_*`` variables
are already in ``os.environ``). They are not collected from here (the file name
does not start with ``test_``); instead

- ``tests/functional/test_conformance.py`` (moto) and
- ``tests/integration/test_conformance.py`` (SeaweedFS)

both do ``from tests.conformance import *``, and each directory's conftest
provides its own ``s3backend``. Add new conformance tests here as module-level
``test_*`` functions (the star import takes every public name; do not define
``__all__`` unless it lists them all); backend-specific tests go in the
backend's own directory.
"""

from __future__ import annotations

import os

from tests.backends import Backend


def test_backend_roundtrip(s3backend: Backend) -> None:
    client = s3backend.client()
    client.put_object(Bucket=s3backend.bucket, Key="hello.txt", Body=b"hello world")
    obj = client.get_object(Bucket=s3backend.bucket, Key="hello.txt")
    assert obj["Body"].read() == b"hello world"
    assert obj["ContentLength"] == 11
    assert s3backend.root("a/b") == f"s3://{s3backend.bucket}/a/b"
    for key, value in s3backend.env().items():
        assert os.environ[key] == value
    assert "AWS_PROFILE" not in os.environ

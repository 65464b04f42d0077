"""Opt-in tests with objects over 5 GiB (``make test-big``; SeaweedFS).

They need ~16 GiB of free disk and several minutes, so ``make test`` skips
them unless ``S3CLIENT_BIG_TESTS=1`` (``make test-big`` sets it). Run them
before a release, or nightly.
"""

from __future__ import annotations

import os
from typing import List

import pytest

from tests.conftest import make_s3backend_fixture

s3backend = make_s3backend_fixture("seaweed_server", "seaweedfs")

BIG_TESTS_VAR = "S3CLIENT_BIG_TESTS"


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    if os.environ.get(BIG_TESTS_VAR) == "1":
        return
    skip = pytest.mark.skip(reason=f"objects over 5 GiB: opt-in, {BIG_TESTS_VAR}=1 (make test-big)")
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if os.path.abspath(str(item.fspath)).startswith(here + os.sep):
            item.add_marker(skip)

"""Integration tests run against SeaweedFS: ``s3backend`` is a fresh bucket on it.

Every test in this directory is marked ``integration`` (deselect with
``-m "not integration"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from tests.conftest import make_s3backend_fixture

s3backend = make_s3backend_fixture("seaweed_server", "seaweedfs")

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)

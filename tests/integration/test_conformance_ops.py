"""Run the delete/copy conformance tests (tests/conformance_ops.py) on SeaweedFS."""

from tests.conformance_ops import *  # noqa: F401,F403

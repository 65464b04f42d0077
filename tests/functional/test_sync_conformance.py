"""Run the sync conformance tests (tests/sync_conformance.py) on moto."""

from tests.sync_conformance import *  # noqa: F401,F403

"""Run the shared conformance tests (tests/conformance.py) on this directory's backend."""

from tests.conformance import *  # noqa: F401,F403

"""Helpers for the s3client unit tests: a clean environment and a fake engine.

``FakeEngine`` stands in for ``runner.ProcessEngine``: it records each
batch and answers with results built by a test-supplied function, so the
client's logic is tested without a subprocess or an S3 server.
"""

from __future__ import annotations

import os
from typing import Callable, List, Optional, Sequence, Tuple

import pytest

from s3client import S3
from s3client.mfconfig import METAFLOW_VARS
from s3op.protocol import ErrorKind, Request, Result

Respond = Callable[[str, Sequence[Request], Sequence[str]], List[Result]]

ENV_VARS = (
    "S3CLIENT_S3ROOT",
    "METAFLOW_DATATOOLS_S3ROOT",
    "S3CLIENT_TMPROOT",
    "S3CLIENT_NUM_WORKERS",
    "S3CLIENT_DEBUG",
    "S3CLIENT_ENDPOINT_URL",
    "S3CLIENT_RETRIES",
    *METAFLOW_VARS,
)


def clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every variable s3client reads."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("METAFLOW_HOME", os.devnull)  # no developer's metaflow profile


class FakeEngine:
    """Records batches; answers each with ``respond(op, requests, flags)``."""

    def __init__(self, respond: Optional[Respond] = None) -> None:
        self.calls: List[Tuple[str, List[Request], List[str]]] = []
        self.respond = respond or (lambda op, reqs, flags: [])

    def run(self, op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
        self.calls.append((op, list(requests), list(flags)))
        return self.respond(op, requests, flags)


def with_engine(s3: S3, respond: Optional[Respond] = None) -> FakeEngine:
    """Swap ``s3``'s engine for a FakeEngine and return it."""
    engine = FakeEngine(respond)
    s3._engine = engine
    return engine


def failure(req: Request, kind: ErrorKind, message: str = "boom") -> Result:
    """A failed result for ``req``."""
    return Result.failure(req.idx, req.url, kind, message)

"""Functional tests run against moto: ``s3backend`` is a fresh bucket on moto's server."""

from __future__ import annotations

from tests.conftest import make_s3backend_fixture

s3backend = make_s3backend_fixture("moto_server", "moto")

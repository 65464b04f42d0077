"""What ``import s3client`` leaves out, and the names that are imported on first use.

A client that only gets, lists and describes objects never needs sync, the
uploads' checks, the requests that write, the progress bar or the bandwidth
cap: their modules are imported when first asked for (each would cost a
fresh process a millisecond or more; issue 19). ``tests/functional/
test_lazy_calls.py`` checks the same after a get, a listing and a HEAD.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Modules ``import s3client`` must not load (they load on first use).
LAZY_MODULES = (
    "s3op.progress", "s3op.bandwidth", "s3op.sync", "s3op.sync.spec", "s3op.writes",
    "s3client.sync", "s3client.uploads", "queue",
)  # fmt: skip


def loaded_after(code: str) -> list:
    """The modules of ``LAZY_MODULES`` loaded once ``code`` ran in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint([m for m in {LAZY_MODULES!r} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return eval(proc.stdout.strip())  # a list of str printed by the child


def test_import_s3client_leaves_out_the_lazy_modules() -> None:
    assert loaded_after("import s3client") == []


def test_a_client_made_without_a_batch_leaves_them_out() -> None:
    code = "from s3client import S3\nS3(s3root='s3://bucket/prefix').close()"
    assert loaded_after(code) == []


def test_asking_for_a_lazy_name_loads_its_module() -> None:
    assert loaded_after("from s3client import SyncSummary") == [
        "s3op.sync", "s3op.sync.spec", "s3client.sync",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("BandwidthError", "s3op.bandwidth"),
        ("ProgressSnapshot", "s3op.progress"),
        ("S3InvalidSync", "s3client.sync"),
        ("SyncSummary", "s3client.sync"),
    ],
)
def test_lazy_public_names_are_the_defining_modules_objects(name: str, module: str) -> None:
    import importlib

    import s3client

    assert getattr(s3client, name) is getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("PutRequest", "s3op.writes"),
        ("DeleteRequest", "s3op.writes"),
        ("CopyRequest", "s3op.writes"),
        ("SyncRequest", "s3op.sync.spec"),
        ("COMPARE_MODES", "s3op.sync.spec"),
        ("sync_problem", "s3op.sync.spec"),
        ("ProgressTracker", "s3op.progress"),
        ("LISTING_OPS", "s3op.progress"),
        ("parse_rate", "s3op.bandwidth"),
    ],
)
def test_protocol_reexports_are_the_defining_modules_objects(name: str, module: str) -> None:
    import importlib

    from s3op import protocol

    assert getattr(protocol, name) is getattr(importlib.import_module(module), name)


def test_request_types_names_every_op_and_an_unknown_name_still_fails() -> None:
    from s3op import protocol

    assert sorted(protocol.REQUEST_TYPES) == [
        "copy", "delete", "get", "info", "list", "put", "sync",
    ]  # fmt: skip
    assert protocol.REQUEST_TYPES["put"] is protocol.PutRequest
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        protocol.NoSuchName  # noqa: B018 - the lookup is the test
    import s3client

    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        s3client.NoSuchName  # noqa: B018

"""The public surface: exports, the exception tree, and a cheap import."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys

import pytest

import s3client
from s3client import errors
from s3client.errors import KIND_TO_ERROR, S3Error, S3LocalFileError, error_for_kind
from s3op.protocol import ErrorKind

PROMISED = {"S3", "S3Object", "S3GetObject", "S3PutObject", "RangeInfo"}


def public_error_classes() -> set:
    return {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException) and not name.startswith("_")
    }


def test_all_exports_promised_names_and_every_error() -> None:
    exported = set(s3client.__all__)
    assert PROMISED <= exported
    assert public_error_classes() <= exported
    assert all(hasattr(s3client, name) for name in exported)


def test_every_error_is_an_s3error() -> None:
    for name in public_error_classes():
        assert issubclass(getattr(errors, name), S3Error)


def test_error_tree_in_the_docstring_names_every_class() -> None:
    doc = errors.__doc__ or ""
    for name in public_error_classes():
        assert name in doc


def test_every_error_kind_has_an_exception() -> None:
    assert set(KIND_TO_ERROR) == set(ErrorKind)


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_error_for_kind_names_url_and_keeps_kind(kind: ErrorKind) -> None:
    exc = error_for_kind(kind, "s3://bkt/some/key", "detail from s3op")
    assert isinstance(exc, KIND_TO_ERROR[kind])
    assert exc.url == "s3://bkt/some/key" and exc.kind is kind
    assert "s3://bkt/some/key" in str(exc) and "detail from s3op" in str(exc)


def test_errors_survive_pickling() -> None:
    exc = error_for_kind(ErrorKind.ACCESS_DENIED, "s3://bkt/k", "403")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc) and (back.url, back.kind) == (exc.url, exc.kind)
    local = S3LocalFileError.about("k", "gone", path="/p")
    assert pickle.loads(pickle.dumps(local)).path == "/p"


#: Modules ``import s3client`` must not load: the engine's (boto3, botocore, click),
#: metaflow, and what only starting an engine needs (subprocess) or nothing needs
#: (OpenSSL's hashlib, hmac: the shared server's name is a keyed BLAKE2b).
NOT_ON_IMPORT = (
    "boto3", "botocore", "metaflow", "click", "subprocess", "hashlib", "_hashlib", "hmac",
)  # fmt: skip


def test_import_leaves_out_the_engine_and_process_modules() -> None:
    code = f"import s3client, sys; print([m for m in {NOT_ON_IMPORT!r} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_docstrings_on_public_names() -> None:
    for name in s3client.__all__:
        obj = getattr(s3client, name)
        if inspect.isclass(obj):
            assert obj.__doc__, name
    for name, member in inspect.getmembers(s3client.S3):
        if not name.startswith("_") and callable(member):
            assert member.__doc__, name


def test_promised_methods_and_parameters() -> None:
    expected = {
        "get": ["key", "return_missing", "return_info"],
        "get_many": ["keys", "return_missing", "return_info"],
        "get_recursive": ["keys", "return_info"],
        "get_all": ["return_info"],
        "put": ["key", "obj", "overwrite", "content_type", "metadata"],
        "put_many": ["key_objs", "overwrite"],
        "put_files": ["key_paths", "overwrite"],
        "info": ["key", "return_missing"],
        "info_many": ["keys", "return_missing"],
        "list_paths": ["keys"],
        "list_recursive": ["keys"],
        "close": [],
    }
    for method, params in expected.items():
        sig = inspect.signature(getattr(s3client.S3, method))
        kinds = {name: p.kind for name, p in sig.parameters.items()}
        keyword_only = [n for n, k in kinds.items() if k is inspect.Parameter.KEYWORD_ONLY]
        assert [n for n in kinds if n not in keyword_only][1:] == params, method
        # Every method that runs a batch takes progress= (ours), by keyword only.
        assert keyword_only == ([] if method == "close" else ["progress"]), method
    ctor = list(inspect.signature(s3client.S3).parameters)
    assert ctor == ["tmproot", "bucket", "prefix", "run", "s3root", "encryption", "kwargs"]


def test_s3object_has_every_promised_property() -> None:
    props = [
        "exists",
        "downloaded",
        "url",
        "key",
        "prefix",
        "path",
        "blob",
        "text",
        "size",
        "content_type",
        "metadata",
        "encryption",
        "range_info",
        "last_modified",
        "has_info",
    ]
    for prop in props:
        assert isinstance(getattr(s3client.S3Object, prop), property), prop


def test_helper_tuples_match_the_promised_signatures() -> None:
    assert s3client.S3GetObject._fields == ("key", "offset", "length")
    assert s3client.S3PutObject._fields == (
        "key",
        "value",
        "path",
        "content_type",
        "encryption",
        "metadata",
    )
    assert s3client.RangeInfo._fields == ("total_size", "request_offset", "request_length")

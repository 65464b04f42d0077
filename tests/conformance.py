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

Every test drives the public ``s3client`` API, so every call crosses the
subprocess boundary into the ``s3op`` engine, and checks what was stored with
an independent boto3 client (``s3backend.client()``). Keys are chosen to work
on both servers: SeaweedFS refuses ``.``/``..`` path segments, caps one path
segment at 255 bytes and folds ``a//b``; moto refuses keys with a newline.
Those cases live in ``tests/functional/test_s3_modes.py`` (moto) and
``tests/integration/test_seaweed_bulk.py`` (SeaweedFS).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from s3client import (
    S3,
    RangeInfo,
    S3AccessDenied,
    S3BucketNotFound,
    S3Error,
    S3GetObject,
    S3InvalidMetadata,
    S3InvalidObject,
    S3InvalidRange,
    S3LocalFileError,
    S3NotFound,
    S3Object,
    S3PutObject,
    S3URLError,
)
from tests.backends import Backend
from tests.interop_helpers import metaflow_env, run_python

# ------------------------------------------------------------------- helpers


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stored(backend: Backend, key: str) -> bytes:
    """The bytes S3 holds at ``key``, read with boto3 (not with s3client)."""
    return backend.client().get_object(Bucket=backend.bucket, Key=key)["Body"].read()


def _head(backend: Backend, key: str) -> Dict[str, Any]:
    return backend.client().head_object(Bucket=backend.bucket, Key=key)


def _all_keys(backend: Backend) -> List[str]:
    """Every key in the bucket, listed with boto3."""
    keys: List[str] = []
    for page in backend.client().get_paginator("list_objects_v2").paginate(Bucket=backend.bucket):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(keys)


def _in_dir(path: str, directory: Path) -> bool:
    real = os.path.realpath(path)
    return real.startswith(os.path.realpath(directory) + os.sep)


def _tmpdir_of(tmproot: Path) -> Path:
    """The one ``s3client.*`` temp dir a client created under ``tmproot``."""
    (only,) = [p for p in tmproot.iterdir() if p.name.startswith("s3client.")]
    return only


def _json(value: Any) -> str:
    """A canonical form for exact comparison (1 vs 1.0 vs True differ)."""
    return json.dumps(value, sort_keys=True)


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


# ------------------------------------------------------------ sizes, values


def test_sizes_roundtrip_zero_kib_mib(s3backend: Backend, tmp_path: Path) -> None:
    root = s3backend.root("sizes").rstrip("/")
    data = {"zero": b"", "kib": os.urandom(1024), "mib": os.urandom(1 << 20)}
    with S3(s3root=root, tmproot=str(tmp_path)) as s3:
        written = s3.put_many(list(data.items()))
        assert written == [(k, f"{root}/{k}") for k in data]
        for key, value in data.items():
            assert _sha(_stored(s3backend, f"sizes/{key}")) == _sha(value)

        objs = s3.get_many(list(data))
        for obj, (key, value) in zip(objs, data.items()):
            assert (obj.key, obj.url) == (key, f"{root}/{key}")
            assert obj.exists and obj.downloaded
            assert obj.size == len(value) == os.path.getsize(obj.path)
            assert _sha(obj.blob) == _sha(value)
            assert obj.range_info == RangeInfo(len(value), 0, len(value))
            assert _in_dir(obj.path, tmp_path)

        infos = s3.info_many(list(data))
        assert [(o.size, o.exists, o.downloaded) for o in infos] == [
            (len(v), True, False) for v in data.values()
        ]
        listed = {o.key: o for o in s3.list_paths()}
        assert {k: (o.exists, o.size) for k, o in listed.items()} == {
            k: (True, len(v)) for k, v in data.items()
        }

        # The one-object paths (put / get), for the largest and the empty object.
        assert s3.put("single-mib", data["mib"]) == f"{root}/single-mib"
        assert _sha(s3.get("single-mib").blob) == _sha(data["mib"])
        empty = s3.get("zero")
        assert (empty.blob, empty.text, empty.size, empty.exists) == (b"", "", 0, True)


def test_put_accepts_str_bytes_and_seekable_files(s3backend: Backend, tmp_path: Path) -> None:
    text = "héllo ☃ wörld\nline two\n"
    binary = bytes(range(256)) * 8
    bin_file = tmp_path / "bin.dat"
    bin_file.write_bytes(binary)
    text_file = tmp_path / "text.txt"
    text_file.write_text(text, encoding="utf-8")
    moved = io.BytesIO(b"a stream, read from the start")
    moved.read(5)  # position no longer 0: the whole object is still uploaded
    cases: List[Tuple[str, Any, bytes]] = [
        ("str", text, text.encode("utf-8")),
        ("bytes", b"\x00\xffraw\x00", b"\x00\xffraw\x00"),
        ("bytearray", bytearray(b"bytearray"), b"bytearray"),
        ("memoryview", memoryview(b"memoryview"), b"memoryview"),
        ("bytesio", moved, b"a stream, read from the start"),
        ("stringio", io.StringIO(text), text.encode("utf-8")),
    ]
    root = s3backend.root("values").rstrip("/")
    with S3(s3root=root) as s3, bin_file.open("rb") as fb, text_file.open(encoding="utf-8") as ft:
        cases += [("binary-file", fb, binary), ("text-file", ft, text.encode("utf-8"))]
        for key, value, expected in cases:
            assert s3.put(f"one/{key}", value) == f"{root}/one/{key}"
            assert _stored(s3backend, f"values/one/{key}") == expected, key
        for _, value, _ in cases:
            if hasattr(value, "seek"):
                value.seek(0)  # put_many sends a file object from where it stands (metaflow)
        written = s3.put_many([(f"many/{k}", v) for k, v, _ in cases])
        assert written == [(f"many/{k}", f"{root}/many/{k}") for k, _, _ in cases]
        got = s3.get_many([f"many/{k}" for k, _, _ in cases])
        assert [o.blob for o in got] == [e for _, _, e in cases]
        assert s3.get("one/str").text == text
        partly_read = io.BytesIO(b"abcdef")
        partly_read.read(3)
        s3.put_many([("many/partly-read", partly_read)])
        assert _stored(s3backend, "values/many/partly-read") == b"def"


@pytest.mark.parametrize(
    "bad",
    [42, 3.5, {"a": 1}, ["list"], object(), None],
    ids=["int", "float", "dict", "list", "object", "none"],
)
def test_put_of_a_non_string_object_is_refused(s3backend: Backend, bad: Any) -> None:
    root = s3backend.root("bad").rstrip("/")
    with S3(s3root=root) as s3:
        with pytest.raises(S3InvalidObject) as err:
            s3.put("the-key", bad)
        assert err.value.url == f"{root}/the-key"
        assert f"{root}/the-key" in str(err.value)
        with pytest.raises(S3InvalidObject) as err:
            s3.put_many([("fine", b"ok"), ("the-bad-one", bad)])
        assert "the-bad-one" in str(err.value)
    assert _all_keys(s3backend) == []  # the batch was refused whole


def test_put_of_unusable_file_objects_is_refused(s3backend: Backend) -> None:
    root = s3backend.root("bad").rstrip("/")
    read_end, write_end = os.pipe()
    os.close(write_end)
    closed = io.BytesIO(b"x")
    closed.close()
    with S3(s3root=root) as s3, os.fdopen(read_end, "rb") as pipe:
        for key, value in (("pipe", pipe), ("closed", closed)):
            with pytest.raises(S3InvalidObject) as err:
                s3.put(key, value)
            assert f"{root}/{key}" in str(err.value)
        with pytest.raises(S3InvalidObject) as err:
            s3.put_many([("twice", b"a"), ("twice", b"b")])
        assert f"{root}/twice" in str(err.value)
        with pytest.raises(S3InvalidObject):
            s3.put_many([S3PutObject("both", value=b"v", path=__file__)])
    assert _all_keys(s3backend) == []


# ---------------------------------------------------------- missing objects


def test_missing_keys_with_and_without_return_missing(s3backend: Backend) -> None:
    root = s3backend.root("m").rstrip("/")
    missing_url = f"{root}/missing"
    with S3(s3root=root) as s3:
        s3.put("here", b"present")
        for call in (
            lambda: s3.get("missing"),
            lambda: s3.get_many(["here", "missing"]),
            lambda: s3.get(S3GetObject("missing", 0, 10)),
            lambda: s3.info("missing"),
            lambda: s3.info_many(["here", "missing"]),
        ):
            with pytest.raises(S3NotFound) as err:
                call()
            assert err.value.url == missing_url
            assert missing_url in str(err.value)

        got = s3.get_many(["here", "missing", "here"], return_missing=True)
        assert [o.exists for o in got] == [True, False, True]
        assert [o.blob for o in got] == [b"present", None, b"present"]
        gone = got[1]
        assert (gone.url, gone.key, gone.downloaded, gone.path) == (
            missing_url,
            "missing",
            False,
            None,
        )
        assert (gone.size, gone.text, gone.metadata, gone.range_info) == (None, None, None, None)
        assert not s3.get("missing", return_missing=True).exists
        assert not s3.get(S3GetObject("missing", 2, 3), return_missing=True).exists
        infos = s3.info_many(["missing", "here"], return_missing=True)
        assert [(o.exists, o.size) for o in infos] == [(False, None), (True, 7)]
        assert not s3.info("missing", return_missing=True).exists


def test_missing_bucket_is_not_found(s3backend: Backend) -> None:
    url = f"s3://{s3backend.bucket}-absent/k"
    with S3() as s3:
        for call in (lambda: s3.get(url), lambda: s3.info(url), lambda: s3.list_paths([url])):
            with pytest.raises(S3NotFound) as err:
                call()
            assert f"{s3backend.bucket}-absent" in str(err.value)
        # A misspelt bucket is never "no data" (a documented difference from metaflow).
        with pytest.raises(S3BucketNotFound):
            s3.get(url, return_missing=True)


def test_empty_prefix_lists_and_gets_nothing(s3backend: Backend) -> None:
    with S3(s3root=s3backend.root("nothing-here")) as s3:
        assert s3.list_paths() == []
        assert s3.list_recursive() == []
        assert s3.list_paths(["a", "b/c"]) == []
        assert s3.get_recursive(["a"]) == []
        assert s3.get_all() == []
    with S3(s3root=s3backend.root()) as s3:  # the whole (empty) bucket
        assert s3.list_paths() == [] and s3.list_recursive() == []
        s3.put("dir/x", b"x")
        # The empty key means the root itself, for listings as for gets.
        assert [o.url for o in s3.list_paths([""])] == [s3backend.root("dir/")]
        assert [o.key for o in s3.list_recursive([""])] == ["dir/x"]
    with S3() as s3:
        assert s3.list_paths([s3backend.root("nothing-here")]) == []


# ------------------------------------------------------------------- ranges


def test_every_range_form(s3backend: Backend) -> None:
    big = os.urandom(1 << 20)
    ten = b"0123456789"
    root = s3backend.root("r").rstrip("/")
    cases: List[Tuple[S3GetObject, bytes, RangeInfo]] = [
        (S3GetObject("ten"), ten, RangeInfo(10, 0, 10)),
        (S3GetObject("ten", 0, -1), ten, RangeInfo(10, 0, 10)),
        (S3GetObject("ten", 3), ten[3:], RangeInfo(10, 3, 7)),
        (S3GetObject("ten", 3, -1), ten[3:], RangeInfo(10, 3, 7)),
        (S3GetObject("ten", 2, 4), b"2345", RangeInfo(10, 2, 4)),
        (S3GetObject("ten", 0, 1), b"0", RangeInfo(10, 0, 1)),
        (S3GetObject("ten", 9, 1), b"9", RangeInfo(10, 9, 1)),
        (S3GetObject("ten", None, -3), b"789", RangeInfo(10, 7, 3)),  # last 3 bytes
        (S3GetObject("ten", None, -10), ten, RangeInfo(10, 0, 10)),
        (S3GetObject("ten", None, -20), ten, RangeInfo(10, 0, 10)),  # more than exists
        (S3GetObject("ten", 5, 100), b"56789", RangeInfo(10, 5, 5)),  # past the end
        (S3GetObject("ten", None, 4), b"0123", RangeInfo(10, 0, 4)),
        (S3GetObject("ten", 0, None), ten, RangeInfo(10, 0, 10)),
        (S3GetObject("big", 1000, 300_000), big[1000:301_000], RangeInfo(1 << 20, 1000, 300_000)),
        (S3GetObject("big", None, -4096), big[-4096:], RangeInfo(1 << 20, (1 << 20) - 4096, 4096)),
        (S3GetObject("big", (1 << 20) - 7), big[-7:], RangeInfo(1 << 20, (1 << 20) - 7, 7)),
        (S3GetObject("empty"), b"", RangeInfo(0, 0, 0)),
        (S3GetObject("empty", 0, 5), b"", RangeInfo(0, 0, 0)),
        (S3GetObject("empty", None, -5), b"", RangeInfo(0, 0, 0)),
    ]
    with S3(s3root=root) as s3:
        s3.put_many([("ten", ten), ("big", big), ("empty", b"")])
        # One batch: several ranges of one key must land in separate files.
        got = s3.get_many([c for c, _, _ in cases])
        for obj, (req, want, info) in zip(got, cases):
            assert (obj.url, obj.key) == (f"{root}/{req.key}", req.key)
            assert obj.blob == want, req
            assert obj.size == len(want), req
            assert obj.range_info == info, req
        assert len({o.path for o in got}) == len(cases)
        # One at a time and without info: same bytes; as in metaflow, no range_info either.
        one = s3.get(S3GetObject("ten", 2, 4), return_info=False)
        assert (one.blob, one.range_info, one.has_info) == (b"2345", None, False)
        assert one.content_type is None and one.metadata is None


def test_invalid_ranges_raise_naming_the_url(s3backend: Backend) -> None:
    root = s3backend.root("r").rstrip("/")
    url = f"{root}/ten"
    with S3(s3root=root) as s3:
        s3.put_many([("ten", b"0123456789"), ("empty", b"")])
        bad = [
            S3GetObject("ten", 10),  # starts at the end
            S3GetObject("ten", 20, 5),  # starts past the end
            S3GetObject("ten", 0, 0),  # asks for nothing
            S3GetObject("ten", -1, 5),
            S3GetObject("ten", "3", 2),  # type: ignore[arg-type]
            S3GetObject("ten", 1.5, 2),  # type: ignore[arg-type]
        ]
        for req in bad:
            with pytest.raises(S3InvalidRange) as err:
                s3.get(req)
            assert err.value.url == url, req
            assert url in str(err.value), req
        with pytest.raises(S3InvalidRange) as err:
            s3.get(S3GetObject("empty", 3, 5))  # nothing exists from offset 3
        assert f"{root}/empty" in str(err.value)
        with pytest.raises(S3InvalidRange):  # a bad range fails the batch before any work
            s3.get_many([S3GetObject("ten", 0, 2), S3GetObject("ten", 0, 0)])


# --------------------------------------------------- metadata, content type


METADATA: Dict[str, Any] = {
    "str": "value",
    "int": 7,
    "float": 1.5,
    "bool": True,
    "none": None,
    "list": [1, "two", {"three": 3.0}],
    "nested": {"a": {"b": [], "c": {}}},
    "MixedCase Key": "Ünïcödé ☃",
    'quote"s and\nnewline': "tab\there",
}


def test_metadata_and_content_type_round_trip(s3backend: Backend, tmp_path: Path) -> None:
    local = tmp_path / "f.bin"
    local.write_bytes(b"from a file")
    root = s3backend.root("meta").rstrip("/")
    with S3(s3root=root) as s3:
        s3.put("put", "x", content_type="application/x-conformance", metadata=METADATA)
        s3.put_many([S3PutObject("many", value=b"y", content_type="text/csv", metadata=METADATA)])
        s3.put_files(
            [S3PutObject("file", path=str(local), content_type="image/png", metadata=METADATA)]
        )
        # Explicit arguments to put() override those of an S3PutObject.
        spec = S3PutObject("spec", value=b"z", content_type="text/plain", metadata={"old": 1})
        s3.put(spec, None, content_type="text/html", metadata={"new": [2]})
        types = {"put": "application/x-conformance", "many": "text/csv", "file": "image/png"}
        got = s3.get_many(list(types))
        infos = s3.info_many(list(types))
        for obj, info, (key, ctype) in zip(got, infos, types.items()):
            assert _json(obj.metadata) == _json(METADATA), key
            assert _json(info.metadata) == _json(METADATA), key
            assert obj.content_type == info.content_type == ctype, key
            assert obj.has_info and info.has_info
        spec_obj = s3.get("spec")
        assert (spec_obj.content_type, spec_obj.metadata, spec_obj.blob) == (
            "text/html",
            {"new": [2]},
            b"z",
        )
        bare = s3.get_many(list(types), return_info=False)
        assert [(o.metadata, o.content_type, o.has_info) for o in bare] == [(None, None, False)] * 3

        s3.put("no-meta", b"plain")
        assert s3.get("no-meta").metadata is None
        assert s3.info("no-meta").metadata is None
    # Stored in the one header metaflow uses, as JSON.
    head = _head(s3backend, "meta/put")
    assert head["ContentType"] == "application/x-conformance"
    assert json.loads(head["Metadata"]["metaflow-user-attributes"]) == METADATA


def test_metadata_written_by_other_tools_comes_back_raw(s3backend: Backend) -> None:
    s3backend.client().put_object(
        Bucket=s3backend.bucket, Key="raw", Body=b"r", Metadata={"Owner": "ops", "n": "1"}
    )
    with S3(s3root=s3backend.root()) as s3:
        assert s3.get("raw").metadata == {"owner": "ops", "n": "1"}
        assert s3.info("raw").metadata == {"owner": "ops", "n": "1"}


@pytest.mark.parametrize(
    "metadata",
    [{"set": {1, 2}}, {"big": "x" * 3000}, {"nan": float("nan")}, ["not", "a", "dict"]],
    ids=["not-json", "over-2kb", "nan", "not-a-dict"],
)
def test_invalid_metadata_is_refused(s3backend: Backend, metadata: Any) -> None:
    root = s3backend.root("meta").rstrip("/")
    with S3(s3root=root) as s3:
        with pytest.raises(S3InvalidMetadata) as err:
            s3.put("k", b"v", metadata=metadata)
        assert isinstance(err.value, S3InvalidObject)
        assert f"{root}/k" in str(err.value)
        with pytest.raises(S3InvalidMetadata):
            s3.put_many([("ok", b"v"), S3PutObject("k", value=b"v", metadata=metadata)])
    assert _all_keys(s3backend) == []


def test_metadata_up_to_the_2kb_limit(s3backend: Backend) -> None:
    # S3 allows 2 KB of user metadata, names included; ours travels in one header.
    header = len("metaflow-user-attributes")
    fits = {"v": "x" * (2048 - header - len(json.dumps({"v": ""})))}
    over = {"v": fits["v"] + "x"}
    root = s3backend.root("limit").rstrip("/")
    with S3(s3root=root) as s3:
        s3.put("fits", b"v", metadata=fits)
        assert s3.get("fits").metadata == fits
        with pytest.raises(S3InvalidMetadata) as err:
            s3.put("over", b"v", metadata=over)
        assert f"{root}/over" in str(err.value)
    assert _all_keys(s3backend) == ["limit/fits"]


def test_encryption_aes256_round_trip(s3backend: Backend, tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"file body")
    with S3(s3root=s3backend.root("enc"), encryption="AES256") as s3:
        s3.put("client-default", b"secret")
        s3.put_files([("from-file", str(local))])
        obj = s3.get("client-default")
        assert (obj.blob, obj.encryption) == (b"secret", "AES256")
        assert s3.info("from-file").encryption == "AES256"
        assert s3.get("from-file").blob == b"file body"
    with S3(s3root=s3backend.root("enc")) as s3:
        s3.put_many(
            [S3PutObject("per-object", value=b"one", encryption="AES256"), ("plain", b"two")]
        )
        got = s3.get_many(["per-object", "plain"])
        assert [(o.blob, o.encryption) for o in got] == [(b"one", "AES256"), (b"two", None)]
        assert [o.encryption for o in s3.info_many(["per-object", "plain"])] == ["AES256", None]
    for key in ("enc/client-default", "enc/from-file", "enc/per-object"):
        assert _head(s3backend, key)["ServerSideEncryption"] == "AES256"
    assert "ServerSideEncryption" not in _head(s3backend, "enc/plain")


# ---------------------------------------------------------------- overwrite


def test_overwrite_false_never_replaces(s3backend: Backend, tmp_path: Path) -> None:
    root = s3backend.root("ow").rstrip("/")
    local = tmp_path / "new.txt"
    local.write_bytes(b"from file")
    with S3(s3root=root) as s3:
        s3.put("old", b"first")
        # put: returns the URL either way; an existing object is left alone.
        assert s3.put("old", b"second", overwrite=False, metadata={"m": 1}) == f"{root}/old"
        assert s3.put("new", b"fresh", overwrite=False) == f"{root}/new"
        assert _stored(s3backend, "ow/old") == b"first"
        assert s3.info("old").metadata is None
        assert _stored(s3backend, "ow/new") == b"fresh"

        written = s3.put_many(
            [("old", b"third"), ("many-new", b"m"), S3PutObject("new", value=b"x")],
            overwrite=False,
        )
        assert written == [("many-new", f"{root}/many-new")]
        written = s3.put_files(
            [("old", str(local)), ("file-new", str(local)), ("new", str(local))], overwrite=False
        )
        assert written == [("file-new", f"{root}/file-new")]
        assert s3.put_many([("old", b"x"), ("new", b"y")], overwrite=False) == []

        got = s3.get_many(["old", "new", "many-new", "file-new"])
        assert [o.blob for o in got] == [b"first", b"fresh", b"m", b"from file"]
        # The default does replace.
        assert s3.put_many([("old", b"replaced")]) == [("old", f"{root}/old")]
        assert _stored(s3backend, "ow/old") == b"replaced"


# ------------------------------------------------------ prefixes and listing


def _urls(objs: List[S3Object]) -> Dict[str, bool]:
    return {o.url: o.exists for o in objs}


def test_prefix_semantics_are_exact(s3backend: Backend) -> None:
    b = s3backend.root().rstrip("/")
    bodies = {
        "prefix/a": b"1",
        "prefix/sub/b": b"22",
        "prefixprefix/c": b"333",
        "prefix2": b"4444",
        "prefix-x/d": b"5",
        "prefix": b"the object named like the prefix",
        "a/b": b"object a/b",
        "a/b/c": b"object a/b/c",
    }
    with S3(s3root=b) as s3:
        # a/b on its own first: SeaweedFS can lose it to a concurrent put of a/b/c
        # (tests/backends.py); the question here is listing, not concurrency.
        s3.put("a/b", bodies["a/b"])
        s3.put_many([(k, v) for k, v in bodies.items() if k != "a/b"])
        for name in ("prefix", "prefix/"):
            assert _urls(s3.list_paths([name])) == {
                f"{b}/prefix/a": True,
                f"{b}/prefix/sub/": False,
            }
            assert _urls(s3.list_recursive([name])) == {
                f"{b}/prefix/a": True,
                f"{b}/prefix/sub/b": True,
            }
        got = s3.get_recursive(["prefix"])
        # As in metaflow: keys relative to the requested prefix, in key order.
        assert [(o.prefix, o.key, o.blob) for o in got] == [
            (f"{b}/prefix", "a", b"1"),
            (f"{b}/prefix", "sub/b", b"22"),
        ]

        top = s3.list_paths()
        assert _urls(top) == {
            f"{b}/prefix": True,
            f"{b}/prefix2": True,
            f"{b}/prefix/": False,
            f"{b}/prefixprefix/": False,
            f"{b}/prefix-x/": False,
            f"{b}/a/": False,
        }
        sizes = {o.url: o.size for o in top}
        assert sizes[f"{b}/prefix2"] == 4 and sizes[f"{b}/prefix/"] is None

        # An object a/b and a prefix a/b/ side by side.
        level = s3.list_paths(["a"])
        assert _urls(level) == {f"{b}/a/b": True, f"{b}/a/b/": False}
        by_url = {o.url: o for o in level}
        assert by_url[f"{b}/a/b"].size == len(bodies["a/b"])
        # As in metaflow: keys under the requested "a/", prefixes without their slash.
        assert (by_url[f"{b}/a/b/"].key, by_url[f"{b}/a/b/"].prefix) == ("b", f"{b}/a/")
        assert _urls(s3.list_paths(["a/b"])) == {f"{b}/a/b/c": True}
        assert _urls(s3.list_recursive(["a/b"])) == {f"{b}/a/b/c": True}
        assert [(o.url, o.key) for o in s3.get_recursive(["a/b"])] == [(f"{b}/a/b/c", "c")]
        assert s3.get("a/b").blob == b"object a/b"

        # Several prefixes in one call; results grouped by the prefix asked for.
        many = s3.list_recursive(["prefix-x", "a"])
        assert [o.url for o in many] == [f"{b}/prefix-x/d", f"{b}/a/b", f"{b}/a/b/c"]
    with S3() as s3:  # full-URL mode gives the same answer
        assert _urls(s3.list_paths([f"{b}/prefix"])) == {
            f"{b}/prefix/a": True,
            f"{b}/prefix/sub/": False,
        }
        # As in metaflow: under the requested prefix even without a root.
        listed = s3.list_recursive([f"{b}/a"])
        assert [(o.prefix, o.key) for o in listed] == [(f"{b}/a", "b"), (f"{b}/a", "b/c")]


def test_get_all_and_get_recursive_stay_under_the_root(s3backend: Backend) -> None:
    root = s3backend.root("base").rstrip("/")
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="basement/x", Body=b"sibling")
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="base", Body=b"same name")
    bodies = {"a": b"A", "b/c": b"BC", "b/d/e": b"BDE"}
    with S3(s3root=root) as s3:
        s3.put_many([S3PutObject(k, value=v, metadata={"k": k}) for k, v in bodies.items()])
        everything = s3.get_all()
        assert {o.key: o.blob for o in everything} == bodies
        assert all(o.prefix == root and not o.has_info for o in everything)
        with_info = s3.get_all(return_info=True)
        assert {o.key: o.metadata for o in with_info} == {k: {"k": k} for k in bodies}
        assert [o.key for o in s3.get_recursive(["b"])] == ["c", "d/e"]
        assert [o.url for o in s3.get_recursive(["b/d", "a"])] == [f"{root}/b/d/e"]


# ------------------------------------------------------------------ odd keys


def _long_key(total: int, fill: str) -> str:
    """A key of exactly ``total`` UTF-8 bytes in segments of at most 250 bytes."""
    parts, size = [], 0
    unit = len(fill.encode("utf-8"))
    while size < total:
        room = min(250, total - size)
        count = max(1, room // unit)
        part = fill * count
        parts.append(part)
        size += len(part.encode("utf-8")) + 1
    key = "/".join(parts)
    return key + "z" * (total - len(key.encode("utf-8")))


ODD_KEYS = [
    "with space/a b.txt",
    "  leading and trailing spaces  ",
    "ünïcödé/☃ snow/日本語.txt",
    "emoji 🎉/x",
    "hash#frag#",
    "pct%20%2F%41%",
    "q?x=1&y=2",
    "ctl\x01\x02\x1f\x7f",
    "tab\there\rcr",
    "+plus=eq;semi:colon,comma'quote\"",
    "star*bracket[]{}<>|^`~!@$()",
    _long_key(1024, "k"),
    _long_key(1024, "é"),
]


def test_odd_keys_round_trip(s3backend: Backend, tmp_path: Path) -> None:
    for key in ODD_KEYS[-2:]:
        assert len(key.encode("utf-8")) == 1024
    body = {k: k.encode("utf-8") + b"|body" for k in ODD_KEYS}
    with S3(s3root=s3backend.root(), tmproot=str(tmp_path)) as s3:
        written = s3.put_many(list(body.items()))
        assert [k for k, _ in written] == ODD_KEYS
        assert _all_keys(s3backend) == sorted(ODD_KEYS)  # stored verbatim, nothing re-encoded
        tmpdir = _tmpdir_of(tmp_path)

        got = s3.get_many(ODD_KEYS)
        assert [o.key for o in got] == ODD_KEYS
        assert [o.blob for o in got] == [body[k] for k in ODD_KEYS]
        assert [o.size for o in s3.info_many(ODD_KEYS)] == [len(body[k]) for k in ODD_KEYS]
        assert {o.key for o in s3.list_recursive()} == set(ODD_KEYS)
        assert [o.url for o in s3.list_paths(["ünïcödé"])] == [s3backend.root("ünïcödé/☃ snow/")]
        assert [o.key for o in s3.list_recursive(["with space"])] == ["a b.txt"]
        recursive = s3.get_recursive([""])
        assert {o.key: o.blob for o in recursive} == body
        # Local files are named by the client, never after the key.
        for obj in got + recursive:
            assert obj.path is not None and _in_dir(obj.path, tmpdir)
            assert os.path.basename(obj.path).isascii()
        for key in ODD_KEYS[:4]:
            single = s3.get(key)
            assert (single.key, single.blob) == (key, body[key])
            assert s3.put(key, b"again") == s3backend.root(key)
        assert _stored(s3backend, ODD_KEYS[0]) == b"again"


@pytest.mark.parametrize(
    "key", ["k" * 1025, "é" * 513, "a/" * 512 + "b"], ids=["ascii", "utf8", "deep"]
)
def test_keys_over_1024_bytes_are_refused(s3backend: Backend, key: str) -> None:
    assert len(key.encode("utf-8")) > 1024
    with S3(s3root=s3backend.root()) as s3:
        for call in (
            lambda: s3.put(key, b"v"),
            lambda: s3.put_many([("ok", b"v"), (key, b"v")]),
            lambda: s3.get(key),
            lambda: s3.get_many(["ok", key]),
            lambda: s3.info(key),
            lambda: s3.list_paths([key]),
        ):
            with pytest.raises(S3URLError) as err:
                call()
            assert "1024" in str(err.value)
            assert key[:40] in str(err.value)
    assert _all_keys(s3backend) == []


def test_the_1024_byte_limit_counts_the_root(s3backend: Backend) -> None:
    root = s3backend.root("data").rstrip("/")  # the key starts with "data/": 5 bytes
    fits, over = "/".join(["f" * 203] * 5), "/".join(["o" * 204] * 5)
    assert len(("data/" + fits).encode()) == 1024 and len(("data/" + over).encode()) == 1029
    with S3(s3root=root) as s3:
        s3.put(fits, b"fits")
        assert s3.get(fits).blob == b"fits"
        with pytest.raises(S3URLError) as err:
            s3.put(over, b"over")
        assert "1024" in str(err.value)
    assert _all_keys(s3backend) == ["data/" + fits]


# ---------------------------------------------------------- invalid addresses


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-url",
        "http://host/key",
        "s3:/x/y",
        "s3://",
        "s3://Bad Bucket!/k",
        "bucket/key",
        "/abs",
    ],
)
def test_invalid_urls_are_refused_naming_them(s3backend: Backend, bad: str) -> None:
    good = s3backend.root("good")
    with S3() as s3:
        for call in (
            lambda: s3.get(bad),
            lambda: s3.get_many([good, bad]),
            lambda: s3.get(S3GetObject(bad, 0, 5)),
            lambda: s3.put(bad, b"v"),
            lambda: s3.put_many([(good, b"v"), (bad, b"v")]),
            lambda: s3.info(bad),
            lambda: s3.list_paths([bad]),
            lambda: s3.list_recursive([good, bad]),
            lambda: s3.get_recursive([bad]),
        ):
            with pytest.raises(S3URLError) as err:
                call()
            assert bad in str(err.value)
    with pytest.raises(S3URLError) as err:
        S3(s3root=bad)
    assert bad in str(err.value)
    assert _all_keys(s3backend) == []


def test_non_s3_roots_and_rootless_calls_are_refused(s3backend: Backend, tmp_path: Path) -> None:
    for root in ("http://bucket/path", "bucket/path", str(tmp_path), "S3://bucket/x"):
        with pytest.raises(S3URLError) as err:
            S3(s3root=root)
        assert "s3://" in str(err.value)
    with pytest.raises(S3URLError):
        S3(s3root=123)  # type: ignore[arg-type]
    # s3root="" is full-URL mode, as in metaflow (which tests "if s3root").
    with S3(s3root="") as s3:
        assert repr(s3).startswith("<S3 root=None ")
    with S3() as s3:
        with pytest.raises(S3URLError) as err:
            s3.get_all()
        assert "root" in str(err.value)
        for call in (
            lambda: s3.get("relative/key"),
            lambda: s3.get(None),
            lambda: s3.list_paths(),
            lambda: s3.list_recursive(),
            lambda: s3.info("k"),
            lambda: s3.get(123),  # type: ignore[arg-type]
        ):
            with pytest.raises(S3URLError):
                call()
    with S3(s3root=s3backend.root("r")) as s3:
        other = f"s3://{s3backend.bucket}/elsewhere"
        with pytest.raises(S3URLError) as err:
            s3.get(other)  # a client with a root takes keys, not URLs
        assert other in str(err.value)
    assert issubclass(S3URLError, S3Error)


def test_an_empty_key_is_refused_not_sent_to_the_bucket(s3backend: Backend) -> None:
    # Regression: s3://bucket/ once reached S3 as a bucket request: get returned
    # the ListBucketResult XML as the object, info a 0-byte object, put sent a
    # CreateBucket (retried as transient).
    s3backend.client().put_object(Bucket=s3backend.bucket, Key="x", Body=b"x")
    bucket_url = s3backend.root()
    with S3() as s3:
        for call in (
            lambda: s3.get(bucket_url),
            lambda: s3.get_many([bucket_url + "x", bucket_url]),
            lambda: s3.info(bucket_url.rstrip("/")),
            lambda: s3.put(bucket_url, b"v"),
        ):
            with pytest.raises(S3URLError) as err:
                call()
            assert s3backend.bucket in str(err.value)
    with S3(s3root=bucket_url) as s3:
        with pytest.raises(S3URLError):
            s3.get()  # the root itself: a bucket is no object
        assert [o.key for o in s3.list_paths()] == ["x"]  # listing the bucket root is fine
    assert _all_keys(s3backend) == ["x"]


def test_put_many_with_an_empty_key_uploads_nothing(s3backend: Backend) -> None:
    bucket_url = s3backend.root()
    with S3() as s3:
        with pytest.raises(S3URLError):
            s3.put_many([(bucket_url + "y", b"v"), (bucket_url, b"v")])
    assert _all_keys(s3backend) == []


# ------------------------------------------------------------------ put_files


def test_put_files_round_trip_and_missing_file(s3backend: Backend, tmp_path: Path) -> None:
    files = {"text": b"some text\n", "bin": os.urandom(1024), "empty": b""}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    root = s3backend.root("pf").rstrip("/")
    with S3(s3root=root) as s3:
        written = s3.put_files(
            [
                ("k-text", str(tmp_path / "text")),
                ("k-bin", tmp_path / "bin"),  # a Path works as well as a str
                S3PutObject("k-empty", path=str(tmp_path / "empty"), metadata={"e": 0}),
            ]
        )
        assert written == [(k, f"{root}/{k}") for k in ("k-text", "k-bin", "k-empty")]
        for name, data in files.items():
            assert _stored(s3backend, f"pf/k-{name}") == data
        assert s3.info("k-empty").metadata == {"e": 0}

        missing = tmp_path / "does-not-exist"
        with pytest.raises(S3LocalFileError) as err:
            s3.put_files([("later", str(tmp_path / "text")), ("gone", str(missing))])
        assert err.value.url == f"{root}/gone"
        assert err.value.path == str(missing)
        assert f"{root}/gone" in str(err.value) and str(missing) in str(err.value)
        with pytest.raises(S3LocalFileError):
            s3.put_files([("a-dir", str(tmp_path))])
    assert sorted(_all_keys(s3backend)) == ["pf/k-bin", "pf/k-empty", "pf/k-text"]


# ---------------------------------------------------- lifecycle, temp dirs


def test_context_manager_and_close_remove_the_temp_dir(s3backend: Backend, tmp_path: Path) -> None:
    root = s3backend.root("life")
    with S3(s3root=root, tmproot=str(tmp_path)) as s3:
        s3.put_many([(f"k{i}", f"v{i}") for i in range(5)])
        got = s3.get_many([f"k{i}" for i in range(5)])
        tmpdir = _tmpdir_of(tmp_path)
        assert all(os.path.isfile(o.path) and _in_dir(o.path, tmpdir) for o in got)
    assert list(tmp_path.iterdir()) == []
    assert not any(os.path.exists(o.path) for o in got)
    with pytest.raises(S3Error):
        s3.get("k0")
    with pytest.raises(S3Error):
        s3.put("k9", "v")

    s3 = S3(s3root=root, tmproot=str(tmp_path))
    path = s3.get("k1").path
    s3.close()
    s3.close()  # twice is fine
    assert not os.path.exists(path) and list(tmp_path.iterdir()) == []

    with pytest.raises(KeyError):
        with S3(s3root=root, tmproot=str(tmp_path)) as s3:
            s3.get("k2")
            raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []


def test_empty_batches_do_nothing(s3backend: Backend) -> None:
    with S3(s3root=s3backend.root("none")) as s3:
        assert s3.get_many([]) == [] and s3.info_many([]) == []
        assert s3.put_many([]) == [] and s3.put_files([]) == []
        assert s3.list_paths([]) == [] and s3.list_recursive([]) == []
        assert s3.get_recursive([]) == []
    assert _all_keys(s3backend) == []


def test_duplicate_keys_in_one_get_batch(s3backend: Backend) -> None:
    with S3(s3root=s3backend.root("dup")) as s3:
        s3.put("k", b"same")
        got = s3.get_many(["k", "k", S3GetObject("k", 1, 2), S3GetObject("k", 1, 2)])
        assert [o.blob for o in got] == [b"same", b"same", b"am", b"am"]
        assert len({o.path for o in got}) == 4


# -------------------------------------------------------- constructor modes


class _RunLike:
    """Anything with a ``pathspec`` (as a metaflow ``Run``) works as ``run=``."""

    def __init__(self, pathspec: str) -> None:
        self.pathspec = pathspec


def test_constructor_run_s3root_and_url_modes(
    s3backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3backend.bucket
    monkeypatch.setenv("S3CLIENT_S3ROOT", s3backend.root("runs"))
    with S3(run="MyFlow/42") as s3:
        assert s3.put("x", "from run") == f"s3://{bucket}/runs/MyFlow/42/x"
        obj = s3.get("x")
        assert (obj.key, obj.prefix) == ("x", f"s3://{bucket}/runs/MyFlow/42")
        assert [o.key for o in s3.get_all()] == ["x"]
    with S3(run=_RunLike("OtherFlow/7")) as s3:
        assert s3.put("y", "pathspec") == f"s3://{bucket}/runs/OtherFlow/7/y"
    with S3(run="F/1", bucket=bucket, prefix="override") as s3:
        assert s3.put("z", "bucket+prefix") == f"s3://{bucket}/override/F/1/z"
    with S3(run="F/2", s3root=s3backend.root("ignored")) as s3:  # run wins
        assert s3.put("w", "run wins") == f"s3://{bucket}/runs/F/2/w"
    monkeypatch.delenv("S3CLIENT_S3ROOT")
    monkeypatch.setenv("METAFLOW_DATATOOLS_S3ROOT", s3backend.root("mf"))
    with S3(run="F/3") as s3:
        assert s3.put("v", "metaflow root") == f"s3://{bucket}/mf/F/3/v"
    monkeypatch.delenv("METAFLOW_DATATOOLS_S3ROOT")
    with pytest.raises(S3URLError):
        S3(run="F/4")  # no root configured and no bucket=
    for bad in ("no-run-id", "a/b/c", "/"):
        with pytest.raises(S3URLError):
            S3(run=bad, bucket=bucket)
    with S3(s3root=s3backend.root("explicit")) as s3:
        assert s3.put("e", "s3root") == f"s3://{bucket}/explicit/e"
    with S3() as s3:
        url = s3backend.root("full/url")
        assert s3.put(url, "full") == url
        assert s3.get(url).key == url
    assert _all_keys(s3backend) == sorted(
        [
            "runs/MyFlow/42/x",
            "runs/OtherFlow/7/y",
            "override/F/1/z",
            "runs/F/2/w",
            "mf/F/3/v",
            "explicit/e",
            "full/url",
        ]
    )
    assert _stored(s3backend, "runs/MyFlow/42/x") == b"from run"


def test_client_params_and_session_vars_reach_the_engine(
    s3backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = s3backend.root("kw")
    # No endpoint in the environment: only client_params can bring the engine here.
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    params = {"endpoint_url": s3backend.endpoint_url}
    with S3(s3root=root, client_params=params) as s3:
        s3.put_many([("a", b"A"), ("b/c", b"BC")])
        assert s3.get("a").blob == b"A"
        assert [o.key for o in s3.list_recursive()] == ["a", "b/c"]
        assert s3.info("b/c").size == 2
    assert _stored(s3backend, "kw/a") == b"A"

    # No credentials in the environment either: the engine finds none ...
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with S3(s3root=root, client_params=params) as s3:
        with pytest.raises(S3AccessDenied) as err:
            s3.get("a")
        assert f"{root}/a" in str(err.value)
    # ... until session_vars hand them over.
    session = {
        "aws_access_key_id": s3backend.access_key,
        "aws_secret_access_key": s3backend.secret_key,
        "region_name": "us-east-1",
    }
    botocore_config = {"s3": {"addressing_style": "path"}, "connect_timeout": 5}
    with S3(
        s3root=root,
        session_vars=session,
        client_params={**params, "config": botocore_config},
        num_workers=0,
        threads=2,
    ) as s3:
        assert s3.get("b/c").blob == b"BC"
        s3.put("via-session", b"S")
    assert _stored(s3backend, "kw/via-session") == b"S"
    with pytest.raises(TypeError):
        S3(s3root=root, no_such_option=1)


# ---------------------------------------------------------------- S3Object


def test_s3object_properties(s3backend: Backend) -> None:
    root = s3backend.root("props").rstrip("/")
    text = "prøperties ☃\n"
    before = int(time.time()) - 3600
    with S3(s3root=root) as s3:
        s3.put(
            S3PutObject(
                "dir/obj.txt",
                value=text,
                content_type="text/plain; charset=utf-8",
                metadata={"n": 1},
                encryption="AES256",
            ),
            None,
        )
        s3.put("bad-utf8", b"ok \xff\xfe end")
        size = len(text.encode("utf-8"))
        url = f"{root}/dir/obj.txt"

        got = s3.get("dir/obj.txt")
        assert (got.exists, got.downloaded, got.has_info) == (True, True, True)
        assert (got.url, got.key, got.prefix) == (url, "dir/obj.txt", root)
        assert (got.blob, got.text, got.size) == (text.encode("utf-8"), text, size)
        assert got.content_type == "text/plain; charset=utf-8"
        assert (got.metadata, got.encryption) == ({"n": 1}, "AES256")
        assert got.range_info == RangeInfo(size, 0, size)
        assert isinstance(got.last_modified, float) and got.last_modified > before
        assert url in repr(got)

        bare = s3.get("dir/obj.txt", return_info=False)
        assert (bare.has_info, bare.content_type, bare.metadata, bare.encryption) == (
            False,
            None,
            None,
            None,
        )
        assert (bare.blob, bare.size, bare.exists, bare.downloaded) == (
            text.encode("utf-8"),
            size,
            True,
            True,
        )

        info = s3.info("dir/obj.txt")
        assert (info.exists, info.downloaded, info.has_info) == (True, False, True)
        assert (info.path, info.blob, info.text, info.range_info) == (None, None, None, None)
        assert (info.size, info.metadata, info.encryption) == (size, {"n": 1}, "AES256")
        assert info.content_type == "text/plain; charset=utf-8"
        assert info.last_modified == got.last_modified

        (listed,) = s3.list_paths(["dir"])
        assert (listed.url, listed.key, listed.exists, listed.downloaded) == (
            url,
            "obj.txt",
            True,
            False,
        )
        assert listed.prefix == f"{root}/dir/"
        assert listed.size == size and isinstance(listed.last_modified, float)
        prefix = next(o for o in s3.list_paths() if o.url.endswith("/dir/"))
        assert (prefix.exists, prefix.key, prefix.size, prefix.downloaded) == (
            False,
            "dir",
            None,
            False,
        )

        assert s3.get("bad-utf8").text == "ok \ufffd\ufffd end"
    with S3() as s3:
        full = s3.get(url)
        assert (full.key, full.prefix, full.url) == (url, None, url)


# ----------------------------------------------------------------- metaflow

_METAFLOW_SIDE = r"""
import json, sys
from metaflow import S3
from metaflow.plugins.datatools.s3 import S3PutObject

root, tmproot = sys.argv[1], sys.argv[2]
with S3(s3root=root, tmproot=tmproot) as s3:
    ours = s3.get("from-s3client")
    ours_many = s3.get_many(["from-s3client-many"])[0]
    s3.put("from-metaflow", "written by metaflow ☃", content_type="text/x-mf",
           metadata={"tool": "metaflow", "n": [1, 2.5, None, {"deep": True}]})
    s3.put_many([("from-metaflow-many", b"many")])
    s3.put_files([S3PutObject(key="from-metaflow-file", path=sys.argv[3],
                              content_type="image/png", metadata={"file": 1})])
    print(json.dumps({
        "ours": {"text": ours.text, "metadata": ours.metadata,
                 "content_type": ours.content_type, "size": ours.size},
        "ours_many": {"blob": ours_many.blob.hex(), "metadata": ours_many.metadata},
    }))
"""


def test_metaflow_interop_both_directions(s3backend: Backend, tmp_path: Path) -> None:
    root = s3backend.root("interop").rstrip("/")
    meta = {"tool": "s3client", "nested": {"list": [1, "x", None]}, "float": 0.25}
    blob = os.urandom(2048)
    local = tmp_path / "for-metaflow.bin"
    local.write_bytes(b"\x89PNG fake")
    with S3(s3root=root) as s3:
        s3.put("from-s3client", "written by s3client ✓", content_type="text/x-ours", metadata=meta)
        s3.put_many([S3PutObject("from-s3client-many", value=blob, metadata={"i": 3})])

    done = run_python(
        _METAFLOW_SIDE,
        [root, str(tmp_path), str(local)],
        env=metaflow_env(s3backend, tmp_path),
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["ours"] == {
        "text": "written by s3client ✓",
        "metadata": meta,
        "content_type": "text/x-ours",
        "size": len("written by s3client ✓".encode()),
    }
    assert seen["ours_many"] == {"blob": blob.hex(), "metadata": {"i": 3}}

    with S3(s3root=root) as s3:
        theirs = s3.get("from-metaflow")
        assert theirs.text == "written by metaflow ☃"
        assert theirs.content_type == "text/x-mf"
        assert _json(theirs.metadata) == _json(
            {"tool": "metaflow", "n": [1, 2.5, None, {"deep": True}]}
        )
        assert s3.get("from-metaflow-many").blob == b"many"
        from_file = s3.get("from-metaflow-file")
        assert (from_file.blob, from_file.content_type, from_file.metadata) == (
            b"\x89PNG fake",
            "image/png",
            {"file": 1},
        )

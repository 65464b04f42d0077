"""The sync planner's order: the local walk sorts as S3 lists; the merge joins keys.

Pure logic on a real directory tree (tmp_path) and generated entries; no S3.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3op.sync.compare import Comparer, plain_md5
from s3op.sync.entries import Entry, byte_order, path_order
from s3op.sync.localtree import Unnamed, walk
from s3op.sync.merge import merge
from s3op.sync.plan import DELETE, GET, PUT, SKIP, local_name_problem, plan
from s3op.sync.spec import side_of, sync_problem

NAMES = ["a", "a b", "a-b", "a.txt", "a0", "b", "é", "日本", "x😀", "Z", "~"]


def make(root: Path, keys: List[str]) -> None:
    for key in keys:
        path = root.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(key.encode())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3), max_size=25))
def test_walk_yields_keys_in_byte_order_of_utf8(tmp_path_factory: pytest.TempPathFactory, paths):
    root = tmp_path_factory.mktemp("tree")
    keys = set()
    for parts in paths:  # a name cannot be both a file and a directory: keep the first
        key = "/".join(parts)
        if any(k.startswith(key + "/") or key.startswith(k + "/") or k == key for k in keys):
            continue
        keys.add(key)
    make(root, sorted(keys))
    walked = [e.key for e in walk(str(root)) if isinstance(e, Entry)]
    assert walked == sorted(keys, key=lambda k: k.encode("utf-8"))
    in_path_order = [e.key for e in walk(str(root), path_order=True) if isinstance(e, Entry)]
    assert in_path_order == sorted(keys, key=lambda k: [p.encode() for p in k.split("/")])


def test_walk_skips_links_to_dirs_temp_files_and_reports_non_utf8(tmp_path: Path) -> None:
    make(tmp_path, ["a/x", "b"])
    os.symlink(tmp_path / "a", tmp_path / "linkdir")
    os.symlink(tmp_path / "b", tmp_path / "linkfile")
    (tmp_path / ".b.s3op-0123456789ab-1f000001.part").write_bytes(b"partial")
    bad = os.path.join(os.fsencode(tmp_path), b"bad\xff")
    with open(bad, "wb") as f:
        f.write(b"x")
    items = list(walk(str(tmp_path)))
    assert [e.key for e in items if isinstance(e, Entry)] == ["a/x", "b", "linkfile"]
    assert [type(e) for e in items if not isinstance(e, Entry)] == [Unnamed]


def entries(keys: List[str]) -> List[Entry]:
    return [Entry(k, 1, 0.0) for k in keys]


@settings(max_examples=200, deadline=None)
@given(
    st.sets(st.sampled_from(["a", "a b", "a/x", "a/y", "a.txt", "b", "b/c"]), max_size=7),
    st.sets(st.sampled_from(["a", "a b", "a/x", "a/y", "a.txt", "b", "b/c"]), max_size=7),
    st.sampled_from([byte_order, path_order]),
)
def test_merge_joins_every_key_once(src: set, dst: set, order) -> None:
    pairs = list(merge(entries(sorted(src, key=order)), entries(sorted(dst, key=order)), order))
    assert sorted(k for k, _, _ in pairs) == sorted(src | dst)
    for key, s, d in pairs:
        assert (s is not None) == (key in src) and (d is not None) == (key in dst)


def test_merge_holds_a_delete_until_the_source_is_past_it_in_every_order() -> None:
    """'a b' sorts before 'a/x' in bytes but after it in path order: the destination's
    'a b' is not let go while the source stands at 'a/x'."""
    seen: List[str] = []

    def source():
        for key in ["a/x", "z"]:
            seen.append(key)
            yield Entry(key, 1, 0.0)

    pairs = merge(source(), entries(["a b"]), byte_order)
    first = next(pairs)
    assert first[0] == "a/x"
    held = next(pairs)
    assert held[0] == "a b" and held[1] is None and seen == ["a/x", "z"]


def test_merge_lets_nothing_go_when_the_source_turns_out_unsorted() -> None:
    class Unsorted(Exception):
        pass

    def source():
        yield Entry("a/x", 1, 0.0)
        raise Unsorted  # the listing found 'a b' after 'a/x'

    pairs = merge(source(), entries(["a b"]), byte_order)
    assert next(pairs)[0] == "a/x"
    with pytest.raises(Unsorted):
        next(pairs)


def entry(key: str, size: int, mtime: float, etag: Optional[str] = None, path=None) -> Entry:
    return Entry(key, size, mtime, etag, path)


def test_plan_actions_and_modes(tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"abcd")
    md5 = "e2fc714c4727ee9395f324cd2e7f331f"
    src = [entry("f", 4, 100.0, path=str(local)), entry("g", 1, 1.0, path=str(local))]
    dst = [entry("f", 4, 50.0, md5), entry("h", 1, 1.0, "x")]
    out = list(plan(merge(src, dst), Comparer("checksum", None, lambda e: None), PUT, True))
    assert [(a.kind, a.key) for a in out] == [(SKIP, "f"), (PUT, "g"), (DELETE, "h")]
    by_time = list(plan(merge(src, dst), Comparer("size_and_time", None, None), PUT, False))
    assert [(a.kind, a.key) for a in by_time] == [(PUT, "f"), (PUT, "g")]
    other = [entry("f", 4, 200.0, "0" * 32), entry("h", 1, 1.0)]
    wrong = list(plan(merge(src, other), Comparer("checksum", None, lambda e: None), PUT, False))
    assert wrong[0].kind == PUT  # same size, newer object, different MD5: moved
    by_size = list(plan(merge(src, other), Comparer("size", None, None), PUT, False))
    assert by_size[0].kind == SKIP


def test_checksum_falls_back_to_time_without_a_digest(tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"abcd")
    newer = entry("f", 4, 100.0, path=str(local))
    multipart = entry("f", 4, 50.0, "abc-2")
    no_crc = Comparer("checksum", None, lambda e: None)
    assert not no_crc.equal(newer, multipart)  # no digest: the newer source moves
    assert no_crc.equal(entry("f", 4, 10.0, path=str(local)), multipart)
    crc = 0xED82CD11  # zlib.crc32(b"abcd")
    assert Comparer("checksum", None, lambda e: crc).equal(newer, multipart)
    assert not Comparer("checksum", None, lambda e: crc + 1).equal(newer, multipart)


def test_time_is_compared_in_whole_seconds() -> None:
    by_time = Comparer("size_and_time", None, None)
    written = entry("f", 4, 100.7, path="/x")  # written at 100.7, uploaded at 100.9
    assert by_time.equal(written, entry("f", 4, 100.0, "e"))  # LastModified: 100
    assert not by_time.equal(entry("f", 4, 101.2, path="/x"), entry("f", 4, 100.0, "e"))


def test_remote_pairs_compare_etags_then_crcs() -> None:
    a, b = entry("k", 4, 1.0, "A" * 32), entry("k", 4, 9.0, "a" * 32)
    never = Comparer("checksum", lambda e: None, lambda e: None)
    assert never.equal(a, b)
    parts = entry("k", 4, 1.0, "abc-2"), entry("k", 4, 9.0, "abc-2")
    assert never.equal(*parts)
    other = entry("k", 4, 9.0, "def-3")
    assert Comparer("checksum", lambda e: 7, lambda e: 7).equal(parts[0], other)
    assert not Comparer("checksum", lambda e: 7, lambda e: 8).equal(parts[0], other)
    assert plain_md5("abc-2") is None and plain_md5("A" * 32) == "a" * 32


def test_keys_that_cannot_be_files_and_folder_markers() -> None:
    assert local_name_problem("dir/") == "folder"
    for key in ["a//b", "../x", "a/./b", "a/.."]:
        assert "cannot be a local file name" in (local_name_problem(key) or "")
    assert local_name_problem("a/b c") is None
    pairs = merge([entry("../x", 1, 1.0, "e")], [])
    (fail,) = plan(pairs, Comparer("size", None, None), GET, False)
    assert fail.kind == "fail" and fail.error_kind == "invalid_url"


def test_sides_and_problems(tmp_path: Path) -> None:
    assert side_of("s3://bkt/a").prefix == "a/" and side_of("s3://bkt").prefix == ""
    assert side_of("s3://bkt/a/").prefix == "a/"
    (tmp_path / "f").write_bytes(b"")
    assert "is a file" in sync_problem("s3://bkt/a", str(tmp_path / "f"), "size")
    assert "one of source and destination" in sync_problem(str(tmp_path), "x", "size")
    assert "unknown compare mode" in sync_problem(str(tmp_path), "s3://bkt/a", "md5")
    assert "overlap" in sync_problem("s3://bkt/a", "s3://bkt/a/b", "size")
    assert sync_problem("s3://bkt/a", "s3://bkt/ab", "size") is None  # siblings
    assert sync_problem("s3://bkt/a", "s3://other/a", "size") is None

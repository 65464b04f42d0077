"""s3op.paths.local_path: keys are data, never paths to trust."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from s3op.paths import local_path


@pytest.fixture
def dest(tmp_path: Path) -> str:
    d = tmp_path / "dest"
    d.mkdir()
    return str(d)


@pytest.mark.parametrize(
    "key,parts",
    [
        ("file.txt", ["file.txt"]),
        ("a/b/c.bin", ["a", "b", "c.bin"]),
        ("with space/ü#?%.txt", ["with space", "ü#?%.txt"]),
        ("..a/b..", ["..a", "b.."]),
        ("...", ["..."]),
        (".hidden/.x", [".hidden", ".x"]),
        ("x" * 255, ["x" * 255]),
        ("é" * 127, ["é" * 127]),  # 254 bytes
    ],
)
def test_keys_layout_puts_the_key_under_the_destination(dest: str, key: str, parts: list) -> None:
    path = local_path(dest, "keys", f"s3://bkt/{key}")
    assert path == os.path.join(dest, *parts)
    assert os.path.realpath(path).startswith(os.path.realpath(dest) + os.sep)


@pytest.mark.parametrize(
    "key",
    [
        "../x",
        "..",
        ".",
        "a/../../x",
        "a/..",
        "a/../b",
        "/abs",
        "/etc/passwd",
        "a//b",
        "a/./b",
        "./a",
        "dir/",
        "",
        "a\0b",
        "a/\0/b",
        "x" * 256,
        "ok/" + "é" * 128,  # 256 bytes in one part
    ],
)
def test_keys_layout_refuses_unsafe_keys(dest: str, key: str) -> None:
    with pytest.raises(ValueError):
        local_path(dest, "keys", f"s3://bkt/{key}")


def test_keys_layout_refuses_a_key_through_a_symlink_out_of_the_destination(
    tmp_path: Path, dest: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, os.path.join(dest, "link"))
    with pytest.raises(ValueError):
        local_path(dest, "keys", "s3://bkt/link/x")


def test_relative_destination_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert local_path(".", "keys", "s3://bkt/a/b") == os.path.join(".", "a", "b")
    with pytest.raises(ValueError):
        local_path(".", "keys", "s3://bkt/../b")


@pytest.mark.parametrize(
    "url",
    ["s3://bkt/../../etc/passwd", "s3://bkt/a/b.txt", "s3://bkt/", "s3://bkt/secret-key-name"],
)
def test_hashed_layout_never_contains_the_key(dest: str, url: str) -> None:
    path = local_path(dest, "hashed", url)
    shard = os.path.dirname(path)
    assert os.path.dirname(shard) == dest
    name = os.path.basename(path)
    assert name and all(c in "0123456789abcdef" for c in name)
    assert os.path.basename(shard) == name[0]  # 16 directories, by the first hex digit
    key = url.split("/", 3)[3]
    for part in key.split("/"):
        if len(part) > 2:
            assert part not in name


def test_hashed_layout_differs_per_url_and_is_stable(dest: str) -> None:
    urls = ["s3://bkt/a", "s3://bkt/a ", "s3://bkt/A", "s3://bkt2/a", "s3://bkt/a/b", "s3://bkt/ab"]
    names = [local_path(dest, "hashed", u) for u in urls]
    assert len(set(names)) == len(urls)
    assert names == [local_path(dest, "hashed", u) for u in urls]


@pytest.mark.parametrize("layout", ["keys", "hashed"])
def test_ranged_requests_get_distinct_names(dest: str, layout: str) -> None:
    url = "s3://bkt/dir/obj"
    paths = [
        local_path(dest, layout, url),
        local_path(dest, layout, url, "bytes=0-99"),
        local_path(dest, layout, url, "bytes=100-199"),
        local_path(dest, layout, url, "bytes=100-"),
        local_path(dest, layout, url, "bytes=-100"),
    ]
    assert len(set(paths)) == len(paths)
    for p in paths:
        assert os.path.realpath(p).startswith(os.path.realpath(dest) + os.sep)


def test_hashed_layout_stays_inside_the_destination_whatever_the_range(dest: str) -> None:
    try:
        path = local_path(dest, "hashed", "s3://bkt/k", "bytes=0-1/../../../escaped")
    except ValueError:
        return
    assert os.path.realpath(path).startswith(os.path.realpath(dest) + os.sep)

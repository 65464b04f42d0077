"""S3Object's properties, on real temp files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from s3client import RangeInfo, S3Object
from s3client.objects import found_under

ROOT = "s3://bkt/root"


@pytest.fixture
def local(tmp_path: Path) -> str:
    path = tmp_path / "get-0-0"
    path.write_bytes("héllo\n".encode())
    return str(path)


def test_downloaded_object(local: str) -> None:
    obj = S3Object(
        ROOT,
        ROOT + "/dir/a.txt",
        local,
        content_type="text/plain",
        metadata={"n": 1},
        range_info=RangeInfo(7, 0, 7),
        last_modified=1700000000,
        encryption="AES256",
    )
    assert obj.exists and obj.downloaded and obj.has_info
    assert obj.url == "s3://bkt/root/dir/a.txt"
    assert obj.key == "dir/a.txt"
    assert obj.prefix == ROOT
    assert obj.path == local
    assert obj.blob == "héllo\n".encode()
    assert obj.text == "héllo\n"
    assert obj.size == 7  # from the local file
    assert obj.content_type == "text/plain"
    assert obj.metadata == {"n": 1}
    assert obj.encryption == "AES256"
    assert obj.range_info == RangeInfo(7, 0, 7)
    assert obj.last_modified == 1700000000


def test_text_replaces_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin"
    path.write_bytes(b"a\xffb")
    assert S3Object(None, "s3://bkt/k", str(path)).text == "a\ufffdb"


def test_missing_object() -> None:
    obj = S3Object(ROOT, ROOT + "/nope", None)
    assert not obj.exists and not obj.downloaded and not obj.has_info
    assert obj.blob is None and obj.text is None and obj.size is None and obj.path is None
    assert "does not exist" in repr(obj)


def test_zero_byte_object_exists() -> None:
    obj = S3Object(ROOT, ROOT + "/empty", None, size=0)
    assert obj.exists and not obj.downloaded
    assert obj.size == 0


def test_prefix_key_loses_trailing_slash() -> None:
    obj = S3Object(ROOT, ROOT + "/a/b/", None)
    assert not obj.exists
    assert obj.key == "a/b"
    assert obj.url == ROOT + "/a/b/"
    assert "prefix" in repr(obj)


def test_existing_object_key_loses_trailing_slash_as_in_metaflow() -> None:
    # A 0-byte "directory marker" is a real object whose key ends in "/";
    # metaflow.S3Object strips the slash from every key, and so do we.
    assert S3Object(ROOT, ROOT + "/marker/", None, size=0).key == "marker"


def test_key_without_root_is_the_url() -> None:
    obj = S3Object(None, "s3://bkt/x/y", None, size=3)
    assert obj.key == "s3://bkt/x/y"
    assert obj.prefix is None


def test_key_of_the_root_itself_is_its_url_and_prefix_is_none() -> None:
    obj = S3Object(ROOT, ROOT, None, size=1)
    assert (obj.key, obj.prefix) == (ROOT, None)


def test_key_under_bucket_root() -> None:
    assert S3Object("s3://bkt", "s3://bkt/k", None, size=1).key == "k"


def test_key_of_a_sibling_that_only_shares_a_string_prefix() -> None:
    # s3://bkt/root2/x is not under s3://bkt/root: no bogus "2/x" key.
    assert S3Object(ROOT, "s3://bkt/root2/x", None, size=1).key == "s3://bkt/root2/x"


def test_has_info_is_false_without_any_info() -> None:
    # last_modified alone (a listing) is not "info", as in metaflow.
    assert not S3Object(ROOT, ROOT + "/k", None, size=1, last_modified=5).has_info


def test_last_modified_is_a_float() -> None:
    modified = S3Object(ROOT, ROOT + "/k", None, size=1, last_modified=5).last_modified
    assert modified == 5.0 and type(modified) is float


def test_has_info_defaults_to_any_info_present() -> None:
    assert S3Object(ROOT, ROOT + "/k", None, size=1, encryption="AES256").has_info


def test_repr_names_url_size_and_place(local: str) -> None:
    assert repr(S3Object(ROOT, ROOT + "/k", local)) == "<S3Object s3://bkt/root/k (7 bytes, local)>"
    assert repr(S3Object(ROOT, ROOT + "/k", None, size=3)) == (
        "<S3Object s3://bkt/root/k (3 bytes, in S3)>"
    )
    assert str(S3Object(ROOT, ROOT + "/k", None, size=0)).endswith("(0 bytes, in S3)>")


@pytest.mark.parametrize(
    "prefix", [None, "s3://b/p", "s3://b/p/", "s3://b/p/k", "s3://b/", "s3://b"]
)
@pytest.mark.parametrize(
    "url", ["s3://b/p/k", "s3://b/p/d/", "s3://b/p", "s3://b/q/k", "s3://b/pk"]
)
@pytest.mark.parametrize(("size", "modified"), [(3, 1_700_000_000), (0, None)])
def test_found_under_makes_what_the_constructor_makes(
    prefix: Optional[str], url: str, size: int, modified: Optional[int]
) -> None:
    made = found_under(prefix)(url, size, modified)
    built = S3Object(prefix, url, None, size=size, last_modified=modified)
    assert list(made.__dict__.items()) == list(built.__dict__.items())
    assert (made.prefix, made.key, made.last_modified) == (
        built.prefix,
        built.key,
        built.last_modified,
    )

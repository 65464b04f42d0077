"""Put input checking and staging: values, metadata, local files, duplicates."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import Any, List

import pytest

from s3client import (
    S3,
    S3Error,
    S3InvalidMetadata,
    S3InvalidObject,
    S3LocalFileError,
    S3PutObject,
    uploads,
)
from s3client.uploads import (
    CHUNK_SIZE,
    check_value,
    items_from_files,
    items_from_values,
    stage_value,
)
from s3client.urls import resolve_url
from s3op.protocol import PutRequest, Result
from tests.unit.client_fakes import clear_env, with_engine

ROOT = "s3://bkt/root"


def resolve(key: Any) -> str:
    return resolve_url(ROOT, key)


def staged(tmp_path: Path, value: Any) -> bytes:
    dest = tmp_path / "staged"
    stage_value("s3://bkt/k", value, str(dest))
    return dest.read_bytes()


# ------------------------------------------------------------- staging


@pytest.mark.parametrize(
    "value, expected",
    [
        ("héllo", "héllo".encode()),
        (b"\x00\x01", b"\x00\x01"),
        (bytearray(b"abc"), b"abc"),
        (memoryview(b"xyz"), b"xyz"),
        ("", b""),
        (io.BytesIO(b"binary file"), b"binary file"),
        (io.StringIO("text file é"), "text file é".encode()),
    ],
)
def test_stage_value(tmp_path: Path, value: Any, expected: bytes) -> None:
    assert staged(tmp_path, value) == expected


def test_file_object_is_rewound_before_copying(tmp_path: Path) -> None:
    f = io.BytesIO(b"0123456789")
    f.read(5)
    assert staged(tmp_path, f) == b"0123456789"


def test_file_object_is_copied_from_where_it_stands_without_rewind(tmp_path: Path) -> None:
    f = io.BytesIO(b"0123456789")
    f.read(5)
    dest = tmp_path / "staged-no-rewind"
    stage_value("s3://bkt/k", f, str(dest), rewind=False)
    assert dest.read_bytes() == b"56789"


def test_large_file_object_copied_in_chunks(tmp_path: Path) -> None:
    data = os.urandom(CHUNK_SIZE * 2 + 17)
    assert staged(tmp_path, io.BufferedReader(io.BytesIO(data))) == data


def test_real_file_object(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"on disk")
    with open(src, "rb") as f:
        assert staged(tmp_path, f) == b"on disk"


def test_staged_file_is_private(tmp_path: Path) -> None:
    dest = tmp_path / "staged"
    stage_value("s3://bkt/k", "x", str(dest))
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


# ------------------------------------------------------------- values


@pytest.mark.parametrize("value", [42, 1.5, ["a"], {"a": 1}, object()])
def test_non_string_values_are_refused_naming_the_key(value: Any) -> None:
    with pytest.raises(S3InvalidObject) as info:
        items_from_values([("dir/k", value)], resolve, None)
    assert info.value.url == ROOT + "/dir/k"
    assert "dir/k" in str(info.value)


def test_closed_file_is_refused() -> None:
    f = io.BytesIO(b"x")
    f.close()
    with pytest.raises(S3InvalidObject, match="closed"):
        check_value("s3://bkt/k", f)


class Unseekable(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def test_unseekable_file_is_refused() -> None:
    with pytest.raises(S3InvalidObject, match="seekable"):
        check_value("s3://bkt/k", Unseekable())


def test_none_value_is_refused() -> None:
    with pytest.raises(S3InvalidObject, match="exactly one"):
        items_from_values([("k", None)], resolve, None)


def test_putobject_with_value_and_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(S3InvalidObject, match="exactly one"):
        items_from_values([S3PutObject("k", value="v", path=str(tmp_path))], resolve, None)


@pytest.mark.parametrize("entry", ["just-a-key", ("k",), ("k", "v", "extra"), 5])
def test_malformed_entries_are_refused(entry: Any) -> None:
    with pytest.raises(S3InvalidObject, match="pair"):
        items_from_values([entry], resolve, None)


def test_duplicate_keys_are_refused_naming_the_key() -> None:
    with pytest.raises(S3InvalidObject, match="twice") as info:
        items_from_values([("a", "1"), ("b", "2"), ("/a", "3")], resolve, None)
    assert info.value.url == ROOT + "/a"


def test_items_keep_key_options_and_encryption() -> None:
    items = items_from_values(
        [
            ("plain", "v"),
            S3PutObject("fancy", value=b"v", content_type="text/html", metadata={"a": 1}),
            S3PutObject("own-sse", value="v", encryption="aws:kms"),
        ],
        resolve,
        "AES256",
    )
    assert [i.key for i in items] == ["plain", "fancy", "own-sse"]
    assert [i.url for i in items] == [ROOT + "/plain", ROOT + "/fancy", ROOT + "/own-sse"]
    assert items[1].content_type == "text/html" and items[1].metadata == {"a": 1}
    assert [i.encryption for i in items] == ["AES256", "AES256", "aws:kms"]


def test_empty_metadata_is_not_sent() -> None:
    (item,) = items_from_values([S3PutObject("k", value="v", metadata={})], resolve, None)
    assert item.metadata is None


# ----------------------------------------------------------- metadata


@pytest.mark.parametrize(
    "metadata, reason",
    [
        ({"x": object()}, "JSON-encodable"),
        ({"x": float("nan")}, "JSON-encodable"),
        ({"x": "y" * 3000}, "2048"),
        (["not", "a", "dict"], "dict"),
    ],
)
def test_bad_metadata_is_refused_naming_the_key(metadata: Any, reason: str) -> None:
    with pytest.raises(S3InvalidMetadata, match=reason) as info:
        items_from_values([S3PutObject("meta/k", value="v", metadata=metadata)], resolve, None)
    assert isinstance(info.value, S3InvalidObject)
    assert "meta/k" in str(info.value)


# ---------------------------------------------------------- local files


def test_put_files_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "f.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    (item,) = items_from_files([("k", "f.txt")], resolve, None)
    assert item.path == str(tmp_path / "f.txt")
    assert item.value is None


def test_put_files_missing_file_names_key_and_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.bin"
    with pytest.raises(S3LocalFileError) as info:
        items_from_files([("ok", __file__), ("data/k", str(missing))], resolve, None)
    assert info.value.path == str(missing)
    assert "data/k" in str(info.value) and str(missing) in str(info.value)


def test_put_files_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(S3LocalFileError, match="not a regular file"):
        items_from_files([("k", str(tmp_path))], resolve, None)


def test_put_files_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """Opening a FIFO for reading would wait for a writer forever; the check
    opens without blocking and refuses it as not a regular file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(S3LocalFileError, match="not a regular file") as info:
        items_from_files([("k", str(fifo))], resolve, None)
    assert info.value.path == str(fifo)


def test_put_files_path_with_a_nul_byte_is_missing(tmp_path: Path) -> None:
    with pytest.raises(S3LocalFileError, match="no such file"):
        items_from_files([("k", str(tmp_path / "a\0b"))], resolve, None)


def test_put_files_never_opens_what_is_not_a_regular_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a device or a FIFO can do something; only regular files are opened."""
    opened: List[str] = []
    real_open = os.open

    def spy(path: Any, *args: Any, **kwargs: Any) -> int:
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(uploads.os, "open", spy)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in ("/dev/null", str(fifo), str(tmp_path)):
        with pytest.raises(S3LocalFileError, match="not a regular file"):
            items_from_files([("k", path)], resolve, None)
    assert opened == []


def test_put_files_path_through_a_file_is_missing(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    below = tmp_path / "f" / "g"
    with pytest.raises(S3LocalFileError, match="no such file") as info:
        items_from_files([("k", str(below))], resolve, None)
    assert info.value.path == str(below)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_put_files_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("x")
    path.chmod(0)
    with pytest.raises(S3LocalFileError, match="cannot read"):
        items_from_files([("k", str(path))], resolve, None)


def test_put_files_open_failure_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_text("x")

    def deny(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(uploads.os, "open", deny)
    with pytest.raises(S3LocalFileError, match="cannot read .*Permission denied") as info:
        items_from_files([("k", str(path))], resolve, None)
    assert info.value.kind is not None and info.value.path == str(path)


# ------------------------------------------------- through the S3 client


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    clear_env(monkeypatch)
    with S3(tmproot=str(tmp_path), s3root=ROOT, encryption="AES256") as client:
        yield client


def echo_put(contents: List[bytes], skip: str = "") -> Any:
    """A put responder recording each staged file's contents."""

    def respond(op: str, requests: Any, flags: Any) -> List[Result]:
        results = []
        for req in requests:
            assert isinstance(req, PutRequest)
            with open(req.local, "rb") as f:
                contents.append(f.read())
            skipped = "exists" if req.url.endswith(skip) and skip else None
            results.append(Result(req.idx, req.url, skipped=skipped))
        return results

    return respond


def test_put_many_uploads_staged_files_and_removes_them(s3: S3) -> None:
    contents: List[bytes] = []
    engine = with_engine(s3, echo_put(contents))
    written = s3.put_many([("a", "text"), S3PutObject("b", value=io.BytesIO(b"file"))])
    assert written == [("a", ROOT + "/a"), ("b", ROOT + "/b")]
    assert contents == [b"text", b"file"]
    ((op, requests, flags),) = engine.calls
    assert op == "put" and "--no-overwrite" not in flags
    assert all(not os.path.exists(r.local) for r in requests if isinstance(r, PutRequest))
    assert [r.encryption for r in requests if isinstance(r, PutRequest)] == ["AES256", "AES256"]


def test_put_many_without_overwrite_leaves_out_skipped(s3: S3) -> None:
    engine = with_engine(s3, echo_put([], skip="/old"))
    written = s3.put_many([("old", "x"), ("new", "y")], overwrite=False)
    assert written == [("new", ROOT + "/new")]
    assert "--no-overwrite" in engine.calls[0][2]


def test_put_returns_url_even_when_skipped(s3: S3) -> None:
    with_engine(s3, echo_put([], skip="/old"))
    assert s3.put("old", "x", overwrite=False) == ROOT + "/old"


def test_put_with_s3putobject_key_keeps_its_options(s3: S3) -> None:
    engine = with_engine(s3, echo_put([]))
    s3.put(S3PutObject("k", content_type="text/csv", metadata={"m": 1}), "a,b")
    (req,) = engine.calls[0][1]
    assert isinstance(req, PutRequest)
    assert (req.content_type, req.metadata) == ("text/csv", {"m": 1})


def test_put_files_sends_the_files_themselves(s3: S3, tmp_path: Path) -> None:
    src = tmp_path / "local.bin"
    src.write_bytes(b"abc")
    engine = with_engine(s3, echo_put([]))
    assert s3.put_files([("k", str(src))]) == [("k", ROOT + "/k")]
    (req,) = engine.calls[0][1]
    assert isinstance(req, PutRequest) and req.local == str(src)
    assert src.exists()  # the user's file is never removed


@pytest.mark.parametrize(
    "call",
    [
        lambda s3: s3.put_many([("a", "1"), ("a", "2")]),
        lambda s3: s3.put_many([("a", "1"), ("b", 2)]),
        lambda s3: s3.put("k", "v", metadata={"x": {1, 2}}),
        lambda s3: s3.put_files([("k", "/definitely/not/here")]),
        lambda s3: s3.put("s3://bkt/absolute", "v"),
    ],
)
def test_bad_batches_run_nothing(s3: S3, call: Any) -> None:
    engine = with_engine(s3)
    with pytest.raises(S3Error):
        call(s3)
    assert engine.calls == []


def test_empty_put_batches_run_nothing(s3: S3) -> None:
    engine = with_engine(s3)
    assert s3.put_many([]) == [] and s3.put_files([]) == []
    assert engine.calls == []

"""The S3 class against a fake engine: requests built, flags, result mapping, lifecycle."""

from __future__ import annotations

import gc
import os
import stat
from pathlib import Path
from typing import Any, Iterator, List, Sequence

import pytest

from s3client import (
    S3,
    RangeInfo,
    S3AccessDenied,
    S3BucketNotFound,
    S3EngineError,
    S3Error,
    S3GetObject,
    S3InvalidRange,
    S3NotFound,
    S3TransientError,
    S3URLError,
)
from s3op.protocol import ErrorKind, GetRequest, InfoRequest, RangeServed, Request, Result
from tests.unit.client_fakes import clear_env, failure, with_engine

ROOT = "s3://bkt/root"


@pytest.fixture
def tmproot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    clear_env(monkeypatch)
    monkeypatch.setenv("S3CLIENT_TMPROOT", str(tmp_path))
    return tmp_path


@pytest.fixture
def s3(tmproot: Path) -> Iterator[S3]:
    with S3(s3root=ROOT) as client:
        yield client


def download(op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
    """Answer gets by writing the URL's last part to the local file; 'missing*' is absent."""
    results = []
    for req in reversed(requests):  # completion order differs from request order
        assert isinstance(req, GetRequest) and req.local is not None
        name = req.url.rsplit("/", 1)[-1]
        if name.startswith("missing"):
            results.append(failure(req, ErrorKind.NOT_FOUND, "NoSuchKey"))
            continue
        with open(req.local, "wb") as f:
            f.write(name.encode())
        served = RangeServed(0, len(name) - 1, 100) if req.range else None
        info = "--info" in flags
        results.append(
            Result(
                req.idx,
                req.url,
                local=req.local,
                size=len(name),
                content_type="text/plain" if info else None,
                metadata={"m": name} if info else None,
                last_modified=1700000000 if info else None,
                range=served,
            )
        )
    return results


# ------------------------------------------------------------------ get


def test_get_many_returns_objects_in_request_order(s3: S3) -> None:
    engine = with_engine(s3, download)
    objs = s3.get_many(["a", "bb", "/ccc"])
    assert [o.text for o in objs] == ["a", "bb", "ccc"]
    assert [o.key for o in objs] == ["a", "bb", "ccc"]
    assert [o.url for o in objs] == [ROOT + "/a", ROOT + "/bb", ROOT + "/ccc"]
    assert all(o.has_info and o.content_type == "text/plain" for o in objs)
    assert objs[1].metadata == {"m": "bb"} and objs[1].range_info == RangeInfo(2, 0, 2)
    ((op, requests, flags),) = engine.calls
    assert op == "get" and "--info" in flags and "--allow-missing" not in flags


def test_local_paths_are_unique_and_not_derived_from_keys(s3: S3) -> None:
    engine = with_engine(s3, download)
    s3.get_many(["../../etc/passwd", "a"])
    s3.get("a")
    locals_ = [r.local for _, reqs, _ in engine.calls for r in reqs if isinstance(r, GetRequest)]
    assert len(set(locals_)) == 3
    for local in locals_:
        assert local is not None
        assert os.path.dirname(local) == s3._tmpdir
        assert "passwd" not in local and not local.endswith("/a")


def test_get_without_info(s3: S3) -> None:
    engine = with_engine(s3, download)
    obj = s3.get("k", return_info=False)
    assert obj.downloaded and obj.blob == b"k" and obj.size == 1
    assert not obj.has_info and obj.range_info is None and obj.content_type is None
    assert "--no-info" in engine.calls[0][2]


def test_get_none_gets_the_root(s3: S3) -> None:
    engine = with_engine(s3, download)
    obj = s3.get()
    assert obj.url == ROOT and obj.key == ROOT
    assert engine.calls[0][1][0].url == ROOT


def test_get_range_sends_header_and_builds_range_info(s3: S3) -> None:
    engine = with_engine(s3, download)
    obj = s3.get(S3GetObject("part", offset=10, length=5))
    req = engine.calls[0][1][0]
    assert isinstance(req, GetRequest) and req.range == "bytes=10-14"
    assert obj.range_info == RangeInfo(100, 0, 4)  # what the (fake) engine served


def test_get_last_bytes(s3: S3) -> None:
    engine = with_engine(s3, download)
    s3.get(S3GetObject("tail", None, -3))
    assert engine.calls[0][1][0].range == "bytes=-3"  # type: ignore[union-attr]


def test_invalid_range_raises_before_running(s3: S3) -> None:
    engine = with_engine(s3, download)
    with pytest.raises(S3InvalidRange):
        s3.get_many(["ok", S3GetObject("k", 0, 0)])
    assert engine.calls == []


def test_missing_raises_not_found_naming_url(s3: S3) -> None:
    with_engine(s3, download)
    with pytest.raises(S3NotFound) as info:
        s3.get_many(["a", "missing1"])
    assert info.value.url == ROOT + "/missing1"
    assert info.value.kind is ErrorKind.NOT_FOUND
    assert ROOT + "/missing1" in str(info.value)


def test_return_missing_gives_nonexistent_objects(s3: S3) -> None:
    engine = with_engine(s3, download)
    objs = s3.get_many(["missing1", "b"], return_missing=True)
    assert [o.exists for o in objs] == [False, True]
    assert objs[0].key == "missing1" and objs[0].blob is None
    assert "--allow-missing" in engine.calls[0][2]


def test_first_failure_in_request_order_wins(s3: S3) -> None:
    def respond(op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
        kinds = [ErrorKind.ACCESS_DENIED, ErrorKind.TRANSIENT]
        return [failure(r, k) for r, k in reversed(list(zip(requests, kinds)))]

    with_engine(s3, respond)
    with pytest.raises(S3AccessDenied):
        s3.get_many(["a", "b"])


@pytest.mark.parametrize("kind", [ErrorKind.TRANSIENT, ErrorKind.CORRUPT, ErrorKind.WORKER_DIED])
def test_retryable_kinds_raise_transient(s3: S3, kind: ErrorKind) -> None:
    with_engine(s3, lambda op, reqs, flags: [failure(r, kind) for r in reqs])
    with pytest.raises(S3TransientError) as info:
        s3.get("k")
    assert info.value.kind is kind


def test_engine_dropping_a_result_is_an_engine_error(s3: S3) -> None:
    with_engine(s3, lambda op, reqs, flags: download(op, reqs[:1], flags))
    with pytest.raises(S3EngineError, match="no result"):
        s3.get_many(["a", "b"])


def test_empty_batches_run_nothing(s3: S3) -> None:
    engine = with_engine(s3, download)
    assert s3.get_many([]) == []
    assert s3.info_many([]) == []
    assert s3.get_recursive([]) == []
    assert s3.list_paths([]) == [] and s3.list_recursive([]) == []
    assert engine.calls == []


def test_absolute_url_with_root_raises_before_running(s3: S3) -> None:
    engine = with_engine(s3, download)
    with pytest.raises(S3URLError):
        s3.get_many(["a", "s3://bkt/other"])
    assert engine.calls == []


# --------------------------------------------------------- get_recursive


def test_get_recursive(s3: S3) -> None:
    def respond(op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
        if op == "list":  # the server's order, which need not be sorted
            return [Result(0, requests[0].url + name, size=len(name)) for name in ("x", "sub/y")]
        out = []
        for req in requests:
            assert isinstance(req, GetRequest) and req.local is not None
            name = req.url.rsplit("/dir/", 1)[1]
            with open(req.local, "w") as f:
                f.write(name)
            out.append(Result(req.idx, req.url, local=req.local, size=len(name)))
        return out

    engine = with_engine(s3, respond)
    objs = s3.get_recursive(["dir"])
    # As metaflow: keys relative to the requested prefix, in the listing's order.
    assert [(o.key, o.text) for o in objs] == [("x", "x"), ("sub/y", "sub/y")]
    assert {o.prefix for o in objs} == {ROOT + "/dir"}
    assert not objs[0].has_info
    (list_op, listed, list_flags), (get_op, gets, get_flags) = engine.calls
    assert (list_op, listed[0].url, list_flags) == ("list", ROOT + "/dir/", ["--recursive"])
    assert get_op == "get" and [r.url for r in gets] == [ROOT + "/dir/x", ROOT + "/dir/sub/y"]
    assert "--no-info" in get_flags


def test_get_all_uses_the_root(s3: S3) -> None:
    engine = with_engine(s3)
    assert s3.get_all() == []
    assert engine.calls[0][1][0].url == ROOT + "/"


def test_get_all_without_root(tmproot: Path) -> None:
    with S3() as s3:
        with pytest.raises(S3URLError, match="get_all"):
            s3.get_all()


# ---------------------------------------------------------------- info


def test_info_many(s3: S3) -> None:
    def respond(op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
        assert all(isinstance(r, InfoRequest) for r in requests)
        return [
            failure(r, ErrorKind.NOT_FOUND)
            if r.url.endswith("gone")
            else Result(
                r.idx, r.url, size=0, content_type="a/b", encryption="AES256", last_modified=5
            )
            for r in requests
        ]

    engine = with_engine(s3, respond)
    found, missing = s3.info_many(["zero", "gone"], return_missing=True)
    assert found.exists and found.size == 0 and found.has_info and not found.downloaded
    assert (found.content_type, found.encryption, found.last_modified) == ("a/b", "AES256", 5)
    assert not missing.exists and missing.key == "gone"
    assert engine.calls[0][0] == "info" and "--allow-missing" in engine.calls[0][2]
    with pytest.raises(S3NotFound):
        s3.info("gone")


# ---------------------------------------------------------------- list


def listing(op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
    base = requests[0].url
    out = [
        Result(0, base + "empty", size=0),
        Result(0, base + "sub/", is_prefix=True),
        Result(0, base + "file", size=3, last_modified=9),
    ]
    if len(requests) > 1:
        out.append(failure(requests[1], ErrorKind.BUCKET_NOT_FOUND, "NoSuchBucket"))
    return out


def test_list_paths(s3: S3) -> None:
    engine = with_engine(s3, listing)
    objs = s3.list_paths()
    assert [(o.key, o.exists) for o in objs] == [("empty", True), ("sub", False), ("file", True)]
    assert objs[1].url.endswith("/")
    ((op, requests, flags),) = engine.calls
    assert op == "list" and requests[0].url == ROOT + "/" and "--recursive" not in flags


def test_list_paths_keys_get_a_trailing_slash(tmproot: Path) -> None:
    with S3() as s3:
        engine = with_engine(s3, lambda op, reqs, flags: [])
        assert s3.list_paths(["s3://bkt", "s3://bkt/a", "s3://bkt/b/"]) == []
        assert [r.url for r in engine.calls[0][1]] == ["s3://bkt/", "s3://bkt/a/", "s3://bkt/b/"]


def test_list_recursive_returns_objects_only(s3: S3) -> None:
    engine = with_engine(s3, listing)
    objs = s3.list_recursive(["p"])
    assert [o.key for o in objs] == ["empty", "file"] and all(o.exists for o in objs)
    assert {o.prefix for o in objs} == {ROOT + "/p"}
    assert "--recursive" in engine.calls[0][2]


def test_list_missing_bucket_raises(s3: S3) -> None:
    with_engine(s3, listing)
    with pytest.raises(S3BucketNotFound, match="NoSuchBucket"):
        s3.list_paths(["a", "b"])


# ----------------------------------------------------------- lifecycle


def test_temp_dir_is_private_and_removed_on_close(tmproot: Path) -> None:
    s3 = S3()
    tmpdir = s3._tmpdir
    assert os.path.dirname(tmpdir) == str(tmproot)
    assert os.path.basename(tmpdir).startswith("s3client.")
    assert stat.S_IMODE(os.stat(tmpdir).st_mode) == 0o700
    s3.close()
    assert not os.path.exists(tmpdir)
    s3.close()  # idempotent


def test_explicit_tmproot_wins_over_env(tmproot: Path, tmp_path_factory: Any) -> None:
    other = tmp_path_factory.mktemp("other")
    with S3(tmproot=str(other)) as s3:
        assert os.path.dirname(s3._tmpdir) == str(other)


def test_context_manager_closes_on_keyboard_interrupt(s3: S3, tmproot: Path) -> None:
    def interrupted(*args: Any) -> List[Result]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with S3() as client:
            with_engine(client, interrupted)
            tmpdir = client._tmpdir
            client.get("s3://bkt/k")
    assert not os.path.exists(tmpdir)


def test_temp_dir_removed_when_client_is_garbage(tmproot: Path) -> None:
    s3 = S3()
    tmpdir = s3._tmpdir
    del s3
    gc.collect()
    assert not os.path.exists(tmpdir)


def test_debug_keeps_the_temp_dir(tmproot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3CLIENT_DEBUG", "1")
    s3 = S3()
    s3.close()
    assert os.path.isdir(s3._tmpdir)


@pytest.mark.parametrize(
    "call",
    [
        lambda s3: s3.get("k"),
        lambda s3: s3.get_recursive(["p"]),
        lambda s3: s3.put("k", "v"),
        lambda s3: s3.info("k"),
        lambda s3: s3.list_paths(),
    ],
)
def test_closed_client_refuses_work(s3: S3, call: Any) -> None:
    engine = with_engine(s3, download)
    s3.close()
    with pytest.raises(S3Error, match="closed"):
        call(s3)
    assert engine.calls == []
    assert "closed" in repr(s3)


def test_unknown_kwargs_are_a_type_error(tmproot: Path) -> None:
    with pytest.raises(TypeError, match="bogus_option"):
        S3(bogus_option=10)
    assert list(tmproot.iterdir()) == []


@pytest.mark.parametrize(
    "method", ["get_many", "get_recursive", "info_many", "list_paths", "list_recursive"]
)
@pytest.mark.parametrize("keys", ["abc", b"abc"])
def test_a_lone_string_of_keys_is_a_type_error(s3: S3, method: str, keys: object) -> None:
    # metaflow would iterate it: get_many("abc") fetches the keys "a", "b" and "c".
    engine = with_engine(s3)
    with pytest.raises(TypeError, match="iterable of keys"):
        getattr(s3, method)(keys)
    assert engine.calls == []


@pytest.mark.parametrize("method", ["put_many", "put_files"])
def test_a_lone_string_of_pairs_is_a_type_error(s3: S3, method: str) -> None:
    engine = with_engine(s3)
    with pytest.raises(TypeError, match="iterable of keys"):
        getattr(s3, method)("ab")
    assert engine.calls == []

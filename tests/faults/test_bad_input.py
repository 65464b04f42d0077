"""Row 14: bad input gets a named error and nothing is written.

Each case runs through the ``S3`` API and through the ``s3op`` CLI, against
SeaweedFS behind the (fault-free) proxy, and checks three things: the error
(exception class or ``kind``/exit code) names the problem, no object appeared
in the bucket, and no file appeared locally. Checks done before any request
also show up as zero requests at the proxy.
"""

from __future__ import annotations

import json
import subprocess
from functools import partial
from pathlib import Path
from typing import Any, Callable, List, Optional, Type

import pytest

from s3client import (
    S3,
    S3Error,
    S3GetObject,
    S3InvalidMetadata,
    S3InvalidObject,
    S3InvalidRange,
    S3InvalidRequest,
    S3LocalFileError,
    S3NotFound,
    S3URLError,
)
from s3op.protocol import ErrorKind
from tests.faults.conftest import (
    REPO,
    S3opRun,
    Target,
    figure,
    files_under,
    run_s3op,
    s3op_argv,
    write_manifest,
)

pytestmark = pytest.mark.faults

MISSING_BUCKET = "s3://no-such-bucket-faults/k"
_SEEN: List[str] = []


@pytest.fixture
def bucket(seaweed_target: Target) -> Target:
    """A bucket holding one 10-byte object, ``ten``."""
    seaweed_target.direct().put_object(Bucket=seaweed_target.bucket, Key="ten", Body=b"0123456789")
    seaweed_target.proxy.reset_counts()
    return seaweed_target


def _untouched(target: Target, tmp_path: Path) -> None:
    assert target.keys() == ["ten"], target.keys()
    leftovers = [f for f in files_under(tmp_path) if "/s3client." in f or "/dest" in f]
    assert leftovers == [], leftovers


def _raises(
    target: Target,
    tmp_path: Path,
    exc: Type[S3Error],
    call: Callable[[S3], Any],
    root: Optional[str] = None,
    requests: Optional[int] = 0,
    label: str = "",
) -> S3Error:
    """``call(s3)`` raises ``exc``; nothing written; ``requests`` HTTP requests made."""
    target.proxy.reset_counts()
    with S3(s3root=root) as s3:
        with pytest.raises(exc) as err:
            call(s3)
        assert files_under(Path(s3._tmpdir)) == []
    _untouched(target, tmp_path)
    if requests is not None:
        assert target.proxy.counts().get("requests", 0) == requests
    _SEEN.append(f"{label or exc.__name__}: {type(err.value).__name__} ({err.value})"[:160])
    return err.value


def _cli(target: Target, tmp_path: Path, *args: str) -> S3opRun:
    run = run_s3op(*args, timeout=120)
    _untouched(target, tmp_path)
    return run


# ------------------------------------------------------------ missing bucket


def test_missing_bucket(bucket: Target, tmp_path: Path) -> None:
    """A bucket that does not exist: S3BucketNotFound / bucket_not_found, no retries."""
    _raises(
        bucket,
        tmp_path,
        S3NotFound,
        lambda s3: s3.get(MISSING_BUCKET),
        requests=None,
        label="get, missing bucket",
    )
    err = _raises(
        bucket,
        tmp_path,
        S3Error,
        lambda s3: s3.put(MISSING_BUCKET, "v"),
        requests=None,
        label="put, missing bucket",
    )
    # SeaweedFS answers a put into a missing bucket with AccessDenied.
    assert err.kind in (ErrorKind.BUCKET_NOT_FOUND, ErrorKind.ACCESS_DENIED)
    for op in ("get", "info", "list"):
        run = _cli(
            bucket,
            tmp_path,
            op,
            MISSING_BUCKET,
            *(("--destination", str(tmp_path / "dest")) if op == "get" else ()),
        )
        assert run.code == 1 and run.results[0].error is not None
        kind = run.results[0].error.kind
        assert kind is ErrorKind.BUCKET_NOT_FOUND and run.results[0].attempts == 1


# ------------------------------------------------------------------ URLs


INVALID_URLS = [
    "http://example.com/k",
    "s3:/bucket/k",
    "/local/path",
    "s3://",
    "s3://Bad_Bucket!/k",
    "s3://ab/k",
    "s3://bucket/" + "k" * 1025,
]
INVALID_IDS = [
    "http",
    "one-slash",
    "local-path",
    "no-bucket",
    "bad-bucket",
    "short-bucket",
    "key-over-1024-bytes",
]


@pytest.mark.parametrize("url", INVALID_URLS, ids=INVALID_IDS)
def test_invalid_urls(bucket: Target, tmp_path: Path, url: str) -> None:
    """Invalid and non-s3 URLs: S3URLError before any request."""
    _raises(bucket, tmp_path, S3URLError, lambda s3: s3.get(url), label=f"get {url[:30]}")
    _raises(bucket, tmp_path, S3URLError, lambda s3: s3.put(url, "v"), label=f"put {url[:30]}")


@pytest.mark.parametrize("url", INVALID_URLS, ids=INVALID_IDS)
def test_invalid_urls_cli(bucket: Target, tmp_path: Path, url: str) -> None:
    """Invalid and non-s3 URLs given to s3op get: invalid_url, 0 attempts, no request."""
    run = _cli(bucket, tmp_path, "get", url, "--destination", str(tmp_path / "dest"))
    assert run.code in (1, 2), run.stderr
    if run.code == 1:
        assert run.results[0].error is not None
        assert run.results[0].error.kind is ErrorKind.INVALID_URL and run.results[0].attempts == 0
    assert bucket.proxy.counts().get("requests", 0) == 0


def test_root_must_be_s3(bucket: Target, tmp_path: Path) -> None:
    """A non-s3 root, or a full URL given to a client with a root: S3URLError."""
    with pytest.raises(S3URLError):
        S3(s3root="http://example.com/x")
    _raises(
        bucket,
        tmp_path,
        S3URLError,
        lambda s3: s3.get(bucket.url("ten")),
        root=bucket.url("sub"),
        label="full URL with a root",
    )


# ------------------------------------------------------------------ empty keys


@pytest.mark.parametrize("op", ["get", "put", "info"])
def test_empty_keys(bucket: Target, tmp_path: Path, op: str) -> None:
    """An empty key is a bucket, not an object: S3URLError / invalid_url, no request."""
    calls = {
        "get": lambda s3, k: s3.get(k),
        "put": lambda s3, k: s3.put(k, "v"),
        "info": lambda s3, k: s3.info(k),
    }
    _raises(
        bucket,
        tmp_path,
        S3URLError,
        lambda s3: calls[op](s3, bucket.url("")),
        label=f"{op} s3://bucket/",
    )
    _raises(
        bucket,
        tmp_path,
        S3URLError,
        lambda s3: calls[op](s3, ""),
        root=f"s3://{bucket.bucket}",
        label=f"{op} '' under a bucket root",
    )
    src = tmp_path / "src"
    src.write_text("v")
    args = {
        "get": (
            "get",
            bucket.url(""),
            "--layout",
            "hashed",
            "--destination",
            str(tmp_path / "dest"),
        ),
        # No trailing "/": "s3://bucket/" as a put destination appends the file's name.
        "put": ("put", str(src), f"s3://{bucket.bucket}"),
        "info": ("info", bucket.url("")),
    }[op]
    run = _cli(bucket, tmp_path, *args)
    assert run.code == 1 and run.results[0].error is not None
    assert run.results[0].error.kind is ErrorKind.INVALID_URL and run.results[0].attempts == 0
    assert bucket.proxy.counts().get("requests", 0) == 0


# ------------------------------------------------------------------ ranges


def test_ranges(bucket: Target, tmp_path: Path) -> None:
    """Ranges starting past the end, negative or empty: S3InvalidRange, no file."""
    _raises(
        bucket,
        tmp_path,
        S3InvalidRange,
        lambda s3: s3.get(S3GetObject("ten", 100, 5)),
        root=bucket.url(),
        requests=None,
        label="range past the end",
    )
    _raises(
        bucket,
        tmp_path,
        S3InvalidRange,
        lambda s3: s3.get(S3GetObject("ten", -3, 2)),
        root=bucket.url(),
        label="negative offset",
    )
    _raises(
        bucket,
        tmp_path,
        S3InvalidRange,
        lambda s3: s3.get(S3GetObject("ten", 2, 0)),
        root=bucket.url(),
        label="zero length",
    )
    for rng, kind in (
        ("bytes=100-", ErrorKind.INVALID_RANGE),
        ("bytes=9-3", ErrorKind.INVALID_RANGE),
        ("bytes=x-y", ErrorKind.INVALID_RANGE),
    ):
        manifest = write_manifest(tmp_path / "m.jsonl", [{"url": bucket.url("ten"), "range": rng}])
        run = _cli(
            bucket, tmp_path, "get", "--inputs", manifest, "--destination", str(tmp_path / "dest")
        )
        assert run.code in (1, 2), (rng, run.stderr)
        if run.code == 1:
            assert run.results[0].error is not None and run.results[0].error.kind is kind, rng
        first = run.results[0].error if run.results else None
        what = first.kind.value if first else run.stderr.strip()[-80:]
        _SEEN.append(f"s3op get range {rng}: exit {run.code} {what}")


# ------------------------------------------------------------------ metadata


@pytest.mark.parametrize(
    "metadata",
    [
        {"a": object()},
        {"a": float("nan")},
        {"a": "x" * 3000},
        {"k" * 2100: 1},
        ["not", "a", "dict"],
    ],
    ids=["object", "nan", "value-3000", "name-2100", "list"],
)
def test_bad_metadata(bucket: Target, tmp_path: Path, metadata: Any) -> None:
    """Metadata that is not JSON or over 2 KB: S3InvalidMetadata, nothing uploaded (also
    not the valid objects of the same batch)."""
    from s3client import S3PutObject

    _raises(
        bucket,
        tmp_path,
        S3InvalidMetadata,
        lambda s3: s3.put_many([("good", "v"), S3PutObject("bad", value="v", metadata=metadata)]),
        root=bucket.url(),
        label=f"metadata {str(metadata)[:20]}",
    )


def test_bad_metadata_cli(bucket: Target, tmp_path: Path) -> None:
    """In a manifest: too large or NaN metadata is invalid_metadata, 0 attempts."""
    src = tmp_path / "src"
    src.write_text("v")
    for bad in ({"a": "x" * 3000}, {"a": float("nan")}):
        manifest = tmp_path / "m.jsonl"
        manifest.write_text(
            json.dumps({"url": bucket.url("bad"), "local": str(src), "metadata": bad}) + "\n"
        )
        run = _cli(bucket, tmp_path, "put", "--inputs", str(manifest))
        assert run.code == 1, run.stderr
        assert run.results[0].error is not None
        assert run.results[0].error.kind is ErrorKind.INVALID_METADATA
        assert run.results[0].attempts == 0


# ------------------------------------------------------------------ duplicates


def test_duplicate_keys(bucket: Target, tmp_path: Path) -> None:
    """A key twice in one put batch: S3InvalidObject (also spelled differently), nothing
    written; in a put manifest: exit 2. Gets may repeat a key."""
    _raises(
        bucket,
        tmp_path,
        S3InvalidObject,
        lambda s3: s3.put_many([("a", "1"), ("a", "2")]),
        root=bucket.url(),
        label="duplicate key",
    )
    _raises(
        bucket,
        tmp_path,
        S3InvalidObject,
        lambda s3: s3.put_many([("a", "1"), ("/a", "2")]),
        root=bucket.url(),
        label="duplicate key, leading slash",
    )
    src = tmp_path / "src"
    src.write_text("v")
    manifest = write_manifest(
        tmp_path / "m.jsonl", [{"url": bucket.url("a"), "local": str(src)}] * 2
    )
    run = _cli(bucket, tmp_path, "put", "--inputs", manifest)
    assert run.code == 2 and "duplicate" in run.stderr
    with S3(s3root=bucket.url()) as s3:
        twice = s3.get_many(["ten", "ten"])
        assert [o.blob for o in twice] == [b"0123456789"] * 2


# ------------------------------------------------------------------ empty batch


def test_empty_batch(bucket: Target, tmp_path: Path) -> None:
    """An empty manifest or no URLs: exit 2 "empty batch"; the API returns [] and runs
    nothing (metaflow's behaviour)."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for op in ("get", "put", "info", "list"):
        run = _cli(bucket, tmp_path, op, "--inputs", str(empty))
        assert run.code == 2 and "empty batch" in run.stderr, (op, run.stderr)
        run = _cli(bucket, tmp_path, op)
        assert run.code == 2, op
    with S3(s3root=bucket.url()) as s3:
        assert s3.get_many([]) == [] and s3.put_many([]) == [] and s3.info_many([]) == []
    assert bucket.proxy.counts().get("requests", 0) == 0


# ------------------------------------------------------------------ manifests


@pytest.mark.parametrize(
    "bad_line, why",
    [
        ("{not json", "not valid JSON"),
        ('["a", "list"]', "JSON object"),
        ('{"local": "/x"}', "url"),
        ('{"url": 5, "local": "/x"}', "url"),
        ('{"url": "s3://b/k", "local": "/x", "colour": "red"}', "unknown field"),
        ('{"url": "s3://b/k", "local": "/x", "metadata": "text"}', "metadata"),
        ('{"url": "s3://b/k", "local": "/x", "idx": "2"}', "idx"),
        ('{"url": "s3://b/k", "local": null}', "local"),
    ],
    ids=[
        "json",
        "list",
        "no-url",
        "url-type",
        "unknown-field",
        "metadata-type",
        "idx-type",
        "null-local",
    ],
)
def test_malformed_manifest_line(bucket: Target, tmp_path: Path, bad_line: str, why: str) -> None:
    """A malformed line stops the batch before anything is done; exit 2; the message names
    the line (1-based, as editors count) and the problem."""
    src = tmp_path / "src"
    src.write_text("v")
    good = [json.dumps({"url": bucket.url(f"ok{i}"), "local": str(src)}) for i in range(2)]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(good + [bad_line] + good[:0]) + "\n")
    run = _cli(bucket, tmp_path, "put", "--inputs", str(manifest))
    assert run.code == 2
    assert run.results == []
    assert "line 3" in run.stderr and why.lower() in run.stderr.lower(), run.stderr
    assert bucket.proxy.counts().get("requests", 0) == 0


# ------------------------------------------------------------------ local files


def _put_pair(s3: S3, fine: str, bad: str) -> object:
    return s3.put_files([("ok", fine), ("k", bad)])


def test_unreadable_local_files(bucket: Target, tmp_path: Path) -> None:
    """Missing files and directories: S3LocalFileError before anything is uploaded;
    in a manifest: local_file_missing / local_file_error, 0 attempts."""
    directory = tmp_path / "a-dir"
    directory.mkdir()
    fine = tmp_path / "fine"
    fine.write_text("fine")
    for path in (tmp_path / "missing", directory):
        err = _raises(
            bucket,
            tmp_path,
            S3LocalFileError,
            partial(_put_pair, fine=str(fine), bad=str(path)),
            root=bucket.url(),
            label=f"put_files {path.name}",
        )
        assert err.url == bucket.url("k") and str(path) in str(err)
    for path, kind in (
        (tmp_path / "missing", ErrorKind.LOCAL_FILE_MISSING),
        (directory, ErrorKind.LOCAL_FILE_ERROR),
    ):
        manifest = write_manifest(
            tmp_path / "p.jsonl", [{"url": bucket.url("k"), "local": str(path)}]
        )
        run = _cli(bucket, tmp_path, "put", "--inputs", manifest)
        assert run.code == 1 and run.results[0].error is not None
        assert run.results[0].error.kind is kind and (run.results[0].attempts or 0) <= 1


NO_DAC = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


def test_unreadable_local_file_permissions(bucket: Target, tmp_path: Path) -> None:
    """A file the engine may not read (mode 000; the engine runs as root without
    CAP_DAC_OVERRIDE, via setpriv): local_file_error, nothing uploaded."""
    secret = tmp_path / "no-access"
    secret.write_text("v")
    secret.chmod(0)
    manifest = write_manifest(
        tmp_path / "p.jsonl", [{"url": bucket.url("k"), "local": str(secret)}]
    )
    try:
        proc = subprocess.run(
            NO_DAC + s3op_argv("put", "--inputs", manifest),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=str(REPO),
        )
    except FileNotFoundError:
        pytest.skip("setpriv is not installed")
    line = json.loads(proc.stdout.splitlines()[0])
    _SEEN.append(f"put of a mode-000 file: exit {proc.returncode} {line.get('error')}")
    assert proc.returncode == 1
    assert line["error"]["kind"] == "local_file_error"
    _untouched(bucket, tmp_path)


# ------------------------------------------------------------------ server 400


def test_permanent_400_is_not_retried(bucket: Target, tmp_path: Path) -> None:
    """A permanent 400 from the server (KeyTooLongError, InvalidArgument) is reported at
    once: 1 attempt, exit 1, S3InvalidRequest — never retried for minutes."""
    for code in ("KeyTooLongError", "InvalidArgument"):
        bucket.proxy.set_mode("error", status=400, code=code)
        bucket.proxy.reset_counts()
        run = _cli(
            bucket, tmp_path, "get", bucket.url("ten"), "--destination", str(tmp_path / "dest")
        )
        assert run.code == 1 and run.results[0].attempts == 1
        assert run.results[0].error is not None
        assert run.results[0].error.kind is ErrorKind.INVALID_REQUEST
        assert bucket.proxy.counts().get("requests.GET", 0) == 1
        _raises(
            bucket,
            tmp_path,
            S3InvalidRequest,
            lambda s3: s3.put("k", "v"),
            root=bucket.url(),
            requests=1,
            label=f"server 400 {code}",
        )
    figure(
        "row 14 (server 400)",
        f"get and put answered 400 KeyTooLongError/InvalidArgument: "
        f"1 attempt each, exit 1 / S3InvalidRequest in {run.seconds:.1f}s",
    )


def test_zz_report(bucket: Target) -> None:
    """Print what every bad input produced (for the README)."""
    for line in _SEEN:
        figure("row 14", line)

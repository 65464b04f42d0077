"""Small server-side copies sent together from one thread (``s3op.ops.multicopy``), and
copies that carry their source's HEAD (``CopyRequest.source_*``), on moto.

Each job of a batch must end as ``run_copy`` alone would end it: the same
destination bytes, content type, metadata and checksum, the same result
fields and errors. A copy whose request describes its source sends no HEAD
of its own; one that does not (a plain manifest) still works with its own.
An SSE-KMS source copied in parts keeps its key id.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Dict, List, Tuple

from s3client import S3
from s3op.client import make_client
from s3op.jobs import CopyJob, Settings
from s3op.ops import OpContext
from s3op.ops.copy import run_copy
from s3op.ops.multicopy import batchable, run_copies
from s3op.protocol import CopyRequest, Result
from tests.backends import Backend
from tests.conformance_ops import lines, s3op
from tests.functional.batches import QUICK_RETRIES, fast_config, run_one_batch
from tests.functional.test_cli import manifest


class CountingTransport:
    """The real transport, counting the calls made through it by name."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, {}  # type: Tuple[Any, Dict[str, int]]

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if not callable(value):
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return value(*args, **kwargs)

        return counted


def _context(endpoint: str, **settings: Any) -> OpContext:
    config, policy = fast_config(endpoint), QUICK_RETRIES
    transport = CountingTransport(make_client(config))
    return OpContext(transport, policy, Settings(tmp_tag="mctest", **settings))  # type: ignore[arg-type]


def _known(backend: Backend, key: str) -> Dict[str, Any]:
    """The ``source_*`` facts of a source, from a HEAD of it."""
    head = backend.client().head_object(Bucket=backend.bucket, Key=key, ChecksumMode="ENABLED")
    return {
        "source_size": head["ContentLength"],
        "source_etag": head["ETag"],
        "source_crc32": head.get("ChecksumCRC32"),
        "source_encryption": head.get("ServerSideEncryption"),
    }


SOURCES = {"plain": b"plain bytes", "empty": b"", "crc": b"with a crc32" * 50}


def _sources(backend: Backend) -> None:
    client = backend.client()
    client.put_object(Bucket=backend.bucket, Key="s/plain", Body=SOURCES["plain"])
    client.put_object(Bucket=backend.bucket, Key="s/empty", Body=b"", ContentType="text/e")
    client.put_object(
        Bucket=backend.bucket,
        Key="s/crc",
        Body=SOURCES["crc"],
        ChecksumAlgorithm="CRC32",
        Metadata={"k": "v"},
        ServerSideEncryption="AES256",
    )


def _jobs(backend: Backend, prefix: str, known: bool) -> List[Tuple[int, CopyJob]]:
    out = []
    for i, name in enumerate(SOURCES):
        facts = _known(backend, f"s/{name}") if known else {}
        req = CopyRequest(i, backend.root(f"{prefix}/{name}"), backend.root(f"s/{name}"), **facts)
        out.append((i, CopyJob(req)))
    no_bucket = CopyRequest(3, f"s3://{backend.bucket}-none/x", backend.root("s/plain"))
    facts = _known(backend, "s/plain")
    out.append((3, CopyJob(dataclasses.replace(no_bucket, **facts) if known else no_bucket)))
    return out


def _plain(outcome: Result) -> Any:
    """What must match between a batched and a lone copy (not the URL)."""
    error = outcome.error.kind if outcome.error else None
    return dataclasses.replace(outcome, url="", error=None), error


def test_a_batch_of_copies_ends_each_job_as_run_copy_would(s3backend: Backend) -> None:
    _sources(s3backend)
    ctx = _context(s3backend.endpoint_url)
    jobs = _jobs(s3backend, "batch", known=True)
    assert [batchable(ctx, job) for _, job in jobs] == [True] * 4
    assert not any(batchable(ctx, job) for _, job in _jobs(s3backend, "x", known=False))
    handed: List[int] = []
    batched = run_one_batch(run_copies, ctx, jobs, handed)
    assert "head_object" not in ctx.transport.calls  # type: ignore[attr-defined]
    assert ctx.transport.calls["copy_many"] == 1  # type: ignore[attr-defined]
    alone = {i: run_copy(ctx, job) for i, job in _jobs(s3backend, "alone", known=False)}
    assert ctx.transport.calls["head_object"] == 4  # type: ignore[attr-defined]
    for i in range(4):
        assert _plain(batched[i]) == _plain(alone[i]), i
    # the missing bucket's answer: resumed, its own error (the kind a lone copy gets:
    # moto NoSuchBucket; SeaweedFS answers InternalError, transient)
    assert handed == [3] and not batched[3].ok and batched[3].attempts == alone[3].attempts
    client = s3backend.client()
    for name, body in SOURCES.items():
        got = client.get_object(
            Bucket=s3backend.bucket, Key=f"batch/{name}", ChecksumMode="ENABLED"
        )
        src = client.head_object(Bucket=s3backend.bucket, Key=f"s/{name}", ChecksumMode="ENABLED")
        assert got["Body"].read() == body
        for field in ("ContentType", "Metadata", "ServerSideEncryption", "ChecksumCRC32"):
            assert got.get(field) == src.get(field), (name, field)


def test_facts_that_do_not_fit_a_single_copy_are_headed(s3backend: Backend) -> None:
    """New metadata, an SSE-KMS source and a multipart copy need more than the facts."""
    _sources(s3backend)
    ctx = _context(s3backend.endpoint_url, multipart_threshold=5, part_size=5 * 1024 * 1024)
    facts = _known(s3backend, "s/crc")
    big = CopyRequest(0, s3backend.root("d/big"), s3backend.root("s/crc"), **facts)
    assert not batchable(ctx, CopyJob(big))
    small = _context(s3backend.endpoint_url)
    meta = dataclasses.replace(big, metadata={"new": 1})
    kms = dataclasses.replace(big, source_encryption="aws:kms")
    assert not batchable(small, CopyJob(meta)) and not batchable(small, CopyJob(kms))
    assert batchable(small, CopyJob(big))
    assert not batchable(_context(s3backend.endpoint_url, dry_run=True), CopyJob(big))


def test_the_library_copies_many_without_a_second_head(s3backend: Backend) -> None:
    """copy_many: one HEAD batch of the sources, then one CopyObject each (the engine's
    result lines carry no HEAD's attempt), bytes and checksums as the source's."""
    client = s3backend.client()
    bodies = {f"k{i:03d}": os.urandom(100 + i) for i in range(150)}
    for key, body in bodies.items():
        client.put_object(Bucket=s3backend.bucket, Key=f"src/{key}", Body=body)
    with S3(s3root=s3backend.root()) as s3:
        urls = s3.copy_many([(f"src/{k}", f"dst/{k}") for k in bodies])
    assert urls == [s3backend.root(f"dst/{k}") for k in bodies]
    for key, body in bodies.items():
        assert client.get_object(Bucket=s3backend.bucket, Key=f"dst/{key}")["Body"].read() == body


def test_a_plain_manifest_copy_heads_its_source_and_bad_facts_are_named(
    s3backend: Backend, tmp_path: Path
) -> None:
    _sources(s3backend)
    src = s3backend.root("s/plain")
    rows = [
        {"source": src, "url": s3backend.root("m/plain")},
        {"source": src, "url": s3backend.root("m/neg"), "source_size": -1, "source_etag": '"e"'},
        {"source": src, "url": s3backend.root("m/half"), "source_size": 3},
        {"source": src, "url": s3backend.root("m/crc"), **_known(s3backend, "s/plain")},
    ]
    rows[3]["source_crc32"] = "!!"
    proc = s3op(s3backend, "copy", "--inputs", manifest(tmp_path / "m.jsonl", rows))
    got = {line["url"].rpartition("/")[2]: line for line in lines(proc)}
    assert proc.returncode == 1
    assert got["plain"]["ok"] and got["plain"]["size"] == len(SOURCES["plain"])
    assert "negative" in got["neg"]["error"]["message"]
    assert "go together" in got["half"]["error"]["message"]
    assert "base64" in got["crc"]["error"]["message"]
    for name in ("neg", "half", "crc"):
        assert got[name]["error"]["kind"] == "invalid_request" and got[name]["attempts"] == 0
    listed = client_keys(s3backend, "m/")
    assert listed == ["m/plain"]


def client_keys(backend: Backend, prefix: str) -> List[str]:
    answer = backend.client().list_objects_v2(Bucket=backend.bucket, Prefix=prefix)
    return sorted(o["Key"] for o in answer.get("Contents", []))


def test_a_multipart_copy_of_an_sse_kms_source_keeps_its_key(s3backend: Backend) -> None:
    data = os.urandom(11 * 1024 * 1024)
    s3backend.client().put_object(
        Bucket=s3backend.bucket,
        Key="kms",
        Body=data,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId="key-of-the-source",
    )
    mib5 = str(5 * 1024 * 1024)
    args = ["--multipart-threshold", mib5, "--part-size", mib5]
    proc = s3op(s3backend, "copy", *args, s3backend.root("kms"), s3backend.root("kms-copy"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines(proc)[0]["etag"].strip('"').endswith("-3")  # copied in parts
    head = s3backend.client().head_object(Bucket=s3backend.bucket, Key="kms-copy")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == "key-of-the-source"

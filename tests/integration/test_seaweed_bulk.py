"""s3client against SeaweedFS with real volumes of data.

- a 64 MiB object through multipart both ways, with the engine's defaults
  (32 MiB threshold, parts cut by s3op.upload_split: 13), checked with boto3;
- an SSE-S3 (AES256) multipart object;
- a multipart download into a full disk;
- 2,000 small objects through put_many / get_many, byte for byte;
- 10,000 keys in one get_many (``slow``);
- a key with a newline (SeaweedFS stores it; moto can't).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Dict, List

import pytest
from boto3.s3.transfer import TransferConfig

from s3client import S3, RangeInfo, S3GetObject, S3InsufficientDiskSpace
from tests.backends import Backend
from tests.interop_helpers import MountNotPermitted, files_under, small_tmpfs

MiB = 1 << 20


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _data(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _open_uploads(backend: Backend) -> List[Dict[str, str]]:
    return backend.client().list_multipart_uploads(Bucket=backend.bucket).get("Uploads", [])


def _boto_get(backend: Backend, key: str) -> bytes:
    return backend.client().get_object(Bucket=backend.bucket, Key=key)["Body"].read()


def test_64mib_object_through_multipart_both_ways(s3backend: Backend, tmp_path: Path) -> None:
    data = _data(64 * MiB, seed=64)
    want = _sha(data)
    root = s3backend.root("big").rstrip("/")
    client = s3backend.client()
    with S3(s3root=root, tmproot=str(tmp_path)) as s3:
        url = s3.put("ours.bin", data, content_type="application/x-big", metadata={"mib": 64})
        assert url == f"{root}/ours.bin"
        head = client.head_object(Bucket=s3backend.bucket, Key="big/ours.bin")
        # 12 parts of 5 MiB and one of 4 (s3op.upload_split: 3 or more a slot)
        assert head["ETag"].strip('"').endswith("-13")
        assert head["ContentLength"] == 64 * MiB
        assert head["ContentType"] == "application/x-big"
        assert _sha(_boto_get(s3backend, "big/ours.bin")) == want
        assert _open_uploads(s3backend) == []

        # boto3's own multipart upload (composite checksum) read back by s3client.
        source = tmp_path / "source.bin"
        source.write_bytes(data)
        client.upload_file(
            str(source),
            s3backend.bucket,
            "big/theirs.bin",
            Config=TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB),
        )
        source.unlink()

        s3.put("small.bin", b"small")
        mixed = s3.get_many(["ours.bin", "missing", "small.bin", "theirs.bin"], return_missing=True)
        assert [o.exists for o in mixed] == [True, False, True, True]
        assert mixed[2].blob == b"small"
        got = [mixed[0], mixed[3]]
        for obj in got:
            assert _sha(obj.blob) == want, obj.url
            assert obj.size == 64 * MiB
            assert obj.range_info == RangeInfo(64 * MiB, 0, 64 * MiB)
        assert (got[0].content_type, got[0].metadata) == ("application/x-big", {"mib": 64})
        tmpdir = next(tmp_path.glob("s3client.*"))
        # Only the downloads are left: no parts, no manifest, no staged upload.
        assert files_under(tmpdir) == sorted(Path(o.path) for o in mixed if o.exists)

        # A range across the boundary between the first two parts.
        part = s3.get(S3GetObject("ours.bin", 16 * MiB - 100, 200))
        assert part.blob == data[16 * MiB - 100 : 16 * MiB + 100]
        assert part.range_info == RangeInfo(64 * MiB, 16 * MiB - 100, 200)

        # overwrite=False leaves the big object alone.
        assert s3.put_many([("ours.bin", b"small")], overwrite=False) == []
        assert (
            client.head_object(Bucket=s3backend.bucket, Key="big/ours.bin")["ETag"]
            == (head["ETag"])
        )
    assert _open_uploads(s3backend) == []
    assert list(tmp_path.iterdir()) == []


def test_encrypted_multipart_upload_with_overwrite_false(s3backend: Backend) -> None:
    data = _data(40 * MiB, seed=40)
    with S3(s3root=s3backend.root("sse"), encryption="AES256") as s3:
        # A new key with overwrite=False: the multipart upload completes conditionally.
        url = s3.put("enc.bin", data, metadata={"enc": True}, overwrite=False)
        assert s3.put_many([("enc.bin", b"no")], overwrite=False) == []
        obj = s3.get(url.rsplit("/", 1)[1])
        assert _sha(obj.blob) == _sha(data)
        assert (obj.encryption, obj.metadata) == ("AES256", {"enc": True})
    head = s3backend.client().head_object(Bucket=s3backend.bucket, Key="sse/enc.bin")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ETag"].strip('"').endswith("-8")  # 8 parts of 5 MiB (s3op.upload_split)
    assert _open_uploads(s3backend) == []


def test_multipart_download_into_a_full_disk(s3backend: Backend, tmp_path: Path) -> None:
    s3backend.client().put_object(
        Bucket=s3backend.bucket, Key="full/big.bin", Body=_data(40 * MiB, seed=1)
    )
    root = s3backend.root("full").rstrip("/")
    try:
        with small_tmpfs(tmp_path / "small", "2m") as mounted:
            with S3(s3root=root, tmproot=str(mounted)) as s3:
                with pytest.raises(S3InsufficientDiskSpace) as err:
                    s3.get("big.bin")
                assert err.value.url == f"{root}/big.bin"
                assert f"{root}/big.bin" in str(err.value)
                assert files_under(mounted) == []  # no preallocated part file left
            assert files_under(mounted) == []
    except MountNotPermitted as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc})")


def test_2000_small_objects_through_put_many_and_get_many(s3backend: Backend) -> None:
    rng = random.Random(2000)
    bodies = {f"d{i % 7}/obj-{i:05d}.bin": rng.randbytes(rng.randint(0, 4096)) for i in range(2000)}
    keys = list(bodies)
    root = s3backend.root("small").rstrip("/")
    with S3(s3root=root) as s3:
        written = s3.put_many(list(bodies.items()))
        assert written == [(k, f"{root}/{k}") for k in keys]

        # What the server stored, checked independently: every ETag is the body's MD5.
        etags = {}
        for page in (
            s3backend.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=s3backend.bucket, Prefix="small/")
        ):
            etags.update({o["Key"][6:]: o["ETag"].strip('"') for o in page.get("Contents", [])})
        assert etags == {k: hashlib.md5(v).hexdigest() for k, v in bodies.items()}

        got = s3.get_many(keys)
        assert [o.key for o in got] == keys
        for obj in got:
            assert obj.blob == bodies[obj.key], obj.key
        assert len({o.path for o in got}) == 2000

        assert [o.size for o in s3.info_many(keys)] == [len(bodies[k]) for k in keys]
        assert {o.key: o.size for o in s3.list_recursive()} == {
            k: len(v) for k, v in bodies.items()
        }
        again = s3.get_recursive(["d3"])
        # Keys are relative to the requested prefix, as in metaflow.
        assert {o.prefix for o in again} == {f"{root}/d3"}
        assert {f"d3/{o.key}": o.blob for o in again} == {
            k: v for k, v in bodies.items() if k[1] == "3"
        }
        assert s3.put_many(list(bodies.items()), overwrite=False) == []


@pytest.mark.slow
def test_get_many_of_10000_keys(s3backend: Backend) -> None:
    keys = [f"k/{i % 100:02d}/{i:05d}" for i in range(10_000)]
    with S3(s3root=s3backend.root("tenk")) as s3:
        written = s3.put_many([(k, f"body of {k}") for k in keys])
        assert len(written) == 10_000
        got = s3.get_many(keys)
        assert len(got) == 10_000
        bad = [o.key for o, k in zip(got, keys) if o.key != k or o.text != f"body of {k}"]
        assert bad == []


def test_a_key_with_a_newline(s3backend: Backend) -> None:
    key = "line one\nline two/\r\n\tend"
    with S3(s3root=s3backend.root()) as s3:
        s3.put(key, b"newline")
        assert s3.get(key).blob == b"newline"
        assert [o.key for o in s3.list_recursive()] == [key]
    assert _boto_get(s3backend, key) == b"newline"

"""Downloads of objects another tool uploaded in parts are checked part by part.

Such objects have a composite CRC32 (``"<b64>-N"``) or a multipart ETag
(``"<md5>-N"``) and no whole-object checksum (``s3op/parts.py``). Both sizes
are covered: under the multipart threshold (one GET, digested as it streams)
and over it (ranged GETs, then the assembled file digested in a worker).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

import pytest

from s3client import S3, S3TransientError
from s3op.retry import RetryPolicy, most_attempts
from tests.faults.conftest import Target, part_files
from tests.faults.proxy import Fault

MiB = 1024 * 1024
#: key -> part sizes; "small" ones are under the default 32 MiB multipart threshold.
OBJECTS = {
    "crc-small": [5 * MiB, 6 * MiB, 1000],
    "crc-big": [7 * MiB] * 5 + [123],
    "etag-small": [5 * MiB, 5 * MiB + 7, 3],
    "etag-big": [9 * MiB] * 4 + [5],
}


def upload_in_parts(client: Any, bucket: str, key: str, sizes: List[int], crc32: bool) -> bytes:
    """What another tool does: a multipart upload, with per-part CRC32s or none."""
    extra = {"ChecksumAlgorithm": "CRC32"} if crc32 else {}
    upload = client.create_multipart_upload(Bucket=bucket, Key=key, **extra)
    data, parts = b"", []
    for number, size in enumerate(sizes, start=1):
        body = os.urandom(size)
        data += body
        sent = client.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=body,
            **extra,
        )
        part: Dict[str, Any] = {"PartNumber": number, "ETag": sent["ETag"]}
        if crc32:
            part["ChecksumCRC32"] = sent["ChecksumCRC32"]
        parts.append(part)
    client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    return data


@pytest.fixture
def multipart_objects(seaweed_target: Target) -> Dict[str, bytes]:
    client = seaweed_target.direct()
    out = {}
    for key, sizes in OBJECTS.items():
        out[key] = upload_in_parts(client, seaweed_target.bucket, key, sizes, key.startswith("crc"))
    head = client.head_object(Bucket=seaweed_target.bucket, Key="crc-small", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"].endswith("-3")  # what the check is for
    assert client.head_object(Bucket=seaweed_target.bucket, Key="etag-small")["ETag"].endswith(
        '-3"'
    )
    return out


def not_attributes(method: str, target: str, headers: Any) -> bool:
    return "attributes" not in target


def attribute_requests(target: Target) -> List[str]:
    return [r.target for r in target.proxy.log() if "attributes" in r.target]


def test_multipart_objects_download_and_are_checked(
    seaweed_target: Target, multipart_objects: Dict[str, bytes]
) -> None:
    with S3(s3root=seaweed_target.url()) as s3:
        got = s3.get_many(list(OBJECTS))
        for obj in got:
            with open(obj.path, "rb") as f:
                assert f.read() == multipart_objects[obj.key], obj.key
    asked = attribute_requests(seaweed_target)
    for key in OBJECTS:
        assert any(f"/{key}?" in t for t in asked), f"{key}: its parts were never asked for"


@pytest.mark.parametrize("key", sorted(OBJECTS))
def test_a_damaged_body_of_a_multipart_object_is_caught(
    seaweed_target: Target, multipart_objects: Dict[str, bytes], tmp_path: Path, key: str
) -> None:
    # Every object body is damaged (one byte), every attempt; the attributes are not.
    seaweed_target.proxy.set_mode(
        Fault("flip", rate=1.0, direction="response", match=not_attributes)
    )
    dest = tmp_path / "dest"
    dest.mkdir()
    with S3(s3root=seaweed_target.url(), retries=2) as s3:
        with pytest.raises(S3TransientError) as caught:
            s3.get_many([key])
        message = str(caught.value)
        assert "mismatch" in message, message
        kind = "composite CRC32" if key.startswith("crc") else "multipart ETag"
        assert kind in message, message
    assert seaweed_target.proxy.counts().get("flip.response", 0) >= 1
    assert part_files(tmp_path) == []


def test_damaged_first_attempts_are_fetched_again_and_end_right(
    seaweed_target: Target, multipart_objects: Dict[str, bytes]
) -> None:
    # The first answer to every object GET (each range of a big one) is damaged.
    seen: Set[Tuple[str, str]] = set()
    lock = threading.Lock()

    def first_time(method: str, target: str, headers: Any) -> bool:
        if "attributes" in target:
            return False
        wanted = (target, str(headers.get("range") or headers.get("Range") or ""))
        with lock:
            new = wanted not in seen
            seen.add(wanted)
        return new

    seaweed_target.proxy.set_mode(Fault("flip", rate=1.0, direction="response", match=first_time))
    with S3(s3root=seaweed_target.url()) as s3:
        for obj in s3.get_many(list(OBJECTS)):
            with open(obj.path, "rb") as f:
                assert f.read() == multipart_objects[obj.key], obj.key
    assert seaweed_target.proxy.counts().get("flip.response", 0) >= len(OBJECTS)


def only_attributes(method: str, target: str, headers: Any) -> bool:
    return "attributes" in target


@pytest.mark.parametrize("status, code", [(503, "SlowDown"), (403, "AccessDenied")])
def test_parts_that_cannot_be_had_leave_the_download_as_it_was(
    seaweed_target: Target, multipart_objects: Dict[str, bytes], status: int, code: str
) -> None:
    # Checked by size (and If-Match) only, as before parts checks: never failed for it.
    seaweed_target.proxy.set_mode(Fault("error", status=status, code=code, match=only_attributes))
    with S3(s3root=seaweed_target.url(), retries=2) as s3:
        for key in OBJECTS:  # one after another: a refusal is known before the next
            obj = s3.get(key)
            with open(obj.path, "rb") as f:
                assert f.read() == multipart_objects[obj.key], obj.key
    asked = attribute_requests(seaweed_target)
    if code == "AccessDenied":  # a refusal is remembered per bucket and kind of check
        assert len(asked) == 2, asked
    else:  # retried, then given up on, per object (a SlowDown counts half an attempt)
        per_object = most_attempts(RetryPolicy(max_attempts=2), throttled=True)
        assert per_object == 4 and len(asked) == per_object * len(OBJECTS), asked

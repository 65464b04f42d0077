"""Multipart upload parts under damage: sent with their CRC32 alone, never accepted
damaged, and the upload ends with the file's bytes (``s3op.ops.upload_check``).

- SeaweedFS checks a part's ``x-amz-checksum-crc32`` and refuses a body the
  proxy damaged (400 BadDigest); no part goes with ``Content-MD5``.
- With the part's checksum headers stripped by the proxy, SeaweedFS stores the
  damaged part and echoes its CRC32: ours is the only check left, and it holds.
- moto checks no CRC32 and echoes none: each part is checked by its ETag's MD5,
  and once the bucket is known silent, parts go with ``Content-MD5`` too.
- Single PUTs (files under the multipart threshold) follow the same rule.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.faults.conftest import MiB, Target, figure, run_s3op, write_manifest

pytestmark = pytest.mark.faults

SIZE = 40 * MiB
PART = 8 * MiB  # the most a part may be: 8 parts of 5 MiB (s3op.upload_split)
FLAGS = ["--part-size", str(PART), "--multipart-threshold", str(2 * PART)]


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "big"
    path.write_bytes(random.Random(SIZE).randbytes(SIZE))
    return path


def _part_number(method: str, target: str) -> int:
    """The part number of an UploadPart request (0: not one)."""
    query = parse_qs(urlsplit(target).query)
    return int(query["partNumber"][0]) if method == "PUT" and "partNumber" in query else 0


class PartHeads:
    """A proxy ``match``: records each part's request headers (lower-case names),
    drops the headers named in ``strip``, and lets the fault hit the first
    attempt of the parts numbered in ``hit`` (with ``rate=1``: exactly those)."""

    def __init__(self, hit: Set[int], strip: Tuple[str, ...] = ()) -> None:
        self.hit, self.strip = hit, strip
        self.heads: List[Dict[str, str]] = []
        self.seen: Set[int] = set()

    def __call__(self, method: str, target: str, head: Any) -> bool:
        number = _part_number(method, target)
        if not number:
            return False
        self.heads.append({k.lower(): v for k, v in head.headers})
        head.headers = [(k, v) for k, v in head.headers if k.lower() not in self.strip]
        first = number not in self.seen
        self.seen.add(number)
        return first and number in self.hit


def _stored_sha256(target: Target, key: str) -> str:
    body = target.direct().get_object(Bucket=target.bucket, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def _flipped_parts(target: Target) -> List[Any]:
    return [r for r in target.proxy.log() if r.injected == "flip.request"]


def test_damaged_parts_are_refused_by_their_crc32_and_the_upload_ends_right(
    seaweed_target: Target, tmp_path: Path
) -> None:
    target, path = seaweed_target, _file(tmp_path)
    heads = PartHeads(hit={1, 3, 5})
    target.proxy.set_mode("flip", direction="request", match=heads)
    run = run_s3op("put", str(path), target.url("big"), *FLAGS, timeout=300)
    flipped = _flipped_parts(target)
    figure(
        "upload CRC32 (SeaweedFS)",
        f"exit {run.code}; {len(flipped)} of {len(heads.heads)} part bodies flipped, "
        f"answered {sorted({r.status for r in flipped})}",
    )
    assert run.code == 0, run.stderr[-2000:]
    assert len(flipped) == 3 and all(
        r.status == 400 for r in flipped
    )  # BadDigest: the server's check
    assert all("x-amz-checksum-crc32" in h and "content-md5" not in h for h in heads.heads)
    assert _stored_sha256(target, "big") == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_damaged_part_the_server_stored_is_caught_by_its_crc32_echo(
    seaweed_target: Target, tmp_path: Path
) -> None:
    target, path = seaweed_target, _file(tmp_path)
    strip = ("x-amz-checksum-crc32", "content-md5")
    every_part = PartHeads(hit={1, 2, 3, 4, 5}, strip=strip)
    target.proxy.set_mode("flip", direction="request", match=every_part)
    every = run_s3op("put", str(path), target.url("big"), *FLAGS, "--retries", "1")
    assert every.code != 0
    (result,) = every.results
    assert result.error is not None and result.error.kind.value == "corrupt"
    assert "CRC32" in result.error.message  # the echo, not an ETag, caught it
    assert target.keys() == []  # never completed (aborted)

    target.proxy.reset_counts()
    target.proxy.set_mode("flip", direction="request", match=PartHeads(hit={2, 4}, strip=strip))
    some = run_s3op("put", str(path), target.url("big"), *FLAGS, timeout=300)
    flipped = _flipped_parts(target)
    figure(
        "upload CRC32 echo (SeaweedFS, checksums stripped)",
        f"every part flipped: exit {every.code} {result.error.message!r}; parts 2 and 4 "
        f"flipped: exit {some.code}, answered {sorted({r.status for r in flipped})}",
    )
    assert some.code == 0, some.stderr[-2000:]
    assert len(flipped) == 2 and all(r.status == 200 for r in flipped)  # stored damaged
    assert _stored_sha256(target, "big") == hashlib.sha256(path.read_bytes()).hexdigest()


def test_moto_echoes_no_crc32_so_parts_are_checked_by_md5(
    moto_target: Target, tmp_path: Path
) -> None:
    target, path = moto_target, _file(tmp_path)
    heads = PartHeads(hit={1, 3})  # part 1 goes with no Content-MD5, part 3 with one
    target.proxy.set_mode("flip", direction="request", match=heads)
    one_at_a_time = ["--threads", "1", "--num-workers", "0"]
    run = run_s3op("put", str(path), target.url("big"), *FLAGS, *one_at_a_time, timeout=300)
    flipped = _flipped_parts(target)
    md5s = ["content-md5" in h for h in heads.heads]
    figure(
        "upload CRC32 (moto, no echo)",
        f"exit {run.code}; {len(flipped)} of {len(heads.heads)} part bodies flipped; "
        f"answered {sorted({r.status for r in flipped})}; Content-MD5 sent: {md5s}",
    )
    assert run.code == 0, run.stderr[-2000:]
    assert len(flipped) == 2  # moto takes them: only our MD5 check can refuse them
    assert md5s[0] is False and all(md5s[1:])  # learnt from the first answer
    assert _stored_sha256(target, "big") == hashlib.sha256(path.read_bytes()).hexdigest()


class SinglePuts(PartHeads):
    """``PartHeads`` for single PUTs: ``hit`` holds the keys whose first PUT is hit."""

    def __init__(self, hit: Set[str]) -> None:
        super().__init__(set())
        self.keys = hit
        self.seen_keys: Set[str] = set()

    def __call__(self, method: str, target: str, head: Any) -> bool:
        single = method == "PUT" and "?" not in target and head.get("x-amz-copy-source") is None
        if not single or target.count("/") < 2:
            return False
        self.heads.append({k.lower(): v for k, v in head.headers})
        key = target.rsplit("/", 1)[1]
        first = key not in self.seen_keys
        self.seen_keys.add(key)
        return first and key in self.keys


def test_single_puts_follow_the_same_rule(target: Target, tmp_path: Path) -> None:
    rng = random.Random(7)
    sizes = {"s1": 200 * 1024, "s2": 3 * MiB, "s3": 5 * MiB + 3, "s4": 300 * 1024}
    rows = []
    for i, (key, size) in enumerate(sizes.items()):
        (tmp_path / key).write_bytes(rng.randbytes(size))
        rows.append({"idx": i, "url": target.url(key), "local": str(tmp_path / key)})
    manifest = write_manifest(tmp_path / "m.jsonl", rows)
    heads = SinglePuts(hit={"s1", "s3"})  # one in memory, one streamed from the file
    target.proxy.set_mode("flip", direction="request", match=heads)
    run = run_s3op("put", "--inputs", manifest, "--threads", "1", "--num-workers", "0")
    flipped = _flipped_parts(target)
    md5s = ["content-md5" in h for h in heads.heads]
    figure(
        f"upload CRC32, single PUTs ({target.name})",
        f"exit {run.code}; {len(flipped)} of {len(heads.heads)} PUT bodies flipped, answered "
        f"{sorted({r.status for r in flipped})}; Content-MD5 sent: {md5s}",
    )
    assert run.code == 0, run.stderr[-2000:]
    assert len(flipped) == 2
    if target.name == "seaweedfs":  # it checks the CRC32 and echoes it
        assert not any(md5s) and all(r.status == 400 for r in flipped)
    else:  # moto stores the flipped bodies: our MD5 check refuses them
        assert md5s[0] is False and all(md5s[1:]) and all(r.status == 200 for r in flipped)
    for key in sizes:
        want = hashlib.sha256((tmp_path / key).read_bytes()).hexdigest()
        assert _stored_sha256(target, key) == want

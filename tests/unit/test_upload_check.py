"""How an upload part is checked (``s3op.ops.upload_check``, ``upload_parts``), on a
stubbed transport: its CRC32 goes alone (no MD5 taken); an echoed CRC32 that
differs is corrupt and the part retried; a server that echoes none is checked by
the ETag's MD5 (the part read again), and is remembered per bucket so later parts
go with ``Content-MD5`` and are checked without a second read.
Real servers: tests/faults/test_upload_crc32.py."""

from __future__ import annotations

import base64
import hashlib
import zlib
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from s3op.checksum import crc32_b64, file_crc32
from s3op.errors import OpError
from s3op.jobs import PartDone, PartFailed, PutJob, Settings, UploadPartJob
from s3op.ops import OpContext, put, upload_check, upload_parts
from s3op.protocol import ErrorKind, PutRequest, Result
from s3op.retry import RetryPolicy

DATA = bytes(range(256)) * 5000 + b"tail"  # 1.2 MiB: more than one read block
WRONG = crc32_b64(zlib.crc32(b"not the part"))


class Server:
    """``upload_part`` answers as a server would: ETag the MD5 of the bytes read,
    and (``echo``) their CRC32; ``wrong_crc`` / ``wrong_etag`` answers go first."""

    batches_gets = True

    def __init__(self, echo: bool, wrong_crc: int = 0, wrong_etag: int = 0) -> None:
        self.echo, self.wrong_crc, self.wrong_etag = echo, wrong_crc, wrong_etag
        self.sent: List[Dict[str, Any]] = []

    def upload_part(self, *, Body: Any, **args: Any) -> Dict[str, str]:
        data = Body if isinstance(Body, bytes) else Body.read()
        self.sent.append({**args, "data": data})
        answer = {"ETag": f'"{hashlib.md5(data).hexdigest()}"'}
        if self.wrong_etag:
            self.wrong_etag -= 1
            answer["ETag"] = f'"{hashlib.md5(b"other").hexdigest()}"'
        if self.echo:
            answer["ChecksumCRC32"] = crc32_b64(zlib.crc32(data))
            if self.wrong_crc:
                self.wrong_crc -= 1
                answer["ChecksumCRC32"] = WRONG
        return answer

    put_object = upload_part  # a single PUT is answered the same way


@pytest.fixture(autouse=True)
def no_silent_buckets() -> Iterator[None]:
    upload_check.forget()
    yield
    upload_check.forget()


@pytest.fixture
def md5_reads(monkeypatch: pytest.MonkeyPatch) -> List[Tuple[int, int]]:
    """Every (offset, length) a part's MD5 was read for."""
    seen: List[Tuple[int, int]] = []
    real = put.part_digests

    def spy(path: str, offset: int, length: int) -> Any:
        seen.append((offset, length))
        return real(path, offset, length)

    monkeypatch.setattr(put, "part_digests", spy)
    return seen


def _upload(tmp_path: Path, server: Server, bucket: str = "bkt", number: int = 1) -> Any:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    ctx = OpContext(server, RetryPolicy(max_attempts=3, base=0.0), Settings())  # type: ignore[arg-type]
    job = UploadPartJob(0, f"s3://{bucket}/k", "up", number, str(path), 1000, 700_000)
    return upload_parts.run_upload_part(ctx, job)


def _crc() -> int:
    return zlib.crc32(DATA[1000:701_000])


def test_a_part_goes_with_its_crc32_alone_and_no_md5_is_taken(
    tmp_path: Path, md5_reads: List[Tuple[int, int]]
) -> None:
    server = Server(echo=True)
    done = _upload(tmp_path, server)
    assert isinstance(done, PartDone) and done.crc32 == _crc() and done.attempts == 1
    (sent,) = server.sent
    assert sent["ChecksumCRC32"] == crc32_b64(_crc())
    assert sent["ContentMD5"] is None
    assert sent["data"] == DATA[1000:701_000]
    assert md5_reads == []
    assert not upload_check.wants_md5("bkt")


def test_an_echoed_crc32_that_differs_is_corrupt_and_the_part_is_sent_again(
    tmp_path: Path,
) -> None:
    done = _upload(tmp_path, Server(echo=True, wrong_crc=1))
    assert isinstance(done, PartDone) and done.attempts == 2
    failed = _upload(tmp_path, Server(echo=True, wrong_crc=3))
    assert isinstance(failed, PartFailed)
    assert failed.result.error is not None and failed.result.error is not None
    assert failed.result.error.kind is ErrorKind.CORRUPT
    assert failed.result.attempts == 3


def test_an_echoed_crc32_is_the_check_whatever_the_etag(tmp_path: Path) -> None:
    # the server's CRC32 of what it stored is ours: an ETag that is no MD5 is fine
    done = _upload(tmp_path, Server(echo=True, wrong_etag=1))
    assert isinstance(done, PartDone) and done.attempts == 1


def test_no_echo_the_part_is_read_again_and_its_md5_checked_against_the_etag(
    tmp_path: Path, md5_reads: List[Tuple[int, int]]
) -> None:
    server = Server(echo=False, wrong_etag=1)
    done = _upload(tmp_path, server)
    assert isinstance(done, PartDone) and done.attempts == 2  # the wrong ETag: retried
    assert md5_reads == [(1000, 700_000), (1000, 700_000)]  # read again each attempt
    assert [s["ContentMD5"] for s in server.sent] == [None, _b64_md5()]
    assert upload_check.wants_md5("bkt")


def test_a_bucket_found_silent_gets_content_md5_and_no_second_read(
    tmp_path: Path, md5_reads: List[Tuple[int, int]]
) -> None:
    server = Server(echo=False)
    assert isinstance(_upload(tmp_path, server, number=1), PartDone)
    assert isinstance(_upload(tmp_path, server, number=2), PartDone)
    assert [s["ContentMD5"] for s in server.sent] == [None, _b64_md5()]
    assert [s["ChecksumCRC32"] for s in server.sent] == [crc32_b64(_crc())] * 2
    assert md5_reads == [(1000, 700_000)] * 2  # the re-read, then the one pass
    failed = _upload(tmp_path, Server(echo=False, wrong_etag=3), number=3)
    assert isinstance(failed, PartFailed) and failed.result.error is not None
    assert failed.result.error.kind is ErrorKind.CORRUPT
    assert len(md5_reads) == 2 + 3  # one pass per attempt, never a second read


def test_silence_is_remembered_per_bucket(tmp_path: Path) -> None:
    _upload(tmp_path, Server(echo=False), bucket="quiet")
    server = Server(echo=True)
    _upload(tmp_path, server, bucket="loud")
    assert server.sent[0]["ContentMD5"] is None
    assert upload_check.wants_md5("quiet") and not upload_check.wants_md5("loud")


def test_a_composite_crc32_is_no_echo() -> None:
    answer = {"ChecksumCRC32": "AAAAAA==-3", "ETag": '"' + "0" * 32 + '"'}
    digests = upload_check.memory_digests("bkt", b"x")
    with pytest.raises(OpError) as caught:
        digests.verify(answer)
    assert caught.value.kind is ErrorKind.CORRUPT and "MD5" in str(caught.value)
    assert upload_check.wants_md5("bkt")


@pytest.mark.parametrize(
    "offset, length", [(0, len(DATA)), (0, 1), (1 << 20, 100), (7, len(DATA) - 7), (5, 0)]
)
def test_file_crc32_is_the_crc32_of_the_slice(tmp_path: Path, offset: int, length: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    assert file_crc32(str(path), offset, length) == zlib.crc32(DATA[offset : offset + length])


@pytest.mark.parametrize("offset", [0, 7, len(DATA)])
def test_file_crc32_without_a_length_reads_to_the_end(tmp_path: Path, offset: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    assert file_crc32(str(path), offset) == zlib.crc32(DATA[offset:])


def _b64_md5() -> str:
    return base64.b64encode(hashlib.md5(DATA[1000:701_000]).digest()).decode()


# ------------------------------------------------------------ single PUTs


def _put(tmp_path: Path, server: Server, size: int) -> Result:
    path = tmp_path / f"s{size}"
    path.write_bytes(DATA[:size])
    ctx = OpContext(server, RetryPolicy(max_attempts=3, base=0.0), Settings())  # type: ignore[arg-type]
    out = put.run_put(ctx, PutJob(PutRequest(0, "s3://bkt/k", str(path))))
    assert isinstance(out, Result)
    return out


@pytest.mark.parametrize("size", [5000, put.SMALL_BODY + 1])  # in memory, and streamed
def test_a_single_put_follows_the_same_rule(tmp_path: Path, size: int) -> None:
    crc, md5 = crc32_b64(zlib.crc32(DATA[:size])), hashlib.md5(DATA[:size]).digest()
    loud = Server(echo=True, wrong_crc=1)
    assert _put(tmp_path, loud, size).attempts == 2  # a wrong echo: corrupt, sent again
    assert [(s["ChecksumCRC32"], s["ContentMD5"]) for s in loud.sent] == [(crc, None)] * 2
    quiet = Server(echo=False, wrong_etag=1)
    assert _put(tmp_path, quiet, size).attempts == 2  # no echo: the ETag's MD5 is the check
    assert _put(tmp_path, quiet, size).attempts == 1
    md5s = [s["ContentMD5"] for s in quiet.sent]
    assert md5s == [None, base64.b64encode(md5).decode(), base64.b64encode(md5).decode()]
    assert all(s["data"] == DATA[:size] for s in loud.sent + quiet.sent)

"""What a small whole-object GET is checked against (``s3op.ops.get._whole_check``).

The server's full-object CRC32 is the check when it gave one; the ETag's
MD5 only when it did not. Scripted answers, each with its own body.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from s3op.bodies import FastBody
from s3op.checksum import crc32, crc32_b64, crc32_from_b64
from s3op.jobs import GetJob, Settings
from s3op.ops import OpContext
from s3op.ops.get import run_get
from s3op.protocol import ErrorKind, GetRequest, Result
from s3op.retry import RetryPolicy

DATA = os.urandom(10_240)
DAMAGED = DATA[:5000] + bytes([DATA[5000] ^ 0x01]) + DATA[5001:]


class Answers:
    """A transport whose ``get_object`` answers ``body`` with the given headers."""

    batches_gets = False

    def __init__(self, body: bytes, crc: Optional[str], etag: str) -> None:
        self.body, self.crc, self.etag = body, crc, etag
        self.calls = 0

    def get_object(self, **kwargs: Any) -> Dict[str, Any]:
        self.calls += 1
        answer: Dict[str, Any] = {"ContentLength": len(self.body), "ETag": self.etag}
        if self.crc is not None:
            answer["ChecksumCRC32"] = self.crc
        answer["Body"] = FastBody(io.BytesIO(self.body), crc32_from_b64(self.crc))
        return answer


def _get(transport: Answers, tmp_path: Path) -> Result:
    policy = RetryPolicy(max_attempts=2, base=0.001, cap=0.001)
    ctx = OpContext(transport, policy, Settings(tmp_tag="wholecheck"))  # type: ignore[arg-type]
    out = run_get(ctx, GetJob(GetRequest(idx=0, url="s3://bkt/k"), str(tmp_path / "f")))
    assert isinstance(out, Result)
    return out


def _left(tmp_path: Path) -> List[str]:
    return sorted(p.name for p in tmp_path.iterdir())


MD5 = f'"{hashlib.md5(DATA).hexdigest()}"'
OTHER_MD5 = f'"{hashlib.md5(b"something else").hexdigest()}"'
CRC = crc32_b64(crc32(DATA))


def test_a_crc32_is_the_check_and_the_etag_md5_is_not_computed(tmp_path: Path) -> None:
    """The ETag here is not the body's MD5: with a CRC32 that matches, it is not read."""
    out = _get(Answers(DATA, CRC, OTHER_MD5), tmp_path)
    assert out.error is None and (tmp_path / "f").read_bytes() == DATA


@pytest.mark.parametrize("crc", [CRC, None], ids=["crc32", "md5-only"])
def test_a_damaged_body_is_corrupt_whichever_the_check(tmp_path: Path, crc: Optional[str]) -> None:
    transport = Answers(DAMAGED, crc, MD5)
    out = _get(transport, tmp_path)
    assert out.error is not None and out.error.kind is ErrorKind.CORRUPT
    assert transport.calls == 2  # retried once, then given up
    assert _left(tmp_path) == []  # nothing renamed into place, no temp file


def test_without_a_crc32_the_etag_md5_is_checked(tmp_path: Path) -> None:
    out = _get(Answers(DATA, None, OTHER_MD5), tmp_path)
    assert out.error is not None and out.error.kind is ErrorKind.CORRUPT
    assert _get(Answers(DATA, None, MD5), tmp_path).error is None

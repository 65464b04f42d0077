"""The digests of an upload's parts (``s3op.ops.put``): right for any slice of a
file, read through one reusable buffer, and never more parts hashed at once than
there are slots (one per CPU), so the first parts go out while the rest wait."""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from pathlib import Path
from typing import Any, List, Tuple

import pytest

from s3op.ops import put

DATA = bytes(range(256)) * 9000 + b"end"  # 2.2 MiB: more than one read block


@pytest.mark.parametrize(
    "offset, length",
    [(0, len(DATA)), (0, 1), (1 << 20, 1 << 20), (123, len(DATA) - 123), (len(DATA) - 3, 3)],
)
def test_a_slice_has_the_md5_and_crc32_of_its_bytes(
    tmp_path: Path, offset: int, length: int
) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    for digests in (put.file_digests, put.part_digests):
        md5, crc = digests(str(path), offset, length)
        want = DATA[offset : offset + length]
        assert md5.hexdigest() == hashlib.md5(want).hexdigest()
        assert crc == zlib.crc32(want)


def test_a_file_shorter_than_asked_digests_what_there_is(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA[:1000])
    md5, crc = put.file_digests(str(path), 500, 2000)
    assert (md5.hexdigest(), crc) == (
        hashlib.md5(DATA[500:1000]).hexdigest(),
        zlib.crc32(DATA[500:1000]),
    )


def test_a_missing_file_raises_as_open_does(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        put.part_digests(str(tmp_path / "gone"), 0, 10)


def test_parts_take_turns_one_slot_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(put, "_DIGEST_SLOTS", threading.BoundedSemaphore(2))
    lock = threading.Lock()
    running: List[int] = [0]
    most: List[int] = [0]

    def slow(path: str, offset: int, length: int) -> Tuple[Any, int]:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return hashlib.md5(), offset

    monkeypatch.setattr(put, "file_digests", slow)
    out: List[int] = []
    threads = [
        threading.Thread(target=lambda n=n: out.append(put.part_digests("p", n, 1)[1]))
        for n in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) == list(range(8))
    assert most[0] == 2

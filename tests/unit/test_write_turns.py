"""The parts of one download take turns to write into its file (``ops.save.WriteTurns``).

Real threads and real files; only ``os.pwrite`` is wrapped, to see who is inside it.
"""

from __future__ import annotations

import io
import os
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

from s3op.ops import save
from s3op.ops.get import CHUNK, _write_at
from s3op.retry import Deadline


class Inside:
    """Wraps ``os.pwrite``: counts the threads inside it, per file and in all."""

    def __init__(self, real: Callable[..., int], hold: Callable[[], None]) -> None:
        self.real, self.hold = real, hold
        self.lock = threading.Lock()
        self.now: Dict[int, int] = {}
        self.most_per_file = 0
        self.most = 0

    def __call__(self, fd: int, data: Any, offset: int) -> int:
        inode = os.fstat(fd).st_ino
        with self.lock:
            self.now[inode] = self.now.get(inode, 0) + 1
            self.most_per_file = max(self.most_per_file, self.now[inode])
            self.most = max(self.most, sum(self.now.values()))
        try:
            self.hold()
            return self.real(fd, data, offset)
        finally:
            with self.lock:
                self.now[inode] -= 1


def run_threads(targets: List[Callable[[], None]]) -> None:
    errors: List[BaseException] = []

    def run(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def part(n: int) -> bytes:
    return bytes([65 + n]) * (2 * CHUNK + 7)  # three writes each


def test_parts_of_one_file_never_write_at_once_and_all_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Inside(os.pwrite, lambda: time.sleep(0.002))
    monkeypatch.setattr(os, "pwrite", spy)
    parts = [part(n) for n in range(8)]
    size = len(parts[0])
    target = tmp_path / "big.part"
    target.write_bytes(b"\0" * size * len(parts))
    crcs: Dict[int, Any] = {}

    def writer(n: int) -> Callable[[], None]:
        def write() -> None:
            crcs[n] = _write_at(io.BytesIO(parts[n]), str(target), n * size, Deadline(60))

        return write

    run_threads([writer(n) for n in range(len(parts))])
    assert spy.most_per_file == 1
    assert target.read_bytes() == b"".join(parts)
    assert crcs == {n: (size, zlib.crc32(parts[n])) for n in range(len(parts))}
    assert save.write_turns()._locks == {}  # nothing kept once the writers are done


def test_two_files_are_written_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    both_inside = threading.Barrier(2, timeout=10)  # broken if the lock were one for all
    spy = Inside(os.pwrite, lambda: both_inside.wait())
    monkeypatch.setattr(os, "pwrite", spy)
    targets = [tmp_path / "a.part", tmp_path / "b.part"]
    for t in targets:
        t.write_bytes(b"\0" * 10)
    run_threads(
        [
            lambda t=t: _write_at(io.BytesIO(b"x" * 10), str(t), 0, Deadline(60))  # type: ignore
            for t in targets
        ]
    )
    assert spy.most == 2 and all(t.read_bytes() == b"x" * 10 for t in targets)


class Broken(io.BytesIO):
    def readinto(self, buf: Any) -> int:
        if self.tell():
            raise ConnectionResetError("cut")
        return super().readinto(memoryview(buf)[:5])


def test_a_failed_part_gives_up_its_turn(tmp_path: Path) -> None:
    target = tmp_path / "big.part"
    target.write_bytes(b"." * 20)
    with pytest.raises(ConnectionResetError):
        _write_at(Broken(b"abcdefghij"), str(target), 0, Deadline(60))
    assert save.write_turns()._locks == {}
    done: List[Any] = []
    again = io.BytesIO(b"z" * 5)
    run_threads([lambda: done.append(_write_at(again, str(target), 10, Deadline(1)))])
    assert done == [(5, zlib.crc32(b"z" * 5))]
    assert target.read_bytes() == b"abcde....." + b"zzzzz....."

"""``s3op.paths.make_room``: a large download's temp file, sized before its parts arrive.

Disk filesystems get ``posix_fallocate`` (blocks reserved); tmpfs and ramfs
get a sparse file after a free-space check, because reserving there means
zeroing every page before the first range is asked for. The filesystem
type is checked against coreutils' ``stat -f``, not against our own code.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from typing import Iterator, Optional

import pytest

from s3op.paths import make_room, memory_backed

MiB = 1 << 20


def fs_type(path: str) -> Optional[str]:
    if shutil.which("stat") is None:
        return None
    done = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def _dir_on(kinds: set, want: bool) -> Optional[str]:
    """A writable directory whose filesystem is (or is not) one of ``kinds``."""
    for candidate in ("/dev/shm", f"/run/user/{os.getuid()}", "/tmp", os.getcwd(), "/var/tmp"):
        if os.path.isdir(candidate) and os.access(candidate, os.W_OK):
            kind = fs_type(candidate)
            if kind is not None and (kind in kinds) == want:
                return candidate
    return None


MEMORY = {"tmpfs", "ramfs"}


def _scratch(memory: bool) -> Iterator[str]:
    base = _dir_on(MEMORY, memory)
    if base is None:
        pytest.skip("no writable tmpfs here" if memory else "no writable disk filesystem here")
    d = os.path.join(base, f"s3op-make-room-{os.getpid()}-{int(memory)}")
    os.mkdir(d)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def on_tmpfs() -> Iterator[str]:
    yield from _scratch(memory=True)


@pytest.fixture
def on_disk() -> Iterator[str]:
    yield from _scratch(memory=False)


@contextlib.contextmanager
def new_file(directory: str, name: str) -> Iterator[int]:
    fd = os.open(os.path.join(directory, name), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        yield fd
    finally:
        os.close(fd)


def test_memory_backed_agrees_with_stat(on_tmpfs: str, on_disk: str) -> None:
    for directory, expected in ((on_tmpfs, True), (on_disk, False)):
        fd = os.open(directory, os.O_RDONLY)
        try:
            assert memory_backed(fd) is expected, (directory, fs_type(directory))
        finally:
            os.close(fd)


def test_on_tmpfs_the_file_is_sized_but_takes_no_pages(on_tmpfs: str) -> None:
    with new_file(on_tmpfs, "big.part") as fd:
        assert make_room(fd, 64 * MiB) == os.fstat(fd).st_dev
        st = os.fstat(fd)
        assert st.st_size == 64 * MiB
        assert st.st_blocks == 0  # sparse: the parts' writes allocate the pages
        os.pwrite(fd, b"x" * 4096, 32 * MiB)
        assert os.pread(fd, 4, 32 * MiB) == b"xxxx"
        assert os.pread(fd, 4, 0) == b"\0\0\0\0"


def test_on_tmpfs_a_file_larger_than_the_free_space_fails_now(on_tmpfs: str) -> None:
    with new_file(on_tmpfs, "huge.part") as fd:
        free = os.fstatvfs(fd)
        with pytest.raises(OSError) as err:
            make_room(fd, free.f_bavail * free.f_frsize + MiB)
        assert err.value.errno == errno.ENOSPC
        st = os.fstat(fd)
        assert (st.st_size, st.st_blocks) == (0, 0)  # refused before taking any page


def test_on_disk_the_blocks_are_reserved(on_disk: str) -> None:
    with new_file(on_disk, "big.part") as fd:
        assert make_room(fd, 8 * MiB) is None
        st = os.fstat(fd)
        assert st.st_size == 8 * MiB
        assert st.st_blocks * 512 >= 8 * MiB


def test_an_empty_object_needs_no_room(on_tmpfs: str) -> None:
    with new_file(on_tmpfs, "empty.part") as fd:
        assert make_room(fd, 0) is None
        assert os.fstat(fd).st_size == 0


def test_on_tmpfs_space_promised_to_other_sparse_files_means_reserving(on_tmpfs: str) -> None:
    with new_file(on_tmpfs, "big.part") as fd:
        free = os.fstatvfs(fd)
        room = free.f_bavail * free.f_frsize
        asked = []

        def promised(dev: int) -> int:
            asked.append(dev)
            return room - 4 * MiB  # others may still take all but 4 MiB

        assert make_room(fd, 8 * MiB, promised) is None  # reserved, not sparse
        st = os.fstat(fd)
        assert asked == [st.st_dev]
        assert st.st_size == 8 * MiB and st.st_blocks * 512 >= 8 * MiB

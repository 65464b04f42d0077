"""Row 11: the local disk fills up while downloading.

Two ways to run out of room: a 4 MiB tmpfs mounted for the test (we are
root here), and ``RLIMIT_FSIZE`` in the engine's process with ``SIGXFSZ``
ignored (writes past the limit fail with EFBIG). Either way the download must
fail at once as ``out_of_disk`` (exit 4 / ``S3InsufficientDiskSpace``), with
one attempt, and leave no partial file.
"""

from __future__ import annotations

import hashlib
import random
import resource
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest

from s3client import S3, S3InsufficientDiskSpace
from s3op.protocol import ErrorKind, Result
from tests.faults.conftest import (
    REPO,
    S3opRun,
    Target,
    figure,
    files_under,
    part_files,
    run_s3op,
    s3op_argv,
    sha256_file,
)

pytestmark = pytest.mark.faults

MiB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (skipped where mounting is not allowed)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _seed(target: Target, sizes: Dict[str, int]) -> Dict[str, str]:
    client = target.direct()
    rng = random.Random(11)
    digests = {}
    for key, size in sizes.items():
        body = rng.randbytes(size)
        client.put_object(Bucket=target.bucket, Key=key, Body=body)
        digests[key] = hashlib.sha256(body).hexdigest()
    return digests


def _check(run: S3opRun, digests: Dict[str, str], dest: Path, label: str) -> None:
    ok = [r for r in run.results if r.ok]
    full = [r for r in run.results if r.error and r.error.kind is ErrorKind.OUT_OF_DISK]
    figure(
        f"row 11 ({label})",
        f"exit {run.code} after {run.seconds:.1f}s: {len(ok)} ok, "
        f"{len(full)} out_of_disk (attempts {sorted({r.attempts or 0 for r in full})}), other "
        f"failures {len(run.results) - len(ok) - len(full)}; files on disk "
        f"{len(files_under(dest))} (= ok), temp files {len(part_files(dest))}",
    )
    assert run.code == 4, run.stderr
    assert full and all(r.attempts == 1 for r in full)
    assert len(ok) + len(full) == len(digests)
    assert part_files(dest) == []
    assert sorted(files_under(dest)) == sorted(str(r.local) for r in ok)
    assert all(sha256_file(str(r.local)) == digests[_key(r)] for r in ok)
    assert run.seconds < 15


def _key(res: Result) -> str:
    return res.url.split("/", 3)[3]


def test_row11_tmpfs_full(seaweed_target: Target, small_disk: Path) -> None:
    """Row 11: 14 MiB of downloads into a 4 MiB tmpfs."""
    sizes = {f"obj/{i}": MiB for i in range(8)} | {"obj/big": 6 * MiB}
    digests = _seed(seaweed_target, sizes)
    run = run_s3op(
        "get",
        *[seaweed_target.url(k) for k in sizes],
        "--destination",
        str(small_disk),
        "--num-workers",
        "0",
        "--threads",
        "4",
        timeout=120,
    )
    _check(run, digests, small_disk, "4 MiB tmpfs")


def test_row11_tmpfs_full_ranged_parts(seaweed_target: Target, small_disk: Path) -> None:
    """Row 11: a 40 MiB object (parallel ranged parts, preallocated) into a 4 MiB tmpfs."""
    digests = _seed(seaweed_target, {"big/0": 40 * MiB})
    run = run_s3op(
        "get", seaweed_target.url("big/0"), "--destination", str(small_disk), timeout=120
    )
    _check(run, digests, small_disk, "4 MiB tmpfs, 40 MiB multipart object")


def test_row11_tmpfs_three_ranged_downloads(seaweed_target: Target, small_disk: Path) -> None:
    """Row 11: three 3 MiB ranged downloads into a 4 MiB tmpfs at once.

    On tmpfs a large download's temp file is left sparse only while the free
    space holds it and the engine's other sparse files (``make_room``); here
    the first is sparse, the second reserved, the third refused at once, so
    one download fits, as when every temp file was reserved.
    """
    digests = _seed(seaweed_target, {f"big/{i}": 3 * MiB for i in range(3)})
    run = run_s3op(
        "get",
        *[seaweed_target.url(f"big/{i}") for i in range(3)],
        "--destination",
        str(small_disk),
        "--multipart-threshold",
        str(MiB),
        "--num-workers",
        "0",
        "--threads",
        "6",
        timeout=120,
    )
    _check(run, digests, small_disk, "4 MiB tmpfs, three 3 MiB ranged downloads")
    assert len([r for r in run.results if r.ok]) == 1


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 * MiB, 2 * MiB))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_row11_file_size_limit(seaweed_target: Target, tmp_path: Path) -> None:
    """Row 11: RLIMIT_FSIZE of 2 MiB in the engine: EFBIG counts as out of disk."""
    sizes = {f"obj/{i}": 512 * 1024 for i in range(4)} | {"obj/big": 3 * MiB}
    digests = _seed(seaweed_target, sizes)
    dest = tmp_path / "dest"
    t0 = time.monotonic()
    proc = subprocess.run(
        s3op_argv(
            "get",
            *[seaweed_target.url(k) for k in sizes],
            "--destination",
            str(dest),
            "--num-workers",
            "0",
        ),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(REPO),
        preexec_fn=_limit_file_size,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    run = S3opRun(
        proc.returncode,
        [Result.from_json(x) for x in lines],
        lines,
        proc.stderr,
        time.monotonic() - t0,
    )
    _check(run, digests, dest, "RLIMIT_FSIZE 2 MiB")


def test_row11_s3client(seaweed_target: Target, small_disk: Path) -> None:
    """Row 11 (S3): get_many into a client whose tmproot is the 4 MiB tmpfs."""
    sizes = {f"obj/{i}": MiB for i in range(8)}
    _seed(seaweed_target, sizes)
    t0 = time.monotonic()
    with S3(s3root=seaweed_target.url(), tmproot=str(small_disk)) as s3:
        with pytest.raises(S3InsufficientDiskSpace) as err:
            s3.get_many(list(sizes))
        seconds = time.monotonic() - t0
        left = files_under(Path(s3._tmpdir))
        temps = part_files(Path(s3._tmpdir))
    figure(
        "row 11 (S3, 4 MiB tmpfs)",
        f"get_many of 8 MiB raised {type(err.value).__name__} "
        f"after {seconds:.1f}s naming {err.value.url}; temp files {len(temps)}, "
        f"complete files kept until close {len(left)}",
    )
    assert err.value.kind is ErrorKind.OUT_OF_DISK
    assert temps == []
    assert seconds < 15
    assert files_under(small_disk) == []

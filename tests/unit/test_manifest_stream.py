"""``ManifestSource``: a manifest checked whole, then read again lazily (issue 18)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterator

import pytest

from s3op.manifest_stream import ManifestSource
from s3op.options import BatchUsageError
from s3op.protocol import InfoRequest, PutRequest

LINES = ['{"url": "s3://b/a"}\n', "\n", '{"url": "s3://b/c", "idx": 2}\n', '{"url": "s3://b/d"}\n']
WANT = [InfoRequest(0, "s3://b/a"), InfoRequest(2, "s3://b/c"), InfoRequest(3, "s3://b/d")]


def test_a_file_is_checked_then_read_again_each_time(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text("".join(LINES))
    with path.open(encoding="utf-8") as stream:
        source = ManifestSource.checked("info", stream)
        assert len(source) == 3
        assert list(source) == WANT
        assert list(source) == WANT  # re-read from the start


@pytest.fixture
def pipe() -> Iterator[io.TextIOWrapper]:
    """The read end of a pipe holding LINES: a stream that cannot seek, as stdin."""
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "w") as writer:
        writer.write("".join(LINES))
    with os.fdopen(read_fd, encoding="utf-8") as reader:
        yield reader


def test_a_stream_that_cannot_seek_is_spooled(pipe: io.TextIOWrapper) -> None:
    assert not pipe.seekable()
    source = ManifestSource.checked("info", pipe)
    assert list(source) == WANT
    source.close()


def test_a_bad_line_is_refused_at_the_check(tmp_path: Path) -> None:
    stream = io.StringIO("".join(LINES) + '{"url": "s3://b/e", "idx": 1}\n')
    with pytest.raises(BatchUsageError, match="line 5: idx 1 is not above idx 3 on line 4"):
        ManifestSource.checked("info", stream)


def test_a_file_that_turns_bad_after_the_check_stops_the_run(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text("".join(LINES))
    with path.open(encoding="utf-8") as stream:
        source = ManifestSource.checked("info", stream)
        path.write_text(LINES[0] + "not json\n")
        reqs = iter(source)
        assert next(reqs) == WANT[0]
        with pytest.raises(BatchUsageError, match="changed while it ran"):
            next(reqs)


def test_a_put_key_given_twice_is_refused_however_far_apart() -> None:
    lines = [f'{{"url": "s3://b/k{i}", "local": "f"}}\n' for i in range(5000)]
    lines.append('{"url": "s3://b/k17", "local": "g"}\n')
    with pytest.raises(BatchUsageError, match="duplicate key in one batch: s3://b/k17"):
        ManifestSource.checked("put", io.StringIO("".join(lines)))
    source = ManifestSource.checked("put", io.StringIO("".join(lines[:-1])))
    assert next(iter(source)) == PutRequest(0, "s3://b/k0", "f")

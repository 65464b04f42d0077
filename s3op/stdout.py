"""The engine's stdout, buffered: one place for the command line and ``s3op serve``.

Its own module so that ``python -m s3op serve`` (``s3op.serve``), which
parses its options without click, need not import ``s3op.cli`` to get it.
"""

from __future__ import annotations

import io
import sys

#: Bytes of result lines buffered between flushes (see ``buffer_stdout``).
STDOUT_BUFFER = 1 << 16


def buffer_stdout() -> None:
    """Make stdout buffered even under ``PYTHONUNBUFFERED`` or ``python -u``.

    ``run_batch`` flushes its results once per wake-up (``LineSink.flush``),
    so every line still leaves as soon as the engine has nothing else to
    do. An unbuffered stdout would add one write syscall per result line
    instead: 10,000 of them for a 10,000-key listing.
    """
    out = sys.stdout
    if not isinstance(out, io.TextIOWrapper):
        return  # replaced by a caller (a test runner, say): theirs to manage
    if isinstance(out.buffer, io.RawIOBase):  # -u: text straight to the file descriptor
        # A raw file of our own: closing the old stream (or its raw file) leaves ours open.
        raw = io.FileIO(out.fileno(), "w", closefd=False)
        sys.stdout = io.TextIOWrapper(
            io.BufferedWriter(raw, STDOUT_BUFFER),
            encoding=out.encoding,
            errors=out.errors,
        )
    elif out.write_through or out.line_buffering:
        out.reconfigure(write_through=False, line_buffering=False)


__all__ = ["STDOUT_BUFFER", "buffer_stdout"]

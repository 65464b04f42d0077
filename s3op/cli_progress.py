"""``s3op``'s batch run with its progress bar and end-of-batch summary on stderr.

``run_reported(command, sink, flag)`` runs the batch as ``run_batch`` does,
with result lines to ``sink`` unchanged; when a bar is wanted
(``progress_sink.wants_progress``) it draws one, and when a summary is
(stderr is a terminal, or ``--progress``) it prints one line at the end:
``s3op get: 2000 done (2000 ok); 20.5 MB in 3.1s (6.6 MB/s); 0 retries``.
The retries there are counted by the retry loop itself, in every worker
(``s3op.retry.tallying_retries``), parts of large objects included.
With neither, the batch runs exactly as without this module.
"""

from __future__ import annotations

import contextlib
import sys
from typing import IO, Any, Callable, Iterator, Optional

from s3op.batch import run_batch
from s3op.cli_batch import BatchCommand
from s3op.progress import ProgressBar, ProgressSnapshot, ProgressTracker, summary_line
from s3op.progress_sink import ProgressSink, counted, wants_progress, wants_summary
from s3op.protocol import ExitCode
from s3op.retry import tallying_retries


def run_reported(
    command: BatchCommand,
    sink: Any,
    flag: Optional[bool],
    stdout: IO[str] = sys.stdout,
    stderr: IO[str] = sys.stderr,
) -> ExitCode:
    """Run ``command``'s batch, results to ``sink``; a bar and a summary on ``stderr``
    as ``flag`` (``--progress``/``--no-progress``, None: auto) and the terminal say."""
    draw = wants_progress(flag, stdout, stderr)
    summary = wants_summary(flag, stderr)
    if not (draw or summary):
        return run_batch(command.op, command.requests, command.options, sink)
    op = command.op
    tracker = ProgressTracker(op)
    requests = counted(op, command.requests, tracker, command.options.recursive)
    with bar_shown(op, draw, stderr) as show, tallying_retries() as retries:
        wrapped = ProgressSink(sink, tracker, show)
        code = run_batch(op, requests, command.options, wrapped)
        wrapped.finish()
    if summary:
        write_summary(op, tracker, stderr, retries())
    return code


@contextlib.contextmanager
def bar_shown(op: str, draw: bool, stderr: IO[str]) -> Iterator[Callable[[ProgressSnapshot], None]]:
    """What shows a snapshot: a bar on ``stderr`` if ``draw`` (closed on exit), else
    nothing (snapshots then only count, for the summary)."""
    if not draw:
        yield _ignore
        return
    bar = ProgressBar(op, stderr)
    try:
        yield bar.show
    finally:
        bar.close()


def write_summary(
    op: str, tracker: ProgressTracker, stderr: IO[str], retries: Optional[int] = None
) -> None:
    """The end-of-batch line on ``stderr``."""
    stderr.write(summary_line(op, tracker, retries) + "\n")
    stderr.flush()


def _ignore(snapshot: ProgressSnapshot) -> None:
    """No bar: snapshots are only counted, for the summary."""


__all__ = ["bar_shown", "run_reported", "write_summary"]

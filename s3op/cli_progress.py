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

import sys
from typing import IO, Any, Optional

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
    bar = ProgressBar(op, stderr) if draw else None
    wrapped = ProgressSink(sink, tracker, bar.show if bar is not None else _ignore)
    requests = counted(op, command.requests, tracker, command.options.recursive)
    try:
        with tallying_retries() as retries:
            code = run_batch(op, requests, command.options, wrapped)
            wrapped.finish()
    finally:
        if bar is not None:
            bar.close()
    if summary:
        stderr.write(summary_line(op, tracker, retries()) + "\n")
        stderr.flush()
    return code


def _ignore(snapshot: ProgressSnapshot) -> None:
    """No bar: snapshots are only counted, for the summary."""


__all__ = ["run_reported"]

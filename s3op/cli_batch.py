"""The command line's two ends of a batch: requests in, result lines out.

In: the requests of a command, from its arguments or its ``--inputs``
manifest, refused as a usage error (exit 2, nothing sent) when a line or
an argument is bad. Out: the engine run under Ctrl-C/SIGTERM handling,
and the one writer of stdout.
"""

from __future__ import annotations

import io
import os
import signal
import sys
from typing import Any, Callable, List, Sequence, Union

import click

from s3op import jobs
from s3op.manifest import url_problem
from s3op.protocol import ExitCode, ProtocolError, PutRequest, Request, Result, read_manifest

#: Bytes of result lines buffered between flushes (see ``buffer_stdout``).
STDOUT_BUFFER = 1 << 16


# ----------------------------------------------------------------- requests


def batch_requests(
    op: str, args: Sequence[str], inputs: Any, make: Callable[[int, str], Any]
) -> List[Any]:
    """The batch's requests, from the arguments or the manifest; usage errors
    (exit 2, nothing sent) for a bad manifest line or argument."""
    if args and inputs is not None:
        raise click.UsageError("give URLs or --inputs, not both")
    if inputs is not None:
        try:
            requests: List[Request] = read_manifest(op, inputs)
        except ProtocolError as exc:
            raise click.BadParameter(str(exc), param_hint="--inputs") from None
    else:
        requests = [make(i, a) for i, a in enumerate(args)]
        _check_args(op, requests)
    if not requests:
        raise click.UsageError("empty batch: give URLs or a non-empty --inputs manifest")
    return requests


def put_from_pair(idx: int, pair: str) -> PutRequest:
    """The put request of one ``LOCAL\\0URL`` pair. A URL ending in ``/`` names a
    folder and gets the local file's base name appended, as with ``aws s3 cp``."""
    local, url = pair.split("\0")
    if url.endswith("/"):
        url += os.path.basename(local)
    return PutRequest(idx, url, local)


def refuse_duplicate_keys(requests: Sequence[Any]) -> None:
    """Two puts to one key in a batch: a usage error (which would win is a race)."""
    seen = set()
    for req in requests:
        if req.url in seen:
            raise click.BadParameter(
                f"duplicate key in one batch: {req.url}", param_hint="--inputs"
            )
        seen.add(req.url)


def _check_args(op: str, requests: Sequence[Request]) -> None:
    """Refuse a URL argument that a manifest line could not give either."""
    for req in requests:
        problem = url_problem(op, req.url)
        if problem is not None:
            hint = "PAIRS" if op == "put" else "URLS"
            raise click.BadParameter(f"{req.url[:200]!r} {problem}", param_hint=hint)


# -------------------------------------------------------------------- running


def run_engine(engine: Any, pool: Any) -> ExitCode:
    """Start the pool, run the engine; Ctrl-C or SIGTERM stops the workers,
    removes temp files and gives ``ExitCode.INTERRUPTED``."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        pool.start()
        code: ExitCode = engine.run()
        pool.shutdown()
        return code
    except KeyboardInterrupt:
        pool.shutdown(kill=True)
        engine.sweep()
        click.echo("s3op: interrupted; workers stopped, temp files removed", err=True)
        return ExitCode.INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


# --------------------------------------------------------------------- stdout


def buffer_stdout() -> None:
    """Make stdout buffered even under ``PYTHONUNBUFFERED`` or ``python -u``.

    The engine flushes its results once per wake-up (``flush_results``), so
    every line still leaves as soon as the engine has nothing else to do. An
    unbuffered stdout would add one write syscall per result line instead:
    10,000 of them for a 10,000-key listing.
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


def write_result(result: Union[Result, jobs.Found]) -> None:
    """Write one result line (a listing's ``Found``: its lines) to stdout."""
    sys.stdout.write(result.lines() if isinstance(result, jobs.Found) else result.to_json() + "\n")


def flush_results() -> None:
    """Results are flushed once per engine wake-up, not per line: a flush
    releases the GIL, and getting it back from busy workers costs up to
    the interpreter's switch interval each time."""
    sys.stdout.flush()


__all__ = [
    "batch_requests",
    "buffer_stdout",
    "flush_results",
    "put_from_pair",
    "refuse_duplicate_keys",
    "run_engine",
    "write_result",
]

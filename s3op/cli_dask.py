"""``s3op OP --inputs MANIFEST --dask ADDRESS``: the command line's side of a cluster run.

The manifest is checked whole first (a bad line: exit 2, nothing sent, no
cluster asked), then its shards run on the cluster (``s3op.distributed``)
and each shard's result lines are written to stdout as it completes, whole;
the progress bar of one machine (``s3op.progress``) counts objects, bytes,
failures and shards on stderr as shards come back, and the summary line
ends the run, both as ``--progress``/``--no-progress`` or the terminal
say. The exit code is the one machine's: the worst of the shards'. A
manifest on stdin is spooled to a private temporary file first: the check
reads it once and the shards read it again.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from typing import IO, TYPE_CHECKING, Any, Iterator, Mapping, Optional, Sequence, TextIO

from s3op.options import BatchUsageError, options_from_values
from s3op.protocol import ExitCode

if TYPE_CHECKING:  # dask is imported only when --dask is given
    from distributed import Client

    from s3op.distributed import DaskRun


def run_on_dask(
    op: str,
    args: Sequence[str],
    inputs: Optional[TextIO],
    values: Mapping[str, Any],
    address: str,
    shard_size: int,
    ordered: bool,
) -> ExitCode:
    """Run the ``inputs`` manifest's shards on the cluster at ``address``; the exit code."""
    from s3op.distributed import DaskRun, connect

    if args or inputs is None:
        raise BatchUsageError("--dask runs a manifest: give --inputs, and no URLs")
    options = options_from_values(values)
    with _seekable(inputs) as manifest:
        run = DaskRun(op, manifest, options, shard_size, ordered)
        client = connect(address)
        try:
            return _delivered(run, client, values.get("progress"))
        except KeyboardInterrupt:
            return ExitCode.INTERRUPTED
        finally:
            client.close()


def _delivered(run: DaskRun, client: Client, flag: Optional[bool]) -> ExitCode:
    """Each shard's lines to stdout as it completes; the bar and the summary line on
    stderr as ``flag`` (``--progress``/``--no-progress``, None: auto) says."""
    from s3op.cli_progress import bar_shown, write_summary
    from s3op.cluster_progress import ClusterProgress
    from s3op.progress_sink import wants_progress, wants_summary

    draw = wants_progress(flag, sys.stdout, sys.stderr)
    with bar_shown(run.op, draw, sys.stderr) as show:
        progress = ClusterProgress(run.op, run.plan, show, run.recursive)
        for output in run.outputs(client):
            sys.stdout.write(output.lines)
            sys.stdout.flush()
            progress.update(output)
        progress.finish()
    if wants_summary(flag, sys.stderr):
        write_summary(run.op, progress.tracker, sys.stderr)
    return run.exit_code


@contextlib.contextmanager
def _seekable(inputs: TextIO) -> Iterator[IO[bytes]]:
    """The manifest's bytes, from the start, in a file that can be read twice."""
    raw: Optional[IO[bytes]] = getattr(inputs, "buffer", None)
    if raw is not None and raw.seekable():
        yield raw
        return
    with tempfile.TemporaryFile() as spool:  # 0600, and unlinked already
        if raw is not None:
            shutil.copyfileobj(raw, spool)
        else:
            for line in inputs:
                spool.write(line.encode("utf-8"))
        spool.seek(0)
        yield spool


__all__ = ["run_on_dask"]

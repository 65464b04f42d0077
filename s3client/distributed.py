"""Run one batch over a Dask cluster: ``s3client.distributed.run``.

::

    from distributed import Client
    from s3client.distributed import run

    with Client("tcp://scheduler:8786") as client:
        with run("get", "manifest.jsonl", client, destination="/shared/out") as batch:
            for result in batch:          # s3op.protocol.Result, each request's exactly once
                if not result.ok:
                    print(result.idx, result.error.kind, result.error.message)
        print(batch.exit_code)            # what `s3op get` would exit with

The manifest is an ``s3op`` manifest (JSONL; ``s3op get --help`` lists the
fields), given as a path or a binary file that can be read twice. ``run``
checks every line before returning (a bad line: ``ValueError``, in fact
``s3op.options.BatchUsageError``, and nothing has run); iterating runs the
shards, each through ``s3op.run_batch`` on a worker, and yields each
request's ``Result`` as its shard completes, or in idx order with
``ordered=True``. ``batch.exit_code`` is the exit code ``s3op`` gives for
the same results on one machine; ``batch.shard_outputs()`` yields whole
shards (their JSON lines and counts) instead, for a caller that only writes
the lines somewhere.

Options are ``s3op``'s, by their Python names: ``threads``, ``retries``,
``deadline``, ``overwrite``, ``allow_missing``, ``recursive``,
``destination``, ``layout``, ``info``, ``verify``, ``part_size``,
``multipart_threshold``, ``role``, ``num_workers``. ``progress=`` is the
``S3`` methods' (``s3client.progress``): ``True`` draws the one machine's bar
on stderr when it is a terminal, a callable receives a ``ProgressSnapshot``
(with ``shards_done``/``shards`` set) as shards come back, at most every
``REFRESH_SECONDS``, and a last one with ``final=True``.

No credential or client parameter travels with the tasks: each worker
resolves them from its own environment and profile (see docs/cluster.md).
Local paths in the manifest (get's ``local``, put's files) are paths on the
workers.

This module is the one place s3client imports more of ``s3op`` than its
protocol: the shard runner and the Dask driver (``s3op.shards``,
``s3op.distributed``), because here the engine runs in the workers' own
processes, not behind a process boundary. dask is needed only here
(``pip install 's3client[dask]'``).
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import IO, Any, Iterator, Optional, Type, Union

from distributed import Client

from s3client.progress import ProgressOption, checked, display
from s3op.cluster_progress import ClusterProgress
from s3op.distributed import DaskRun, keyword_options
from s3op.options import DEFAULT_SHARD_SIZE
from s3op.protocol import ExitCode, Result
from s3op.shards import ShardOutput

#: A manifest: a path, or a binary file that can be read twice (seekable).
Manifest = Union[str, "os.PathLike[str]", IO[bytes]]


class DistributedRun:
    """One batch on a cluster, checked and ready: iterate it to run it."""

    def __init__(
        self,
        run: DaskRun,
        client: Client,
        manifest: IO[bytes],
        owned: bool,
        progress: ProgressOption,
    ) -> None:
        self._run = run
        self._client = client
        self._manifest = manifest
        self._owned = owned
        self._progress = progress
        self.shards = len(run.plan.shards)
        self.requests = run.plan.requests

    @property
    def exit_code(self) -> ExitCode:
        """The worst exit code of the shards delivered so far (all of them, once done)."""
        return self._run.exit_code

    def shard_outputs(self) -> Iterator[ShardOutput]:
        """Run the batch; each shard's output (JSON result lines and counts), whole."""
        run = self._run
        show, close = display(self._progress, run.op)
        progress = ClusterProgress(run.op, run.plan, show, run.recursive)
        try:
            for output in run.outputs(self._client):
                progress.update(output)
                yield output
            if show is not None:
                progress.finish()
        finally:
            close()
            self.close()

    def __iter__(self) -> Iterator[Result]:
        """Run the batch; every request's ``Result`` (listings: every object found)."""
        for output in self.shard_outputs():
            for line in output.lines.splitlines():
                yield Result.from_json(line)

    def close(self) -> None:
        """Close the manifest if ``run`` opened it."""
        if self._owned:
            self._manifest.close()

    def __enter__(self) -> DistributedRun:
        return self

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


def run(
    op: str,
    manifest: Manifest,
    client: Client,
    shard_size: int = DEFAULT_SHARD_SIZE,
    ordered: bool = False,
    progress: ProgressOption = False,
    **options: Any,
) -> DistributedRun:
    """Check ``manifest`` for ``op`` ("get", "put", "info", "list") and return the
    batch, to run on ``client``'s cluster by iterating it (see the module's doc)."""
    wanted = checked(progress)
    batch_options = keyword_options(**options)
    owned = isinstance(manifest, (str, os.PathLike))
    stream = open(manifest, "rb") if isinstance(manifest, (str, os.PathLike)) else manifest
    try:
        plan = DaskRun(op, stream, batch_options, shard_size, ordered)
    except BaseException:
        if owned:
            stream.close()
        raise
    return DistributedRun(plan, client, stream, owned, wanted)


__all__ = ["DistributedRun", "Manifest", "run"]

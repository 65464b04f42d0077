"""The Metaflow foreach recipe of docs/cluster.md: a manifest's shards, one foreach task each.

Run by ``tests/integration/test_metaflow_foreach.py`` as
``python shard_foreach_flow.py run --manifest M --destination D`` with
Metaflow's local datastore and metadata, against a test S3 server. Like a
user's flow it imports nothing from ``tests/``.

- ``start`` checks the whole manifest and cuts it into shards
  (``s3op.shards.plan_shards``), keeping each shard's record and bytes;
- ``shard`` (the foreach) runs its shard through ``s3op.shards.run_shard``,
  the function every driver of shards calls (Dask's tasks too), and keeps
  the ``ShardOutput``: the shard's result lines, whole, and their counts;
- ``join`` puts the lines together in shard order (manifest order, so idx
  order) and the exit code ``s3op`` gives for them (the worst shard's).
"""

from __future__ import annotations

from metaflow import FlowSpec, Parameter, step

from s3op.options import BatchOptions, DownloadOptions
from s3op.protocol import ExitCode, worst_exit
from s3op.shards import plan_shards, read_shard, run_shard, shard_options


class ShardForeachFlow(FlowSpec):
    """get a manifest's objects, one foreach task a shard."""

    manifest = Parameter("manifest", help="an s3op get manifest (JSONL)", required=True)
    destination = Parameter("destination", help="download directory", required=True)
    shard_size = Parameter("shard-size", help="requests per shard", default=16)

    @step
    def start(self) -> None:
        """Check the manifest whole (a bad line fails here), cut it into shards."""
        with open(self.manifest, "rb") as m:
            plan = plan_shards("get", m, int(self.shard_size))
            self.shards = [(shard, read_shard(m, shard)) for shard in plan.shards]
        self.requests = plan.requests
        self.next(self.shard, foreach="shards")

    @step
    def shard(self) -> None:
        """Run one shard through the batch engine; its lines, whole."""
        shard, text = self.input
        options = BatchOptions(download=DownloadOptions(destination=self.destination))
        self.output = run_shard("get", shard, text, shard_options(options))
        self.next(self.join)

    @step
    def join(self, inputs) -> None:  # type: ignore[no-untyped-def]
        """Every shard's lines, in manifest order; the batch's exit code."""
        outputs = sorted((task.output for task in inputs), key=lambda output: output.index)
        self.lines = "".join(output.lines for output in outputs)
        code = ExitCode.OK
        for output in outputs:
            code = worst_exit(code, output.exit_code)
        self.exit_code = int(code)
        self.shard_indexes = [output.index for output in outputs]
        self.requests = inputs[0].requests
        self.next(self.end)

    @step
    def end(self) -> None:
        """Nothing more."""


if __name__ == "__main__":
    ShardForeachFlow()

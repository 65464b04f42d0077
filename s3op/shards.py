"""Shards: a manifest cut into pieces, each run through ``run_batch`` wherever it lands.

The engine-agnostic half of running on many machines. Dask drives it
(``s3op.distributed``); Ray, Spark or a Metaflow foreach can drive it the
same way, as it is three plain functions and two picklable records:

- ``plan_shards(op, manifest, shard_size)`` checks a binary manifest whole,
  streaming, with the one machine's check (``s3op.manifest_stream``: idx
  must ascend, a put's keys are kept as 8-byte digests), so a bad line is a
  ``BatchUsageError`` before any shard runs; then it reads the lines again,
  without parsing them, and keeps only where each shard starts (a
  ``Shard``: byte offset, first line number, length): memory grows with the
  number of shards, not of lines.
- ``read_shard(manifest, shard)`` gives a shard's bytes (a seek and a read).
- ``run_shard(op, shard, text, options)`` parses those bytes into requests
  (idx defaults are the manifest's own line numbers) and runs them through
  ``s3op.run_batch``, collecting every result line: a ``ShardOutput``
  returned whole, so a caller gets a shard's lines all at once or not at
  all. Lines are in idx order within a shard.
- ``lost_shard(op, shard, text, kind, message)`` is the output of a shard
  that never finished (its worker died too often): one failure per request,
  so the caller still gets one line per request.

``shard_options(options)`` is what a shard should be given: no credential
cache (each worker resolves credentials from its own environment and keeps
them in a cache of its own process), in-process threads unless worker
processes were asked for, and ``may_repeat`` (a shard can be re-run).
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass
from typing import IO, Iterator, List, Optional, Tuple

import s3op.jobs as jobs
from s3op.batch import Emitted, run_batch
from s3op.credentials import CredentialCache
from s3op.manifest import request_from_dict
from s3op.manifest_stream import ManifestSource
from s3op.options import DEFAULT_SHARD_SIZE, BatchOptions, BatchUsageError, PoolOptions
from s3op.progress import ProgressTracker
from s3op.protocol import ErrorKind, ExitCode, Request, Result, exit_code_for

#: The credentials each worker process resolves once and keeps (for at most
#: ``s3op.credentials.RESOLVE_TTL_SECONDS``), as a warm ``s3op serve`` does.
_WORKER_CREDENTIALS = CredentialCache()


@dataclass(frozen=True)
class Shard:
    """Where one shard's lines are in the manifest."""

    index: int  # 0-based, in manifest order
    first_line: int  # 0-based line number of its first line (idx defaults count from it)
    offset: int  # byte offset of that line
    length: int  # bytes, up to the next shard's first line (blank lines included)
    count: int  # requests in it


@dataclass(frozen=True)
class ShardOutput:
    """What one shard gives back, whole: its result lines and what they add up to."""

    index: int  # the shard's
    lines: str  # JSON result lines, each ending in a newline, in idx order
    results: int  # lines
    failures: int  # lines with ok false
    bytes: int  # sizes of the objects the ok lines name
    exit_code: ExitCode  # run_batch's, or what the lines give for a lost shard
    retries: int = 0  # attempts beyond each request's first, as the lines report them
    skipped: int = 0  # lines saying skipped (a no-overwrite put found the key)
    kinds: Tuple[Tuple[str, int], ...] = ()  # failures by error kind

    def count_in(self, tracker: ProgressTracker) -> None:
        """Add this shard's counts to ``tracker`` (a caller's progress)."""
        tracker.add(self.results, self.bytes, self.failures, self.retries, self.skipped, self.kinds)


@dataclass(frozen=True)
class ShardPlan:
    """A checked manifest: its shards and how many requests they hold."""

    shards: Tuple[Shard, ...]
    requests: int


# ------------------------------------------------------------- planning


def plan_shards(op: str, manifest: IO[bytes], shard_size: int) -> ShardPlan:
    """Check every line of ``manifest`` (read from where it is) as ``s3op --inputs``
    does, then cut it into shards of ``shard_size`` requests; ``BatchUsageError``
    for a bad line, or none. Leaves ``manifest`` where it was."""
    if shard_size < 1:
        raise BatchUsageError("a shard holds at least one request", param_hint="'--shard-size'")
    start = manifest.tell()
    text = io.TextIOWrapper(manifest, encoding="utf-8")
    try:
        requests = len(ManifestSource.checked(op, text))
    except UnicodeDecodeError as exc:
        raise BatchUsageError(f"not UTF-8 ({exc.reason})", param_hint="--inputs") from None
    finally:
        text.detach()
    if requests == 0:
        raise BatchUsageError("empty batch: give a non-empty --inputs manifest")
    manifest.seek(start)
    shards = tuple(_cut(manifest, shard_size))
    manifest.seek(start)
    return ShardPlan(shards, requests)


def _cut(manifest: IO[bytes], shard_size: int) -> Iterator[Shard]:
    """Shards of ``shard_size`` non-blank lines; a shard's bytes run up to the next
    shard's first line (blank lines included: they count in the idx defaults)."""
    index = count = 0
    head: Optional[Tuple[int, int]] = None  # (first line, offset) of the shard being read
    offset = manifest.tell()
    for line_no, raw in enumerate(iter(manifest.readline, b"")):
        if raw.strip():
            if head is not None and count == shard_size:
                yield Shard(index, head[0], head[1], offset - head[1], count)
                index, head, count = index + 1, None, 0
            if head is None:
                head = (line_no, offset)
            count += 1
        offset += len(raw)
    if head is not None:
        yield Shard(index, head[0], head[1], offset - head[1], count)


# -------------------------------------------------------------- running


def read_shard(manifest: IO[bytes], shard: Shard) -> bytes:
    """The bytes of ``shard``'s lines."""
    manifest.seek(shard.offset)
    return manifest.read(shard.length)


def shard_requests(op: str, shard: Shard, text: bytes) -> List[Request]:
    """The requests of ``shard``'s lines (checked already by ``plan_shards``)."""
    lines = text.split(b"\n")
    return [
        request_from_dict(op, n, json.loads(line))
        for n, line in enumerate(lines, shard.first_line)
        if line.strip()
    ]


def shard_options(options: BatchOptions) -> BatchOptions:
    """``options`` as a shard is given them: no secrets, may repeat, threads in-process
    unless worker processes were asked for (the cluster already spreads processes)."""
    pool = options.pool
    if pool.num_workers is None:
        pool = PoolOptions(num_workers=0, threads=pool.threads)
    return dataclasses.replace(options, credentials=None, pool=pool, may_repeat=True)


def run_shard(op: str, shard: Shard, text: bytes, options: BatchOptions) -> ShardOutput:
    """Run one shard through ``run_batch``; every result line, whole."""
    if options.credentials is None:
        options = dataclasses.replace(options, credentials=_WORKER_CREDENTIALS)
    sink = _Collect(op)
    code = run_batch(op, shard_requests(op, shard, text), options, sink)
    return sink.output(shard.index, code)


def lost_shard(op: str, shard: Shard, text: bytes, kind: ErrorKind, message: str) -> ShardOutput:
    """The output of a shard that never finished: ``kind`` for each of its requests."""
    sink = _Collect(op)
    results = [
        Result.failure(req.idx, req.url, kind, message) for req in shard_requests(op, shard, text)
    ]
    for res in results:
        sink.emit(res)
    return sink.output(shard.index, exit_code_for(results))


class _Collect:
    """A ``ResultSink`` keeping a shard's lines, with their idx, and counting them as
    the one machine's progress does (``s3op.progress.ProgressTracker``)."""

    def __init__(self, op: str) -> None:
        self.chunks: List[Tuple[int, str]] = []
        self.counts = ProgressTracker(op)

    def emit(self, item: Emitted) -> None:
        """Keep one result's line (a listing page's: its lines)."""
        if isinstance(item, jobs.Found):
            self.chunks.append((item.idx, item.lines()))
            nbytes = sum(size for _, size, _, _ in item.objects)
            self.counts.listed(len(item.objects) + len(item.prefixes), nbytes)
            return
        self.chunks.append((item.idx, item.to_json() + "\n"))
        self.counts.result(item)

    def flush(self) -> None:
        """Nothing leaves before the shard is done."""

    def output(self, index: int, code: ExitCode) -> ShardOutput:
        """All of it, lines in idx order (a listing's own lines keep theirs)."""
        self.chunks.sort(key=lambda chunk: chunk[0])
        lines = "".join(text for _, text in self.chunks)
        self.chunks = []
        c = self.counts
        kinds = tuple(sorted(c.kinds.items()))
        return ShardOutput(
            index, lines, c.done, c.failures, c.bytes, code, c.retries, c.skipped, kinds
        )


__all__ = [
    "DEFAULT_SHARD_SIZE",
    "Shard",
    "ShardOutput",
    "ShardPlan",
    "lost_shard",
    "plan_shards",
    "read_shard",
    "run_shard",
    "shard_options",
    "shard_requests",
]

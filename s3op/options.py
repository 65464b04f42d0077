"""The options of one batch: a frozen ``BatchOptions``, built once, read by ``run_batch``.

The command line and ``s3op serve`` build it from argv (``s3op.cli_batch``);
a Dask shard or a test builds it directly. Its pieces group what each
layer reads: the pool (processes, threads), the retry policy, transfers in
parts, where downloads land. Values are checked where they are parsed
(``s3op.cli_options`` holds each option's bounds); a caller building
``BatchOptions`` itself passes values in those bounds.

The credential cache is the one field that is not plain data: an object
owned by whoever runs batches (``s3op serve`` keeps one across batches; a
one-shot run has none and resolves credentials afresh). It is left out of
comparisons and ``repr`` and never leaves the process that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from s3op.protocol import ExitCode

if TYPE_CHECKING:  # imported on use: the command line's start-up does not need it
    from s3op.credentials import CredentialCache

#: Batches this small run in-process (threads only): forking is not worth it.
IN_PROCESS_MAX = 32
#: Worker processes are forked by default only on machines with more CPUs than
#: this. One process's threads move ~3,000 small objects a second; on 2 CPUs,
#: forked workers measured slower than in-process threads (W1: 1.25 vs 1.0 s,
#: more CPU in all), as parent, workers and a local server fight for 2 cores.
FORK_MIN_CPUS = 3
DEFAULT_THREADS = 16
#: Uploads wait longer on the server (it writes), so more of them in flight pays, and
#: the server spends less CPU per PUT when more arrive at once. 1,000 x 10 KiB `s3op
#: put` on a warm engine, 12 interleaved runs (SeaweedFS on this 2-CPU box): 0.575 s
#: with 32 threads, 0.550 with 48, 0.535 with 64, 0.530 with 96; engine CPU 0.45 ->
#: 0.40 s and the server's 0.645 -> 0.600 s from 32 to 64. Memory: a thread holds at
#: most one small body (``ops.put.SMALL_BODY``). Downloads, HEADs and listings did not
#: change with more threads. Forked workers share the 64 out (``batch.threads_per_process``).
PUT_THREADS = 64
#: A copy is two small requests (HEAD, CopyObject) whose work is the server's: more in
#: flight pays where each waits a round trip. 1,000 x 10 KiB ``s3op copy`` (SeaweedFS,
#: 3 interleaved pairs on a loaded 2-CPU box, load 30-50): 64 threads 23.1 / 25.9 s
#: (network model / loopback medians), 128 threads 19.0 / 16.8 s; faster in 5 of 6 pairs.
COPY_THREADS = 128
#: HEADs of a batch bigger than its default threads start with in flight
#: (``DEFAULT_THREADS`` x ``s3op.throttle.START_PER_THREAD``, 64): a thread keeps
#: 4 to 8 HEADs in flight, so more threads put more out from the start. 1,000 HEADs
#: over the benchmark's network model (20 ms a request): 0.37-0.41 s at 16 threads,
#: 0.19-0.22 s at 64; on loopback, where HEADs are CPU-bound, 0.13-0.15 s either way
#: (W10's source HEADs, docs/benchmarks.md "issue-16f"). Smaller batches keep 16.
INFO_THREADS = 64
MAX_THREADS = 256
DEFAULT_RETRIES = 10
DEFAULT_DEADLINE = 300.0
#: The shortest per-request deadline accepted, in seconds.
MIN_DEADLINE = 0.1
DEFAULT_PART_SIZE = 16 * 1024 * 1024
#: S3's smallest multipart-upload part (but the last).
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 32 * 1024 * 1024
#: Requests per shard on a cluster (``--shard-size``): enough that a shard's start-up
#: (a pool of threads, a client configuration) is small beside its work, few enough
#: that a lost shard costs little to run again and the last shards leave no worker idle.
DEFAULT_SHARD_SIZE = 1000
#: Where a download with no ``local`` path lands (``s3op.paths.local_path``).
LAYOUTS = ("keys", "hashed")


class BatchUsageError(ValueError):
    """A bad option, argument or manifest line, or an unusable configuration:
    the batch is refused whole (exit 2), before any request is sent.

    ``param_hint`` names what was wrong (``'--threads'``, ``--inputs``,
    ``URLS``) when one option or argument was.
    """

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, param_hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.param_hint = param_hint

    def format(self) -> str:
        """The message as ``s3op`` prints it on stderr (as click words it)."""
        if self.param_hint is None:
            return f"Error: {self.message}"
        return f"Error: Invalid value for {self.param_hint}: {self.message}"


@dataclass(frozen=True)
class PoolOptions:
    """How many workers run the batch."""

    num_workers: Optional[int] = None  # processes; 0: in-process; None: by batch size and CPUs
    threads: Optional[int] = None  # per process; None: the op's default, shared out


@dataclass(frozen=True)
class RetryOptions:
    """How hard each request is tried (``s3op.retry.RetryPolicy``)."""

    retries: int = DEFAULT_RETRIES  # attempts per request, the first included
    deadline: float = DEFAULT_DEADLINE  # seconds per request, all attempts included
    inject_failure_rate: int = 0  # testing: percent of attempts failed on purpose


@dataclass(frozen=True)
class TransferOptions:
    """When and how objects move in parts (get, put)."""

    part_size: int = DEFAULT_PART_SIZE  # bytes per ranged GET / upload part
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD  # objects this big move in parts


@dataclass(frozen=True)
class DownloadOptions:
    """Where downloads land and what they report (get)."""

    destination: str = "."  # directory for downloads that give no ``local`` path
    layout: str = "keys"  # one of LAYOUTS
    info: bool = True  # report content type, metadata, encryption, modification time
    verify: bool = True  # check sizes and MD5/ETags (and checksums where given)


@dataclass(frozen=True)
class BatchOptions:
    """Everything about one batch but its op and requests."""

    pool: PoolOptions = PoolOptions()
    retry: RetryOptions = RetryOptions()
    transfer: TransferOptions = TransferOptions()
    download: DownloadOptions = DownloadOptions()
    role: Optional[str] = None  # IAM role ARN to assume once, in the parent
    recursive: bool = False  # get/list/delete: every object under each prefix
    allow_missing: bool = False  # get/info: not_found does not fail the batch
    overwrite: bool = True  # put: False writes only where no object is (conditional)
    dry_run: bool = False  # every op: answer what would happen ("dry": true), write nothing
    may_repeat: bool = False  # a re-run of these requests (a Dask shard): see ops/put.py
    max_bandwidth: Optional[int] = None  # bytes/s each way, whole engine (s3op.bandwidth)
    journal: Optional[str] = None  # get/put: resume from, and record in, this file (s3op.journal)
    credentials: Optional[CredentialCache] = field(default=None, compare=False, repr=False)


def options_from_values(values: Mapping[str, Any]) -> BatchOptions:
    """``BatchOptions`` from parsed option values, keyed by the options' names
    (``threads``, ``part_size``, ...); options not given keep their defaults."""

    def named(cls: type) -> Dict[str, Any]:
        """The values named like ``cls``'s fields."""
        return {f.name: values[f.name] for f in fields(cls) if f.name in values}

    top = {k: v for k, v in named(BatchOptions).items() if k not in _PIECES}
    return BatchOptions(
        pool=PoolOptions(**named(PoolOptions)),
        retry=RetryOptions(**named(RetryOptions)),
        transfer=TransferOptions(**named(TransferOptions)),
        download=DownloadOptions(**named(DownloadOptions)),
        **top,
    )


#: The fields of ``BatchOptions`` that are pieces, not values.
_PIECES = frozenset({"pool", "retry", "transfer", "download"})


__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MULTIPART_THRESHOLD",
    "DEFAULT_PART_SIZE",
    "DEFAULT_RETRIES",
    "DEFAULT_SHARD_SIZE",
    "DEFAULT_THREADS",
    "INFO_THREADS",
    "FORK_MIN_CPUS",
    "IN_PROCESS_MAX",
    "LAYOUTS",
    "MAX_THREADS",
    "MIN_DEADLINE",
    "MIN_PART_SIZE",
    "PUT_THREADS",
    "COPY_THREADS",
    "BatchOptions",
    "BatchUsageError",
    "DownloadOptions",
    "PoolOptions",
    "RetryOptions",
    "TransferOptions",
    "options_from_values",
]

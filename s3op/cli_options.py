"""The options of ``s3op``'s batch commands: one table, read by both parsers.

Each option is an ``OptionSpec``: its flag, the name of its value, what
values it takes (``s3op.cli_values``: ``IntRange``, ``FloatRange``, ``Choice``, ``Text``,
``Manifest``; none for a flag), its default and its help. The click
command line (``s3op.cli``) turns the table into click options; ``s3op
serve`` parses argv with it directly (``s3op.cli_batch.parse_batch_argv``),
without click. Bounds and defaults are therefore written once.

Each command takes only the groups that mean something to it, so
``s3op COMMAND --help`` lists only options that do something there:

- ``RUN_OPTIONS``: every command that sends requests (workers, threads,
  retries, deadline, role, failure injection);
- ``TRANSFER_OPTIONS``: commands that move object bodies (get, put):
  part size and multipart threshold;
- ``ALLOW_MISSING``: commands whose requests name one object each
  (get, info), where ``not_found`` can be forgiven.

Each command's help text and ``manifest_help(op)`` (an op's manifest
fields, from the request type itself, with an example line) are in
``s3op.cli_help``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

from s3op.cli_values import Choice, FloatRange, IntRange, Manifest, Rate, Text, ValueKind
from s3op.options import (
    COPY_THREADS,
    DEFAULT_DEADLINE,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    DEFAULT_RETRIES,
    DEFAULT_SHARD_SIZE,
    DEFAULT_THREADS,
    FORK_MIN_CPUS,
    IN_PROCESS_MAX,
    INFO_THREADS,
    LAYOUTS,
    MAX_THREADS,
    MIN_DEADLINE,
    MIN_PART_SIZE,
    PUT_THREADS,
)
from s3op.protocol import COMPARE_MODES, INJECT_FAILURE_RATE_ENV, MAX_RETRIES


@dataclass(frozen=True)
class OptionSpec:
    """One option of the batch commands."""

    flag: str  # "--threads"
    dest: str  # its value's name: a field of a BatchOptions piece ("threads")
    help: str
    kind: Optional[ValueKind] = None  # what values it takes; None: a flag (no value)
    default: Union[None, bool, int, float, str] = None
    off: Optional[str] = None  # a flag's off switch ("--no-info"); the flag is then on/off
    envvar: Optional[str] = None  # the environment variable read when it is not given
    metavar: Optional[str] = None
    show_default: bool = False


# ---------------------------------------------------------------- the table

INPUTS = OptionSpec(
    "--inputs",
    "inputs",
    "JSONL manifest, one request a line ('-' for stdin); fields below.",
    Manifest(),
)

#: Options of every command that sends requests.
RUN_OPTIONS: Tuple[OptionSpec, ...] = (
    OptionSpec(
        "--num-workers",
        "num_workers",
        "Worker processes (0 = in-process threads; default: CPUs, or "
        f"in-process for batches of at most {IN_PROCESS_MAX} and on machines "
        f"with fewer than {FORK_MIN_CPUS} CPUs).",
        IntRange(0),
    ),
    OptionSpec(
        "--threads",
        "threads",
        f"Threads per worker [default: {DEFAULT_THREADS}; put: {PUT_THREADS}, "
        f"copy: {COPY_THREADS}, info of over {DEFAULT_THREADS * 4} requests: {INFO_THREADS}; "
        f"shared out among forked workers, at least {DEFAULT_THREADS} each].",
        IntRange(1, MAX_THREADS),
    ),
    OptionSpec(
        "--retries",
        "retries",
        "Attempts per request, the first included (a SlowDown counts half).",
        IntRange(1, MAX_RETRIES),
        DEFAULT_RETRIES,
        show_default=True,
    ),
    OptionSpec(
        "--deadline",
        "deadline",
        "Seconds allowed per request, all attempts included.",
        FloatRange(MIN_DEADLINE),
        DEFAULT_DEADLINE,
        show_default=True,
    ),
    OptionSpec(
        "--role",
        "role",
        "IAM role ARN to assume once, in the parent. Session variables and "
        "client parameters come from $S3OP_SESSION_VARS / $S3OP_CLIENT_PARAMS (JSON).",
        Text(),
    ),
    OptionSpec(
        "--inject-failure-rate",
        "inject_failure_rate",
        "Testing: fail about N% of attempts (retries included) with a "
        "transient 'injected failure' before the real request is sent, inside "
        "the normal retry loop. Each process draws from its own random.Random; "
        "100 fails every attempt (exit 3).",
        IntRange(0, 100),
        0,
        envvar=INJECT_FAILURE_RATE_ENV,
        metavar="N",
        show_default=True,
    ),
    OptionSpec(
        "--max-bandwidth",
        "max_bandwidth",
        "Cap the whole engine's traffic at RATE each way (all workers together), "
        "e.g. 50MB/s or 1.5GiB/s (units B, KB, MB, GB, KiB, MiB, GiB per second).",
        Rate(),
        metavar="RATE",
    ),
    OptionSpec(
        "--progress",
        "progress",
        "A progress bar and an end-of-batch summary line on stderr [default: the bar "
        "when stderr is a terminal and stdout is not, the summary when stderr is one].",
        off="--no-progress",
    ),
)

#: Options of commands that move object bodies (get, put).
TRANSFER_OPTIONS: Tuple[OptionSpec, ...] = (
    OptionSpec(
        "--part-size",
        "part_size",
        "Bytes per ranged GET / multipart-upload part (uploads of files under 24 such"
        " parts: smaller parts, 5 MiB at least).",
        IntRange(MIN_PART_SIZE),
        DEFAULT_PART_SIZE,
        show_default=True,
    ),
    OptionSpec(
        "--multipart-threshold",
        "multipart_threshold",
        "Objects at least this big move in parts.",
        IntRange(1),
        DEFAULT_MULTIPART_THRESHOLD,
        show_default=True,
    ),
)

ALLOW_MISSING = OptionSpec(
    "--allow-missing",
    "allow_missing",
    "not_found results do not make the exit code non-zero.",
    default=False,
)

GET_OPTIONS: Tuple[OptionSpec, ...] = (
    OptionSpec(
        "--destination",
        "destination",
        "Directory for downloads that give no 'local' path.",
        Text(directory=True),
        ".",
        show_default=True,
    ),
    OptionSpec(
        "--layout",
        "layout",
        "keys: DEST/<key> (refusing keys that would escape DEST); "
        "hashed: DEST/<first hex digit of the hash>/<hash of URL>.",
        Choice(LAYOUTS),
        "keys",
        show_default=True,
    ),
    OptionSpec(
        "--recursive",
        "recursive",
        "Each URL is a prefix: get every object under it.",
        default=False,
    ),
    OptionSpec(
        "--info",
        "info",
        "Report content type, metadata, encryption and modification time.",
        default=True,
        off="--no-info",
        show_default=True,
    ),
    OptionSpec(
        "--verify",
        "verify",
        "Check sizes and MD5/ETags (and server checksums where given).",
        default=True,
        off="--no-verify",
        show_default=True,
    ),
)

OVERWRITE = OptionSpec(
    "--overwrite",
    "overwrite",
    "--no-overwrite: never replace an existing object (conditional write).",
    default=True,
    off="--no-overwrite",
    show_default=True,
)

JOURNAL = OptionSpec(
    "--journal",
    "journal",
    "Record each finished request in FILE (fsync'd in groups); run again with the "
    "same manifest and FILE to skip, after checking them, the requests done "
    "(a directory: one journal per batch in it). See docs/long-jobs.md.",
    Text(),
    metavar="FILE",
)

LIST_RECURSIVE = OptionSpec(
    "--recursive", "recursive", "Every object under each prefix (else one level).", default=False
)

#: Options of ``sync`` (a manifest line gives its own ``delete`` and ``compare``).
SYNC_OPTIONS: Tuple[OptionSpec, ...] = (
    OptionSpec(
        "--delete",
        "delete",
        "Also delete at the destination what the source does not have.",
        default=False,
    ),
    OptionSpec(
        "--compare",
        "compare",
        "How a key on both sides is judged equal: checksum (MD5 ETag or CRC32 where "
        "both sides have one, else size and time), size, or size_and_time (a newer "
        "source moves).",
        Choice(COMPARE_MODES),
        "checksum",
        show_default=True,
    ),
)

DELETE_RECURSIVE = OptionSpec(
    "--recursive",
    "recursive",
    "Each URL is a prefix (a trailing '/' is implied): delete every object under it.",
    default=False,
)

DRY_RUN = OptionSpec(
    "--dry-run",
    "dry_run",
    'Print the result lines that would happen, each marked "dry": true; write '
    "and delete nothing (reads that say what would happen are made).",
    default=False,
)

#: Options of every command: run the manifest's shards on a Dask cluster (docs/cluster.md).
DASK_OPTIONS: Tuple[OptionSpec, ...] = (
    OptionSpec(
        "--dask",
        "dask",
        "Run on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786), "
        "in shards of the --inputs manifest; result lines come back once each.",
        Text(),
        metavar="ADDRESS",
    ),
    OptionSpec(
        "--shard-size",
        "shard_size",
        "With --dask: requests per shard.",
        IntRange(1),
        DEFAULT_SHARD_SIZE,
        show_default=True,
    ),
    OptionSpec(
        "--ordered",
        "ordered",
        "With --dask: result lines in manifest (idx) order, not as shards finish.",
        default=False,
    ),
)

#: The options of each batch command, in the order ``--help`` lists them.
OPTIONS_OF: Dict[str, Tuple[OptionSpec, ...]] = {
    "get": (
        INPUTS,
        *RUN_OPTIONS,
        *TRANSFER_OPTIONS,
        ALLOW_MISSING,
        *GET_OPTIONS,
        DRY_RUN,
        JOURNAL,
        *DASK_OPTIONS,
    ),
    "put": (
        INPUTS,
        *RUN_OPTIONS,
        *TRANSFER_OPTIONS,
        OVERWRITE,
        DRY_RUN,
        JOURNAL,
        *DASK_OPTIONS,
    ),
    "info": (INPUTS, *RUN_OPTIONS, ALLOW_MISSING, *DASK_OPTIONS),
    "list": (INPUTS, *RUN_OPTIONS, LIST_RECURSIVE, *DASK_OPTIONS),
    "sync": (INPUTS, *RUN_OPTIONS, *TRANSFER_OPTIONS, *SYNC_OPTIONS, DRY_RUN),
    "delete": (INPUTS, *RUN_OPTIONS, DELETE_RECURSIVE, DRY_RUN, *DASK_OPTIONS),
    "copy": (INPUTS, *RUN_OPTIONS, *TRANSFER_OPTIONS, DRY_RUN, *DASK_OPTIONS),
}

__all__ = [
    "ALLOW_MISSING",
    "DASK_OPTIONS",
    "GET_OPTIONS",
    "INPUTS",
    "OPTIONS_OF",
    "RUN_OPTIONS",
    "SYNC_OPTIONS",
    "TRANSFER_OPTIONS",
    "Choice",
    "FloatRange",
    "IntRange",
    "Manifest",
    "OptionSpec",
    "Rate",
    "Text",
    "ValueKind",
]

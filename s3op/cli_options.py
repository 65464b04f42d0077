"""The options of ``s3op``'s batch commands: one table, read by both parsers.

Each option is an ``OptionSpec``: its flag, the name of its value, what
values it takes (``IntRange``, ``FloatRange``, ``Choice``, ``Text``,
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

``manifest_help(op)`` documents an op's manifest fields, from the request
type itself, with an example line.
"""

from __future__ import annotations

import dataclasses
import textwrap
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

from s3op.bandwidth import parse_rate
from s3op.options import (
    DEFAULT_DEADLINE,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    DEFAULT_RETRIES,
    DEFAULT_SHARD_SIZE,
    DEFAULT_THREADS,
    FORK_MIN_CPUS,
    IN_PROCESS_MAX,
    LAYOUTS,
    MAX_THREADS,
    MIN_DEADLINE,
    MIN_PART_SIZE,
    PUT_THREADS,
)
from s3op.protocol import COMPARE_MODES, INJECT_FAILURE_RATE_ENV, MAX_RETRIES, REQUEST_TYPES

# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class IntRange:
    """An integer from ``low`` to ``high`` (None: no upper bound)."""

    low: int
    high: Optional[int] = None

    def convert(self, text: str) -> int:
        """The value of ``text``; ValueError, worded as click words it, if out of range."""
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid integer.") from None
        if value < self.low or (self.high is not None and value > self.high):
            bounds = f"{self.low}<=x" + ("" if self.high is None else f"<={self.high}")
            raise ValueError(f"{value} is not in the range {bounds}.")
        return value


@dataclass(frozen=True)
class FloatRange:
    """A number of at least ``low``."""

    low: float

    def convert(self, text: str) -> float:
        """The value of ``text``; ValueError if it is not a number of at least ``low``."""
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid float.") from None
        if not value >= self.low:  # NaN too
            raise ValueError(f"{value} is not in the range x>={self.low}.")
        return value


@dataclass(frozen=True)
class Choice:
    """One of a few words."""

    choices: Tuple[str, ...]

    def convert(self, text: str) -> str:
        """``text`` if it is one of the choices; ValueError otherwise."""
        if text not in self.choices:
            wanted = ", ".join(repr(c) for c in self.choices)
            raise ValueError(f"{text!r} is not one of {wanted}.")
        return text


@dataclass(frozen=True)
class Text:
    """Any string; ``directory``: it names a directory (for help)."""

    directory: bool = False

    def convert(self, text: str) -> str:
        """``text`` itself."""
        return text


@dataclass(frozen=True)
class Manifest:
    """The path of a JSONL manifest, ``-`` for stdin (opened by the parser)."""

    def convert(self, text: str) -> str:
        """The path itself."""
        return text


@dataclass(frozen=True)
class Rate:
    """A rate in bytes a second, with units: ``50MB/s`` (``s3op.bandwidth.parse_rate``)."""

    def convert(self, text: str) -> int:
        """Bytes a second; ``BandwidthError`` (a ValueError) if ``text`` is not a rate."""
        return parse_rate(text)


ValueKind = Union[IntRange, FloatRange, Choice, Text, Manifest, Rate]


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
        f"shared out among forked workers, at least {DEFAULT_THREADS} each].",
        IntRange(1, MAX_THREADS),
    ),
    OptionSpec(
        "--retries",
        "retries",
        "Attempts per request, the first included.",
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
        "Bytes per ranged GET / multipart-upload part.",
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
        INPUTS, *RUN_OPTIONS, *TRANSFER_OPTIONS, ALLOW_MISSING, *GET_OPTIONS, DRY_RUN,
        JOURNAL, *DASK_OPTIONS,
    ),
    "put": (
        INPUTS, *RUN_OPTIONS, *TRANSFER_OPTIONS, OVERWRITE, DRY_RUN, JOURNAL,
        *DASK_OPTIONS,
    ),
    "info": (INPUTS, *RUN_OPTIONS, ALLOW_MISSING, *DASK_OPTIONS),
    "list": (INPUTS, *RUN_OPTIONS, LIST_RECURSIVE, *DASK_OPTIONS),
    "sync": (INPUTS, *RUN_OPTIONS, *TRANSFER_OPTIONS, *SYNC_OPTIONS, DRY_RUN),
    "delete": (INPUTS, *RUN_OPTIONS, DELETE_RECURSIVE, DRY_RUN, *DASK_OPTIONS),
    "copy": (INPUTS, *RUN_OPTIONS, *TRANSFER_OPTIONS, DRY_RUN, *DASK_OPTIONS),
}

# ------------------------------------------------------------------ help

#: Each batch command's help, and the name of its arguments.
HELP: Dict[str, str] = {
    "get": "Download objects: URLs, or a manifest of {url, range, local}.",
    "put": "Upload files: LOCAL URL pairs, or a manifest of {url, local, ...}.\n\n"
    "A URL ending in '/' names a folder: the file's base name is appended "
    "(`s3op put a.csv s3://b/dir/` writes s3://b/dir/a.csv), as `aws s3 cp` "
    "does. In a manifest, a url ending in '/' is refused.",
    "info": "HEAD objects: size, content type, metadata, encryption, modification time.",
    "list": "List prefixes: objects, and (without --recursive) common prefixes.",
    "sync": "Make DST hold what SRC holds: SRC DST, each a local directory or an "
    "s3://bucket/prefix (at least one a URL), or a manifest of {src, dst, delete, "
    "compare}.\n\nOne result line per key with an 'action' field: put, get, copy, "
    "delete, or skip (equal). See docs/sync.md.",
    "delete": "Delete objects: URLs, or a manifest of {url}; with --recursive, "
    "every object under each prefix. Up to 1,000 keys per DeleteObjects request; "
    "a key that is not there is deleted all the same (as S3 says).",
    "copy": "Copy objects server-side: SRC DST pairs of s3:// URLs, or a manifest "
    "of {source, url, ...}.\n\n"
    "A DST ending in '/' names a folder: the source's base name is appended. "
    "Content type, metadata and encryption are kept unless the manifest gives "
    "new ones. Objects at the multipart threshold (and all over 5 GiB) are "
    "copied in parts, in parallel.",
}
ARGUMENTS: Dict[str, str] = {
    "get": "urls",
    "put": "pairs",
    "info": "urls",
    "list": "urls",
    "delete": "urls",
    "copy": "pairs",
    "sync": "paths",
}


def command_help(op: str) -> str:
    """``s3op OP --help`` in plain text, from the table (what ``s3op serve`` answers;
    the command line's is click's, with the same parts)."""
    lines = [f"Usage: s3op {op} [OPTIONS] [{ARGUMENTS[op].upper()}]...", ""]
    lines += [_indented(paragraph, 2) + "\n" for paragraph in HELP[op].split("\n\n")]
    lines.append("Options:")
    for spec in OPTIONS_OF[op]:
        name = spec.flag if spec.off is None else f"{spec.flag} / {spec.off}"
        if spec.kind is not None:
            name += f" {spec.metavar or _METAVARS[type(spec.kind)]}"
        lines += [f"  {name}", _indented(spec.help, 6)]
    lines += ["", manifest_help(op).replace("\b\n", "")]
    return "\n".join(lines)


def _indented(text: str, indent: int) -> str:
    return textwrap.fill(text, 78, initial_indent=" " * indent, subsequent_indent=" " * indent)


_METAVARS: Dict[type, str] = {
    IntRange: "INTEGER",
    FloatRange: "FLOAT",
    Choice: "CHOICE",
    Text: "TEXT",
    Manifest: "FILENAME",
    Rate: "RATE",
}

# ---------------------------------------------------------- manifest help

#: What each manifest field means, per op where it differs.
FIELD_TEXT: Dict[str, str] = {
    "idx": "integer echoed in the result line (default: the 0-based line number)",
    "url": "s3://bucket/key",
    "range": '"bytes=A-B", "bytes=A-" or "bytes=-N" (default: the whole object)',
    "local": "file to write (default: under --destination, see --layout)",
    "content_type": "Content-Type to store",
    "metadata": "any JSON object, stored as user metadata",
    "encryption": 'server-side encryption, e.g. "AES256" or "aws:kms"',
    "src": "local directory or s3://bucket/prefix to copy from",
    "dst": "local directory or s3://bucket/prefix to make equal to src",
    "delete": "true: delete at dst what src does not have (default false)",
    "compare": "checksum (default), size or size_and_time",
    "source": "s3://bucket/key to copy from",
}
OP_FIELD_TEXT: Dict[str, Dict[str, str]] = {
    "get": {"url": "s3://bucket/key (with --recursive: s3://bucket/prefix/)"},
    "put": {"url": "s3://bucket/key (not ending in '/')", "local": "file to upload"},
    "list": {"url": "s3://bucket/prefix/ (a trailing '/' is implied)"},
    "delete": {"url": "s3://bucket/key (with --recursive: s3://bucket/prefix/)"},
    "copy": {
        "url": "s3://bucket/key to copy to (not ending in '/')",
        "content_type": "Content-Type to store (default: the source's)",
        "metadata": "any JSON object, stored as user metadata (default: the source's)",
        "encryption": "server-side encryption (default: the source's)",
    },
}
#: One manifest line per op, shown in its --help (a test parses each).
EXAMPLES: Dict[str, str] = {
    "get": '{"url": "s3://bucket/data/a.csv", "range": "bytes=0-99", "local": "/tmp/a.csv"}',
    "put": '{"url": "s3://bucket/data/a.csv", "local": "a.csv", "content_type": "text/csv", '
    '"metadata": {"run": 7}}',
    "info": '{"url": "s3://bucket/data/a.csv"}',
    "list": '{"url": "s3://bucket/data/", "idx": 3}',
    "sync": '{"src": "/data/run1", "dst": "s3://bucket/run1/", "delete": true}',
    "delete": '{"url": "s3://bucket/data/a.csv"}',
    "copy": '{"source": "s3://bucket/data/a.csv", "url": "s3://other/data/a.csv"}',
}


def manifest_help(op: str) -> str:
    """The ``--help`` epilog of ``op``: its manifest fields and an example line."""
    rows = []
    fields = dataclasses.fields(REQUEST_TYPES[op])
    for f in [*fields[1:], fields[0]]:  # idx (first, and optional) goes last
        required = f.default is dataclasses.MISSING and f.name != "idx"
        text = OP_FIELD_TEXT.get(op, {}).get(f.name, FIELD_TEXT[f.name])
        rows.append(f"  {f.name:<13}{'required' if required else 'optional'}  {text}")
    return "\n".join(
        ["Manifest fields (--inputs, one JSON object a line):", "", "\b", *rows, "", "\b"]
        + ["Example line:", f"  {EXAMPLES[op]}"]
    )


__all__ = [
    "ALLOW_MISSING",
    "ARGUMENTS",
    "DASK_OPTIONS",
    "HELP",
    "EXAMPLES",
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
    "command_help",
    "manifest_help",
]

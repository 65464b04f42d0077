"""The options of ``s3op``'s commands, grouped by what they apply to, and their help.

Each command takes only the groups that mean something to it, so
``s3op COMMAND --help`` lists only options that do something there:

- ``run_options``: every command that sends requests (workers, threads,
  retries, deadline, role, failure injection);
- ``transfer_options``: commands that move object bodies (get, put):
  part size and multipart threshold;
- ``allow_missing_option``: commands whose requests name one object each
  (get, info), where ``not_found`` can be forgiven.

``manifest_help(op)`` documents an op's manifest fields, from the request
type itself, with an example line.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Optional

import click

from s3op.protocol import REQUEST_TYPES

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
#: change with more threads. Forked workers share the 64 out (see ``cli._threads``).
PUT_THREADS = 64
DEFAULT_DEADLINE = 300.0
DEFAULT_PART_SIZE = 16 * 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 32 * 1024 * 1024
#: Read when ``--inject-failure-rate`` is not given.
INJECT_FAILURE_RATE_VAR = "S3OP_INJECT_FAILURE_RATE"

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _positive(ctx: click.Context, param: click.Parameter, value: Optional[int]) -> Optional[int]:
    if value is not None and value < 0:
        raise click.BadParameter("must be >= 0")
    return value


def _apply(options: List[Decorator]) -> Decorator:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def inputs_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--inputs``: the JSONL manifest (every command)."""
    return click.option(
        "--inputs",
        type=click.File("r", encoding="utf-8"),
        help="JSONL manifest, one request a line ('-' for stdin); fields below.",
    )(fn)


#: Options of every command that sends requests.
_RUN_OPTIONS: List[Decorator] = [
    click.option(
        "--num-workers",
        type=int,
        default=None,
        callback=_positive,
        help="Worker processes (0 = in-process threads; default: CPUs, or "
        f"in-process for batches of at most {IN_PROCESS_MAX} and on machines "
        f"with fewer than {FORK_MIN_CPUS} CPUs).",
    ),
    click.option(
        "--threads",
        type=click.IntRange(1, 256),
        default=None,
        help=f"Threads per worker [default: {DEFAULT_THREADS}; put: {PUT_THREADS}, "
        f"shared out among forked workers, at least {DEFAULT_THREADS} each].",
    ),
    click.option(
        "--retries",
        type=click.IntRange(1, 100),
        default=10,
        show_default=True,
        help="Attempts per request, the first included.",
    ),
    click.option(
        "--deadline",
        type=click.FloatRange(0.1),
        default=DEFAULT_DEADLINE,
        show_default=True,
        help="Seconds allowed per request, all attempts included.",
    ),
    click.option(
        "--role",
        default=None,
        help="IAM role ARN to assume once, in the parent. Session variables and "
        "client parameters come from $S3OP_SESSION_VARS / $S3OP_CLIENT_PARAMS (JSON).",
    ),
    click.option(
        "--inject-failure-rate",
        type=click.IntRange(0, 100),
        default=0,
        envvar=INJECT_FAILURE_RATE_VAR,
        show_envvar=True,
        show_default=True,
        metavar="N",
        help="Testing: fail about N% of attempts (retries included) with a "
        "transient 'injected failure' before the real request is sent, inside "
        "the normal retry loop. Each process draws from its own random.Random; "
        "100 fails every attempt (exit 3).",
    ),
]


#: Options of commands that move object bodies (get, put).
_TRANSFER_OPTIONS: List[Decorator] = [
    click.option(
        "--part-size",
        type=click.IntRange(5 * 1024 * 1024),
        default=DEFAULT_PART_SIZE,
        show_default=True,
        help="Bytes per ranged GET / multipart-upload part.",
    ),
    click.option(
        "--multipart-threshold",
        type=click.IntRange(1),
        default=DEFAULT_MULTIPART_THRESHOLD,
        show_default=True,
        help="Objects at least this big move in parts.",
    ),
]


def run_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options of every command that sends requests."""
    return _apply(_RUN_OPTIONS)(fn)


def transfer_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options of commands that move object bodies (get, put)."""
    return _apply(_TRANSFER_OPTIONS)(fn)


def allow_missing_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--allow-missing`` (get, info)."""
    return click.option(
        "--allow-missing",
        is_flag=True,
        help="not_found results do not make the exit code non-zero.",
    )(fn)


#: What each manifest field means, per op where it differs.
FIELD_TEXT: Dict[str, str] = {
    "idx": "integer echoed in the result line (default: the 0-based line number)",
    "url": "s3://bucket/key",
    "range": '"bytes=A-B", "bytes=A-" or "bytes=-N" (default: the whole object)',
    "local": "file to write (default: under --destination, see --layout)",
    "content_type": "Content-Type to store",
    "metadata": "any JSON object, stored as user metadata",
    "encryption": 'server-side encryption, e.g. "AES256" or "aws:kms"',
}
OP_FIELD_TEXT: Dict[str, Dict[str, str]] = {
    "get": {"url": "s3://bucket/key (with --recursive: s3://bucket/prefix/)"},
    "put": {"url": "s3://bucket/key (not ending in '/')", "local": "file to upload"},
    "list": {"url": "s3://bucket/prefix/ (a trailing '/' is implied)"},
}
#: One manifest line per op, shown in its --help (a test parses each).
EXAMPLES: Dict[str, str] = {
    "get": '{"url": "s3://bucket/data/a.csv", "range": "bytes=0-99", "local": "/tmp/a.csv"}',
    "put": '{"url": "s3://bucket/data/a.csv", "local": "a.csv", "content_type": "text/csv", '
    '"metadata": {"run": 7}}',
    "info": '{"url": "s3://bucket/data/a.csv"}',
    "list": '{"url": "s3://bucket/data/", "idx": 3}',
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
    "DEFAULT_DEADLINE",
    "DEFAULT_THREADS",
    "FORK_MIN_CPUS",
    "INJECT_FAILURE_RATE_VAR",
    "IN_PROCESS_MAX",
    "PUT_THREADS",
    "allow_missing_option",
    "inputs_option",
    "manifest_help",
    "run_options",
    "transfer_options",
]

"""The ``s3op`` command line: options -> requests -> engine -> result lines.

Thin by design: options are validated in callbacks, the manifest is parsed
once, the engine does the work, and only this process writes stdout (one
JSON line per result; see docs/cli.md for the format and exit codes).
"""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import sys
import time
import uuid
from typing import Any, Callable, List, Optional, Sequence, Union

import click

from s3op import jobs
from s3op.protocol import (
    ExitCode,
    GetRequest,
    InfoRequest,
    ListRequest,
    ProtocolError,
    PutRequest,
    Request,
    Result,
    read_manifest,
)

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
#: change with more threads. Forked workers share the 64 out (see ``_threads``).
PUT_THREADS = 64
DEFAULT_DEADLINE = 300.0
#: Set by ``s3op serve``: credentials are resolved once and clients reused.
SERVE_MODE = False
#: Bytes of result lines buffered between flushes (see ``buffer_stdout``).
STDOUT_BUFFER = 1 << 16


def _positive(ctx: click.Context, param: click.Parameter, value: Optional[int]) -> Optional[int]:
    if value is not None and value < 0:
        raise click.BadParameter("must be >= 0")
    return value


def common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options every subcommand takes."""
    options = [
        click.option(
            "--inputs",
            type=click.File("r", encoding="utf-8"),
            help="JSONL manifest, one request a line ('-' for stdin).",
        ),
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
            "--part-size",
            type=click.IntRange(5 * 1024 * 1024),
            default=16 * 1024 * 1024,
            show_default=True,
            help="Bytes per ranged GET / multipart-upload part.",
        ),
        click.option(
            "--multipart-threshold",
            type=click.IntRange(1),
            default=32 * 1024 * 1024,
            show_default=True,
            help="Objects at least this big move in parts.",
        ),
        click.option(
            "--allow-missing",
            is_flag=True,
            help="not_found results do not make the exit code non-zero.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Batch S3 operations; one JSON result line per request on stdout.

    Exit codes: 0 all ok, 1 some requests failed, 2 usage error or bad
    manifest, 3 failures remained after retries, 4 local disk full,
    130 interrupted.
    """
    buffer_stdout()


def buffer_stdout() -> None:
    """Make stdout buffered even under ``PYTHONUNBUFFERED`` or ``python -u``.

    The engine flushes its results once per wake-up (``_flush``), so every
    line still leaves as soon as the engine has nothing else to do. An
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


@main.command()
@click.argument("urls", nargs=-1)
@common_options
@click.option(
    "--destination",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Directory for downloads that give no 'local' path.",
)
@click.option(
    "--layout",
    type=click.Choice(["keys", "hashed"]),
    default="keys",
    show_default=True,
    help="keys: DEST/<key> (refusing keys that would escape DEST); "
    "hashed: DEST/<first hex digit of the hash>/<hash of URL>.",
)
@click.option("--recursive", is_flag=True, help="Each URL is a prefix: get every object under it.")
@click.option(
    "--info/--no-info",
    default=True,
    show_default=True,
    help="Report content type, metadata, encryption and modification time.",
)
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Check sizes and MD5/ETags (and server checksums where given).",
)
def get(
    urls: Sequence[str],
    destination: str,
    layout: str,
    recursive: bool,
    info: bool,
    verify: bool,
    **opts: Any,
) -> None:
    """Download objects (URLs, or a manifest of {url, range, local})."""
    requests = _requests("get", urls, opts["inputs"], lambda i, u: GetRequest(i, u))
    settings = _settings(opts, info=info, verify=verify)

    def plan(engine: Any) -> None:
        for req in requests:
            if recursive:
                engine.add(
                    jobs.ListJob(ListRequest(req.idx, req.url), recursive=True, for_get=True)
                )
            else:
                engine.add_get(req)

    _run(
        plan,
        settings,
        opts,
        len(requests) * (1000 if recursive else 1),
        destination=destination,
        layout=layout,
    )


@main.command()
@click.argument("pairs", nargs=-1)
@common_options
@click.option(
    "--overwrite/--no-overwrite",
    default=True,
    show_default=True,
    help="--no-overwrite: never replace an existing object (conditional write).",
)
def put(pairs: Sequence[str], overwrite: bool, **opts: Any) -> None:
    """Upload files (LOCAL URL pairs, or a manifest of {url, local, ...})."""
    if len(pairs) % 2:
        raise click.BadParameter("give LOCAL URL pairs", param_hint="PAIRS")
    urls = [f"{pairs[i]}\0{pairs[i + 1]}" for i in range(0, len(pairs), 2)]

    def from_pair(idx: int, pair: str) -> PutRequest:
        local, url = pair.split("\0")
        return PutRequest(idx, url, local)

    requests = _requests("put", urls, opts["inputs"], from_pair)
    _refuse_duplicates(requests)
    settings = _settings(opts, no_overwrite=not overwrite)
    _run(
        lambda engine: [engine.add(jobs.PutJob(r)) for r in requests],
        settings,
        opts,
        len(requests),
        default_threads=PUT_THREADS,
    )


@main.command()
@click.argument("urls", nargs=-1)
@common_options
def info(urls: Sequence[str], **opts: Any) -> None:
    """HEAD objects: size, content type, metadata, encryption, modification time."""
    requests = _requests("info", urls, opts["inputs"], lambda i, u: InfoRequest(i, u))
    _run(
        lambda engine: [engine.add(jobs.InfoJob(r)) for r in requests],
        _settings(opts),
        opts,
        len(requests),
    )


@main.command(name="list")
@click.argument("urls", nargs=-1)
@common_options
@click.option("--recursive", is_flag=True, help="Every object under each prefix (else one level).")
def list_(urls: Sequence[str], recursive: bool, **opts: Any) -> None:
    """List prefixes: objects, and (without --recursive) common prefixes."""
    requests = _requests("list", urls, opts["inputs"], lambda i, u: ListRequest(i, u))
    _run(
        lambda engine: [engine.add(jobs.ListJob(r, recursive)) for r in requests],
        _settings(opts),
        opts,
        len(requests),
    )


# ------------------------------------------------------------------ helpers


def _requests(
    op: str, args: Sequence[str], inputs: Any, make: Callable[[int, str], Any]
) -> List[Any]:
    if args and inputs is not None:
        raise click.UsageError("give URLs or --inputs, not both")
    try:
        requests: List[Request] = (
            read_manifest(op, inputs)
            if inputs is not None
            else [make(i, a) for i, a in enumerate(args)]
        )
    except ProtocolError as exc:
        raise click.BadParameter(str(exc), param_hint="--inputs") from None
    if not requests:
        raise click.UsageError("empty batch: give URLs or a non-empty --inputs manifest")
    seen = set()
    for req in requests:
        if req.idx in seen:
            raise click.BadParameter(f"duplicate idx {req.idx}", param_hint="--inputs")
        seen.add(req.idx)
    return requests


def _refuse_duplicates(requests: Sequence[Any]) -> None:
    seen = set()
    for req in requests:
        if req.url in seen:
            raise click.BadParameter(
                f"duplicate key in one batch: {req.url}", param_hint="--inputs"
            )
        seen.add(req.url)


def _settings(opts: Any, **flags: Any) -> jobs.Settings:
    return jobs.Settings(
        part_size=opts["part_size"],
        multipart_threshold=max(opts["multipart_threshold"], 1),
        tmp_tag=uuid.uuid4().hex[:12],
        file_mode=0o666 & ~_umask(),
        **flags,
    )


def _umask() -> int:
    mask = os.umask(0o022)  # read it (there is no getter), then put it back
    os.umask(mask)
    return mask


def _run(
    plan: Callable[[Any], Any],
    settings: jobs.Settings,
    opts: Any,
    size_hint: int,
    destination: str = ".",
    layout: str = "keys",
    default_threads: int = DEFAULT_THREADS,
) -> None:
    from s3op.engine import Engine
    from s3op.pool import Pool, WorkerSpec
    from s3op.retry import RetryPolicy

    processes = _processes(opts["num_workers"], size_hint)
    opts["threads"] = opts["threads"] or _threads(default_threads, processes)
    try:
        config = client_config(opts["role"], opts["threads"], opts["deadline"])
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    policy = RetryPolicy(max_attempts=opts["retries"], deadline=opts["deadline"])
    spec = WorkerSpec(config, policy, settings, opts["threads"])
    pool = Pool(spec, processes)
    engine = Engine(
        pool, settings, _write, opts["allow_missing"], destination, layout, flush=_flush
    )
    plan(engine)
    code = _run_engine(engine, pool)
    sys.stdout.flush()
    sys.exit(int(code))


def client_config(role: Optional[str], threads: int, deadline: float) -> Any:
    """The resolved client configuration of a run (ValueError if unusable)."""
    config = _config(role, threads * 2)
    # No single socket wait may outlast the per-request deadline.
    return dataclasses.replace(
        config,
        read_timeout=min(config.read_timeout, deadline),
        connect_timeout=min(config.connect_timeout, deadline),
    )


_RESOLVED: dict = {}
#: In serve mode a resolution (credentials, role) is reused for this long, then redone:
#: a server can outlive temporary credentials (assumed roles, SSO, instance roles), and
#: botocore refreshes those well before they expire (10-15 min ahead).
RESOLVE_TTL_SECONDS = 300.0


def _config(role: Optional[str], connections: int) -> Any:
    """Resolve credentials per call, or in serve mode at most every RESOLVE_TTL_SECONDS."""
    from s3op.client import config_from_env, resolve

    raw = config_from_env(role, connections)
    if not SERVE_MODE:
        return resolve(raw)
    key = repr(raw) + repr(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    cached = _RESOLVED.get(key)
    now = time.monotonic()
    if cached is None or now - cached[0] >= RESOLVE_TTL_SECONDS:
        cached = (now, resolve(raw))
        if cached[1].credentials is not None:  # a miss (e.g. IMDS timed out) is not kept
            _RESOLVED[key] = cached
    return cached[1]


def _threads(default: int, processes: int) -> int:
    """Threads per process when --threads is not given: ``default`` in-process;
    forked workers share it out (never below DEFAULT_THREADS each), so a
    many-CPU machine does not run CPUs x 64 uploads at once."""
    if processes <= 1:
        return default
    return max(DEFAULT_THREADS, default // processes)


def _processes(num_workers: Optional[int], size_hint: int) -> int:
    if num_workers is not None:
        return num_workers
    cpus = os.cpu_count() or 1
    if size_hint <= IN_PROCESS_MAX or cpus < FORK_MIN_CPUS:
        return 0
    return cpus


def _run_engine(engine: Any, pool: Any) -> ExitCode:
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


@main.command()
@click.option(
    "--idle-timeout",
    type=click.FloatRange(1),
    default=300.0,
    show_default=True,
    help="Exit after this many seconds without a command.",
)
@click.option(
    "--listen",
    "listen",
    metavar="PATH",
    default=None,
    help="Serve on a Unix socket at PATH (in a private 0700 directory) instead of "
    "stdin/stdout, one connection at a time.",
)
def serve(idle_timeout: float, listen: Optional[str]) -> None:
    """Run batch after batch from stdin: {"argv": [...]} per line.

    Each command's result lines are followed by one line
    {"end": true, "exit_code": N, "stderr": "..."}. Used by s3client so
    that small batches do not pay Python start-up and imports each time.
    """
    from s3op.serve import serve_forever, serve_socket

    if listen is None:
        serve_forever(idle_timeout)
    else:
        serve_socket(listen, idle_timeout)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _write(result: Union[Result, jobs.Found]) -> None:
    sys.stdout.write(result.lines() if isinstance(result, jobs.Found) else result.to_json() + "\n")


def _flush() -> None:
    """Results are flushed once per engine wake-up, not per line: a flush
    releases the GIL, and getting it back from busy workers costs up to
    the interpreter's switch interval each time."""
    sys.stdout.flush()

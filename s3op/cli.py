"""The ``s3op`` command line: options -> requests -> engine -> result lines.

Thin by design: options are validated in callbacks, the manifest is parsed
once, the engine does the work, and only this process writes stdout (one
JSON line per result; see docs/cli.md for the format and exit codes).
Options and their help live in ``s3op.cli_options``; building a batch's
requests, running the engine and writing stdout in ``s3op.cli_batch``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
import uuid
from typing import Any, Callable, Optional, Sequence

import click

from s3op import __version__, jobs
from s3op.cli_batch import (
    batch_requests,
    buffer_stdout,
    flush_results,
    put_from_pair,
    refuse_duplicate_keys,
    run_engine,
    write_result,
)
from s3op.cli_options import (  # noqa: F401 - DEFAULT_DEADLINE: s3op.serve reads it here
    DEFAULT_DEADLINE,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    DEFAULT_THREADS,
    FORK_MIN_CPUS,
    IN_PROCESS_MAX,
    PUT_THREADS,
    allow_missing_option,
    inputs_option,
    manifest_help,
    run_options,
    transfer_options,
)
from s3op.protocol import ExitCode, GetRequest, InfoRequest, ListRequest

#: Set by ``s3op serve``: credentials are resolved once and clients reused.
SERVE_MODE = False


class Interrupted(click.ClickException):
    """Ctrl-C outside the engine's own handling (start-up, mostly): exit 130."""

    exit_code = int(ExitCode.INTERRUPTED)

    def __init__(self) -> None:
        super().__init__("interrupted")

    def show(self, file: Any = None) -> None:
        """One line on stderr (click's own 'Aborted!' would exit 1)."""
        click.echo("s3op: interrupted", err=True)


class S3opGroup(click.Group):
    """The command group; a KeyboardInterrupt anywhere in it exits 130.

    click turns Ctrl-C into "Aborted!" and exit 1. Parsing options (opening
    ``--inputs``, reading the manifest) and starting up happen inside
    ``make_context`` and ``invoke``, so an interrupt there becomes
    ``Interrupted`` instead. Once the engine runs, ``cli_batch.run_engine``
    answers Ctrl-C itself (workers stopped, temp files removed), also 130.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        """Parse the command line; Ctrl-C meanwhile is ``Interrupted``."""
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted() from None

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; Ctrl-C before the engine answers it is ``Interrupted``."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted() from None


@click.group(cls=S3opGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="s3op", message="%(prog)s %(version)s")
def main() -> None:
    """Batch S3 operations; one JSON result line per request on stdout.

    Exit codes: 0 all ok, 1 some requests failed, 2 usage error or bad
    manifest, 3 failures remained after retries, 4 local disk full,
    130 interrupted.
    """
    buffer_stdout()


@main.command(epilog=manifest_help("get"))
@click.argument("urls", nargs=-1)
@inputs_option
@run_options
@transfer_options
@allow_missing_option
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
    """Download objects: URLs, or a manifest of {url, range, local}."""
    requests = batch_requests("get", urls, opts["inputs"], lambda i, u: GetRequest(i, u))
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


@main.command(epilog=manifest_help("put"))
@click.argument("pairs", nargs=-1)
@inputs_option
@run_options
@transfer_options
@click.option(
    "--overwrite/--no-overwrite",
    default=True,
    show_default=True,
    help="--no-overwrite: never replace an existing object (conditional write).",
)
def put(pairs: Sequence[str], overwrite: bool, **opts: Any) -> None:
    """Upload files: LOCAL URL pairs, or a manifest of {url, local, ...}.

    A URL ending in '/' names a folder: the file's base name is appended
    (`s3op put a.csv s3://b/dir/` writes s3://b/dir/a.csv), as `aws s3 cp`
    does. In a manifest, a url ending in '/' is refused.
    """
    if len(pairs) % 2:
        raise click.BadParameter("give LOCAL URL pairs", param_hint="PAIRS")
    urls = [f"{pairs[i]}\0{pairs[i + 1]}" for i in range(0, len(pairs), 2)]
    requests = batch_requests("put", urls, opts["inputs"], put_from_pair)
    refuse_duplicate_keys(requests)
    settings = _settings(opts, no_overwrite=not overwrite)
    _run(
        lambda engine: [engine.add(jobs.PutJob(r)) for r in requests],
        settings,
        opts,
        len(requests),
        default_threads=PUT_THREADS,
    )


@main.command(epilog=manifest_help("info"))
@click.argument("urls", nargs=-1)
@inputs_option
@run_options
@allow_missing_option
def info(urls: Sequence[str], **opts: Any) -> None:
    """HEAD objects: size, content type, metadata, encryption, modification time."""
    requests = batch_requests("info", urls, opts["inputs"], lambda i, u: InfoRequest(i, u))
    _run(
        lambda engine: [engine.add(jobs.InfoJob(r)) for r in requests],
        _settings(opts),
        opts,
        len(requests),
    )


@main.command(name="list", epilog=manifest_help("list"))
@click.argument("urls", nargs=-1)
@inputs_option
@run_options
@click.option("--recursive", is_flag=True, help="Every object under each prefix (else one level).")
def list_(urls: Sequence[str], recursive: bool, **opts: Any) -> None:
    """List prefixes: objects, and (without --recursive) common prefixes."""
    requests = batch_requests("list", urls, opts["inputs"], lambda i, u: ListRequest(i, u))
    _run(
        lambda engine: [engine.add(jobs.ListJob(r, recursive)) for r in requests],
        _settings(opts),
        opts,
        len(requests),
    )


# ------------------------------------------------------------------ helpers


def _settings(opts: Any, **flags: Any) -> jobs.Settings:
    return jobs.Settings(
        part_size=opts.get("part_size", DEFAULT_PART_SIZE),
        multipart_threshold=max(opts.get("multipart_threshold", DEFAULT_MULTIPART_THRESHOLD), 1),
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
    policy = RetryPolicy(
        max_attempts=opts["retries"],
        deadline=opts["deadline"],
        inject_failure_rate=opts["inject_failure_rate"],
    )
    spec = WorkerSpec(config, policy, settings, opts["threads"])
    pool = Pool(spec, processes)
    allow_missing = opts.get("allow_missing", False)
    engine = Engine(
        pool, settings, write_result, allow_missing, destination, layout, flush=flush_results
    )
    plan(engine)
    code = run_engine(engine, pool)
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

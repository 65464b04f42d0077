"""The ``s3op`` command line: options -> ``BatchCommand`` -> ``run_batch`` -> stdout.

Thin by design. The option table (``s3op.cli_options``) becomes click
options here, so values are validated as click parses them; the command's
requests and ``BatchOptions`` are built by ``s3op.cli_batch.build_batch``
(as ``s3op serve`` builds them, without click); ``s3op.run_batch`` does
the work, and only this process writes stdout (one JSON line per result;
see docs/cli.md for the format and exit codes).
"""

from __future__ import annotations

import sys
from typing import IO, Any, List, Optional, Sequence

import click

from s3op import __version__
from s3op.cli_batch import BatchCommand, build_batch
from s3op.cli_help import ARGUMENTS, HELP, manifest_help
from s3op.cli_options import (
    OPTIONS_OF,
    Choice,
    FloatRange,
    IntRange,
    Manifest,
    OptionSpec,
    Rate,
)
from s3op.options import BatchUsageError
from s3op.protocol import ExitCode
from s3op.stdout import buffer_stdout


class Interrupted(click.ClickException):
    """Ctrl-C outside ``run_batch``'s own handling (start-up, mostly): exit 130."""

    exit_code = int(ExitCode.INTERRUPTED)

    def __init__(self) -> None:
        super().__init__("interrupted")

    def show(self, file: Optional[IO[Any]] = None) -> None:
        """One line on stderr (click's own 'Aborted!' would exit 1)."""
        click.echo("s3op: interrupted", err=True)


class S3opGroup(click.Group):
    """The command group; a KeyboardInterrupt anywhere in it exits 130.

    click turns Ctrl-C into "Aborted!" and exit 1. Parsing options (opening
    ``--inputs``, reading the manifest) and starting up happen inside
    ``make_context`` and ``invoke``, so an interrupt there becomes
    ``Interrupted`` instead. Once a batch runs, ``run_batch`` answers Ctrl-C
    itself (workers stopped, temp files removed), also 130.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        """Parse the command line; Ctrl-C meanwhile is ``Interrupted``."""
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted() from None

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; Ctrl-C before the batch answers it is ``Interrupted``."""
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


# ------------------------------------------------------------ batch commands


def click_type(spec: OptionSpec) -> Any:
    """The click type checking ``spec``'s values (its bounds, from the table)."""
    kind = spec.kind
    if isinstance(kind, IntRange):
        return click.IntRange(kind.low, kind.high)
    if isinstance(kind, FloatRange):
        return click.FloatRange(kind.low)
    if isinstance(kind, Choice):
        return click.Choice(kind.choices)
    if isinstance(kind, Manifest):
        return click.File("r", encoding="utf-8")
    if isinstance(kind, Rate):
        return ConvertedBy(kind, "RATE")
    return click.Path(file_okay=False) if kind is not None and kind.directory else click.STRING


class ConvertedBy(click.ParamType):
    """A value kind of the table that click has no type for: the kind converts it."""

    def __init__(self, kind: Rate, name: str) -> None:
        self.kind = kind
        self.name = name

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Any) -> Any:
        """``kind.convert(value)``; its ValueError as click's usage error."""
        if not isinstance(value, str):
            return value
        try:
            return self.kind.convert(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def click_option(spec: OptionSpec) -> click.Option:
    """``spec`` as a click option."""
    if spec.kind is None:
        flag = spec.flag if spec.off is None else f"{spec.flag}/{spec.off}"
        return click.Option(
            [flag, spec.dest],
            is_flag=True,
            default=None if spec.default is None else bool(spec.default),  # None: auto
            help=spec.help,
            show_default=spec.show_default,
        )
    return click.Option(
        [spec.flag, spec.dest],
        type=click_type(spec),
        default=spec.default,
        help=spec.help,
        show_default=spec.show_default,
        envvar=spec.envvar,
        show_envvar=spec.envvar is not None,
        metavar=spec.metavar,
    )


def batch_command(op: str) -> click.Command:
    """The click command of ``op``: parse, build the batch, run it, exit with its code."""
    arguments = ARGUMENTS[op]

    def run(**values: Any) -> None:
        args: Sequence[str] = values.pop(arguments)
        inputs = values.pop("inputs")
        dask = values.pop("dask", None)
        cluster = (dask, values.pop("shard_size", 0), values.pop("ordered", False))
        if dask is not None:
            sys.exit(int(run_on_cluster(op, args, inputs, values, *cluster)))
        try:
            command = build_batch(op, args, values, inputs)
        except BatchUsageError as exc:
            raise click_error(exc) from None
        sys.exit(int(run_on_stdout(command, values.get("progress"))))

    params: List[click.Parameter] = [click.Argument([arguments], nargs=-1)]
    params += [click_option(spec) for spec in OPTIONS_OF[op]]
    return click.Command(op, callback=run, params=params, help=HELP[op], epilog=manifest_help(op))


def run_on_stdout(command: BatchCommand, progress: Optional[bool] = None) -> ExitCode:
    """Run the batch with its result lines on stdout, a progress bar and summary on
    stderr as ``progress`` says (None: when a terminal); say so if interrupted."""
    from s3op.batch import INTERRUPTED_NOTE, LineSink
    from s3op.cli_progress import run_reported

    try:
        code = run_reported(command, LineSink(sys.stdout), progress)
    except BatchUsageError as exc:
        raise click_error(exc) from None
    sys.stdout.flush()
    if code is ExitCode.INTERRUPTED:
        click.echo(INTERRUPTED_NOTE, err=True)
    return code


def run_on_cluster(
    op: str, args: Sequence[str], inputs: Any, values: Any, address: str, size: int, ordered: bool
) -> ExitCode:
    """``--dask``: the manifest's shards on a cluster (``s3op.cli_dask``)."""
    from s3op.batch import INTERRUPTED_NOTE
    from s3op.cli_dask import run_on_dask

    try:
        code = run_on_dask(op, args, inputs, values, address, size, ordered)
    except BatchUsageError as exc:
        raise click_error(exc) from None
    if code is ExitCode.INTERRUPTED:
        click.echo(INTERRUPTED_NOTE, err=True)
    return code


def click_error(exc: BatchUsageError) -> click.UsageError:
    """A refused batch, as click reports it (exit 2)."""
    if exc.param_hint is None:
        return click.UsageError(exc.message)
    return click.BadParameter(exc.message, param_hint=exc.param_hint)


for _op in OPTIONS_OF:
    main.add_command(batch_command(_op))


# ----------------------------------------------------------------------- serve


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
    (``python -m s3op serve`` reads these options without click when it can:
    ``s3op.serve.serve_args``; keep the two the same.)
    """
    from s3op.ipc import UnsafeDirectory
    from s3op.serve import ServeArgs, run_server

    try:
        run_server(ServeArgs(idle_timeout, listen))
    except UnsafeDirectory as exc:
        raise click.ClickException(str(exc)) from None

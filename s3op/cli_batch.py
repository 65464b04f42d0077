"""A batch command, from argv or from parsed options: op + requests + ``BatchOptions``.

Both ``s3op``'s click commands and ``s3op serve`` end here, without click:

- ``build_batch(op, args, values, inputs)`` makes the ``BatchCommand`` from
  option values already parsed (by click, or by ``scan_argv``), the
  positional arguments and the opened ``--inputs`` manifest;
- ``parse_batch_argv(argv)`` does the whole of it from an argv such as
  ``["get", "--inputs", PATH, "--recursive"]``, with the option table of
  ``s3op.cli_options`` (what ``s3op serve`` receives).

A bad option, argument or manifest line raises ``BatchUsageError`` (exit
2): the whole batch is refused before anything is sent. A manifest is
checked whole in a first pass that holds one line, then streamed to the
run (``s3op.manifest_stream.ManifestSource``): ``BatchCommand.requests`` is
then an iterable read from the file, not a list.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    TextIO,
    Tuple,
    Union,
    cast,
)

from s3op import __version__
from s3op.cli_options import OPTIONS_OF, OptionSpec
from s3op.manifest import url_problem
from s3op.manifest_stream import ManifestSource
from s3op.options import BatchOptions, BatchUsageError, options_from_values
from s3op.protocol import (
    CopyRequest,
    DeleteRequest,
    GetRequest,
    InfoRequest,
    ListRequest,
    PutRequest,
    Request,
    SyncRequest,
)


class ShowHelp(Exception):
    """``--help`` or ``--version`` instead of a batch: nothing to run, ``text`` to show."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class BatchCommand:
    """One batch, ready for ``s3op.run_batch``."""

    op: str  # "get", "put", "info", "list", "delete", "copy" or "sync"
    requests: Iterable[Request]  # a list (from argv) or a ManifestSource (--inputs)
    options: BatchOptions


# ------------------------------------------------------------------- argv


def parse_batch_argv(
    argv: Sequence[str],
    stdin: Optional[TextIO] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> BatchCommand:
    """The batch of ``s3op ARGV...``, parsed without click.

    ``--inputs -`` reads ``stdin`` (refused when None). Defaults read from
    the environment (``$S3OP_INJECT_FAILURE_RATE``) come from ``environ``
    (``os.environ`` when None). ``BatchUsageError`` for anything bad;
    ``ShowHelp`` for ``OP --help`` (``-h``) and ``--version``.
    """
    if list(argv[:1]) == ["--version"]:
        raise ShowHelp(f"s3op {__version__}")
    if not argv or argv[0] not in OPTIONS_OF:
        what = f"No such command {argv[0]!r}." if argv else "Missing command."
        raise BatchUsageError(f"{what} Commands: {', '.join(OPTIONS_OF)}.")
    op = argv[0]
    specs = OPTIONS_OF[op]
    options_part = argv[1 : argv.index("--")] if "--" in argv else argv[1:]
    if "--help" in options_part or "-h" in options_part:  # as click: before any checks
        from s3op.cli_help import command_help  # here: help is text start-up need not build

        raise ShowHelp(command_help(op))
    given, args = scan_argv(argv[1:], specs)
    values = {**option_defaults(specs, os.environ if environ is None else environ), **given}
    if values.get("dask") is not None:
        raise BatchUsageError("--dask runs from the s3op command line, not in s3op serve")
    path = values.pop("inputs")
    if path is None:
        return build_batch(op, args, values, None)
    _refuse_both(args)  # before the manifest is opened (it may be stdin)
    manifest = _open_manifest(str(path), stdin)
    try:
        return build_batch(op, args, values, manifest, owned=path != "-")
    except BatchUsageError:
        if path != "-":
            manifest.close()
        raise


def scan_argv(
    tokens: Sequence[str], specs: Sequence[OptionSpec]
) -> Tuple[Dict[str, Any], List[str]]:
    """(option values by name, positional arguments) of ``tokens``, as click reads
    them: ``--opt VALUE``, ``--opt=VALUE``, flags, and ``--`` ending the options."""
    by_flag = {s.flag: s for s in specs}
    by_flag.update({s.off: s for s in specs if s.off is not None})
    values: Dict[str, Any] = {}
    args: List[str] = []
    rest = iter(tokens)
    for token in rest:
        if token == "--":
            args.extend(rest)
        elif not token.startswith("-") or token == "-":
            args.append(token)
        else:
            name, eq, inline = token.partition("=")
            spec = by_flag.get(name)
            if spec is None:
                raise BatchUsageError(f"No such option: {name}")
            values[spec.dest] = _value(spec, name, inline if eq else None, rest)
    return values, args


def _value(spec: OptionSpec, name: str, inline: Optional[str], rest: Iterator[str]) -> Any:
    """The value of one option given as ``name``: a flag's on/off, or the next token."""
    if spec.kind is None:
        if inline is not None:
            raise BatchUsageError(f"Option '{name}' does not take a value.")
        return name != spec.off
    text = inline if inline is not None else next(rest, None)
    if text is None:
        raise BatchUsageError(f"Option '{name}' requires an argument.")
    return convert(spec, text)


def convert(spec: OptionSpec, text: str) -> Any:
    """``text`` as a value of ``spec``; ``BatchUsageError`` naming the option if bad."""
    assert spec.kind is not None
    try:
        return spec.kind.convert(text)
    except ValueError as exc:
        raise BatchUsageError(str(exc), param_hint=f"'{spec.flag}'") from None


def option_defaults(specs: Sequence[OptionSpec], environ: Mapping[str, str]) -> Dict[str, Any]:
    """The value of every option not given: from its environment variable, if set."""
    values: Dict[str, Any] = {}
    for spec in specs:
        text = environ.get(spec.envvar) if spec.envvar else None
        values[spec.dest] = spec.default if text is None else convert(spec, text)
    return values


def _open_manifest(path: str, stdin: Optional[TextIO]) -> TextIO:
    """The manifest at ``path`` (``-``: ``stdin``), open (the ``ManifestSource``
    made of it closes a file it opened when it is collected)."""
    if path == "-":
        if stdin is None:
            raise BatchUsageError("no stdin to read a manifest from", param_hint="'--inputs'")
        return stdin
    try:
        return open(path, encoding="utf-8")
    except OSError as exc:
        message = f"{path!r}: {exc.strerror}."
        raise BatchUsageError(message, param_hint="'--inputs'") from None


# --------------------------------------------------------------- requests


def build_batch(
    op: str,
    args: Sequence[str],
    values: Mapping[str, Any],
    inputs: Optional[Iterable[str]],
    owned: bool = False,
) -> BatchCommand:
    """The batch of ``op`` from its arguments (or the ``inputs`` manifest's lines)
    and its option values by name. ``owned``: the batch's requests close the
    ``inputs`` stream when they are collected."""
    if op in ("put", "copy"):
        if len(args) % 2:
            pair = "LOCAL URL" if op == "put" else "SRC DST"
            raise BatchUsageError(f"give {pair} pairs", param_hint="PAIRS")
        args = [f"{args[i]}\0{args[i + 1]}" for i in range(0, len(args), 2)]
    if op == "sync":
        args = sync_args(args, values)
    requests = batch_requests(op, args, inputs, _MAKERS[op], owned)
    if op in ("put", "copy") and isinstance(requests, list):  # a manifest's: checked as read
        refuse_duplicate_keys(requests)
    return BatchCommand(op, requests, options_from_values(values))


def batch_requests(
    op: str,
    args: Sequence[str],
    inputs: Optional[Iterable[str]],
    make: Callable[[int, str], Request],
    owned: bool = False,
) -> Union[List[Request], ManifestSource]:
    """The batch's requests, from the arguments (a list) or the manifest (checked
    whole, then streamed); ``BatchUsageError`` (exit 2, nothing sent) for a bad
    manifest line or argument, or none at all."""
    requests: Union[List[Request], ManifestSource]
    if inputs is not None:
        _refuse_both(args)
        requests = _manifest_source(op, inputs, owned)
    else:
        requests = [make(i, a) for i, a in enumerate(args)]
        _check_args(op, requests)
    if not len(requests):
        raise BatchUsageError("empty batch: give URLs or a non-empty --inputs manifest")
    return requests


def _manifest_source(op: str, inputs: Iterable[str], owned: bool) -> ManifestSource:
    """The checked source of a manifest: a stream (a file, stdin) is read twice,
    any other iterable of lines (a list, in tests) is checked and held."""
    if hasattr(inputs, "readline"):  # a file, or click's wrapper of stdin
        return ManifestSource.checked(op, cast(TextIO, inputs), owned)
    return ManifestSource.checked(op, io.StringIO("".join(_ended(inputs))))


def _ended(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        yield line if line.endswith("\n") else line + "\n"


def _refuse_both(args: Sequence[str]) -> None:
    """A batch comes from its arguments or from ``--inputs``, never both."""
    if args:
        raise BatchUsageError("give URLs or --inputs, not both")


def put_from_pair(idx: int, pair: str) -> PutRequest:
    """The put request of one ``LOCAL\\0URL`` pair. A URL ending in ``/`` names a
    folder and gets the local file's base name appended, as with ``aws s3 cp``."""
    local, url = pair.split("\0")
    if url.endswith("/"):
        url += os.path.basename(local)
    return PutRequest(idx, url, local)


def sync_args(args: Sequence[str], values: Mapping[str, Any]) -> List[str]:
    """``SRC DST`` as the one argument ``_MAKERS["sync"]`` reads (none: a manifest)."""
    if not args:
        return []
    if len(args) != 2:
        raise BatchUsageError("give SRC DST (two paths or URLs)", param_hint="PATHS")
    flags = ("1" if values.get("delete") else "") + "\0" + str(values.get("compare", "checksum"))
    return [f"{args[0]}\0{args[1]}\0{flags}"]


def sync_from_args(idx: int, joined: str) -> SyncRequest:
    """The sync request of ``sync_args``'s argument."""
    src, dst, delete, compare = joined.split("\0")
    return SyncRequest(idx, src, dst, delete=bool(delete), compare=compare)


def copy_from_pair(idx: int, pair: str) -> CopyRequest:
    """The copy request of one ``SRC\\0DST`` pair. A DST ending in ``/`` names a
    folder and gets the source key's base name appended."""
    source, url = pair.split("\0")
    if url.endswith("/"):
        url += source.rstrip("/").rpartition("/")[2]
    return CopyRequest(idx, url, source)


_MAKERS: Dict[str, Callable[[int, str], Request]] = {
    "get": lambda i, url: GetRequest(i, url),
    "put": put_from_pair,
    "info": lambda i, url: InfoRequest(i, url),
    "list": lambda i, url: ListRequest(i, url),
    "sync": sync_from_args,
    "delete": lambda i, url: DeleteRequest(i, url),
    "copy": copy_from_pair,
}


def refuse_duplicate_keys(requests: Sequence[Request]) -> None:
    """Two puts to one key in a batch: a usage error (which would win is a race)."""
    seen = set()
    for req in requests:
        if req.url in seen:
            raise BatchUsageError(f"duplicate key in one batch: {req.url}", param_hint="--inputs")
        seen.add(req.url)


def _check_args(op: str, requests: Sequence[Request]) -> None:
    """Refuse a URL argument that a manifest line could not give either."""
    for req in requests:
        problem = url_problem(op, req.url)
        if isinstance(req, CopyRequest) and not req.source.startswith("s3://"):
            problem = f"copies from {req.source[:200]!r}, which is not an s3:// URL"
        if problem is not None:
            hint = "PAIRS" if op in ("put", "copy") else "URLS"
            raise BatchUsageError(f"{req.url[:200]!r} {problem}", param_hint=hint)


__all__ = [
    "BatchCommand",
    "ShowHelp",
    "batch_requests",
    "build_batch",
    "convert",
    "option_defaults",
    "parse_batch_argv",
    "put_from_pair",
    "refuse_duplicate_keys",
    "scan_argv",
]

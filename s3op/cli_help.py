"""The help of ``s3op``'s batch commands: each command's text, its
arguments' name, ``s3op serve``'s plain-text ``--help`` and each op's
manifest fields with an example line. Read by both parsers (``s3op.cli``,
``s3op.cli_batch``); the options themselves are ``s3op.cli_options``.
"""

from __future__ import annotations

import dataclasses
import textwrap
from typing import Dict

from s3op.cli_options import (
    OPTIONS_OF,
    Choice,
    FloatRange,
    IntRange,
    Manifest,
    Rate,
    Text,
)
from s3op.protocol import REQUEST_TYPES

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
    "source_size": "the source's size, as its HEAD said (with source_etag: no HEAD again)",
    "source_etag": "the source's ETag, as its HEAD said; the copy is pinned to it",
    "source_crc32": "the source's whole-object CRC32 (base64), if it has one",
    "source_encryption": "the source's server-side encryption, if any",
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
    width = max(13, *(len(f.name) + 2 for f in fields))
    for f in [*fields[1:], fields[0]]:  # idx (first, and optional) goes last
        required = f.default is dataclasses.MISSING and f.name != "idx"
        text = OP_FIELD_TEXT.get(op, {}).get(f.name, FIELD_TEXT[f.name])
        rows.append(f"  {f.name:<{width}}{'required' if required else 'optional'}  {text}")
    return "\n".join(
        ["Manifest fields (--inputs, one JSON object a line):", "", "\b", *rows, "", "\b"]
        + ["Example line:", f"  {EXAMPLES[op]}"]
    )


__all__ = ["ARGUMENTS", "EXAMPLES", "HELP", "command_help", "manifest_help"]

"""Turning what users pass into S3 URLs and HTTP ranges, before anything runs.

Three ways to address objects, chosen by the ``S3`` constructor:

1. ``run=``: the root is the configured root (``S3CLIENT_S3ROOT``, else
   metaflow's ``METAFLOW_DATATOOLS_S3ROOT``, else its
   ``METAFLOW_DATASTORE_SYSROOT_S3`` + ``/data``, from the environment or
   metaflow's config files: see ``s3client.config``) with
   ``bucket=``/``prefix=`` replacing its bucket/path, plus
   ``/<FlowName>/<RunId>``.
2. ``s3root=``: the root is given (it must start with ``s3://``).
3. neither: every key must be a full ``s3://`` URL.

With a root, keys are suffixes: ``root + "/" + key.lstrip("/")``, and an
empty or None key is the root itself. Every URL is checked with
``s3op.protocol.parse_url``; problems raise ``S3URLError``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Optional, Tuple

from s3op.protocol import parse_object_url, parse_url

from .config import METAFLOW_S3ROOT_VAR, METAFLOW_SYSROOT_VAR, S3ROOT_VAR, Config
from .errors import S3InvalidRange, S3URLError


def choose_root(
    config: Config, run: Any, s3root: Optional[str], bucket: Optional[str], prefix: Optional[str]
) -> Optional[str]:
    """The client's root URL (no trailing ``/``), or None for full-URL mode.

    ``s3root=""`` is full-URL mode, as in metaflow (which tests ``if s3root``).
    """
    if run is not None:
        return root_from_run(run, config, bucket=bucket, prefix=prefix)
    if s3root is not None and s3root != "":
        return root_from_s3root(s3root)
    return None


def check_url(url: str) -> str:
    """Return ``url`` if ``parse_url`` accepts it, else raise S3URLError."""
    try:
        parse_url(url)
    except ValueError as exc:
        raise S3URLError.about(url, str(exc)) from None
    return url


def root_from_s3root(s3root: Any) -> str:
    """The root for ``S3(s3root=...)``: checked, without a trailing ``/``."""
    if not isinstance(s3root, str) or not s3root.startswith("s3://"):
        raise S3URLError.about(repr(s3root), "s3root must start with s3://")
    return check_url(s3root.rstrip("/"))


def root_from_run(
    run: Any, config: Config, bucket: Optional[str] = None, prefix: Optional[str] = None
) -> str:
    """The root for ``S3(run=...)``: configured root (overridden) + flow/run id.

    The configured root is needed unless ``bucket`` is given.
    """
    flow_name, run_id = run_ids(run)
    base_bucket, base_path = _configured_base(config, bucket)
    path = prefix or base_path
    parts = [p for p in (path.strip("/"), flow_name, run_id) if p]
    return check_url(f"s3://{bucket or base_bucket}/" + "/".join(parts))


def _configured_base(config: Config, bucket: Optional[str]) -> Tuple[str, str]:
    """Bucket and path of the configured root ("", "" when bucket overrides it)."""
    if config.s3root is None:
        if bucket:
            return "", ""
        raise S3URLError(
            f"S3(run=...) needs an S3 root: set {S3ROOT_VAR} (or metaflow's "
            f"{METAFLOW_S3ROOT_VAR} or {METAFLOW_SYSROOT_VAR}, in the environment "
            "or metaflow's config.json) to an s3://bucket/prefix URL, or pass bucket="
        )
    if not config.s3root.startswith("s3://"):
        raise S3URLError.about(config.s3root, f"{config.s3root_var} must start with s3://")
    parsed = parse_url(check_url(config.s3root))
    return parsed.bucket, parsed.key


def run_ids(run: Any) -> Tuple[str, str]:
    """``(flow_name, run_id)`` of a run given as a string, a Run or a FlowSpec.

    Accepted: ``"Flow/RunId"``; an object whose ``pathspec`` is
    ``"Flow/RunId"`` (a metaflow ``Run``); a FlowSpec inside a running
    flow (``metaflow.current`` gives the names). Anything else, including a
    FlowSpec outside a running flow, raises S3URLError.
    """
    if isinstance(run, str):
        return _split_pathspec(run)
    if _is_flowspec(run):
        return current_flow_run()
    pathspec = getattr(run, "pathspec", None)
    if isinstance(pathspec, str):
        return _split_pathspec(pathspec)
    return current_flow_run()


def _split_pathspec(pathspec: str) -> Tuple[str, str]:
    parts = pathspec.strip("/").split("/")
    if len(parts) != 2 or not all(parts):
        raise S3URLError.about(pathspec, "run must be 'FlowName/RunId'")
    return parts[0], parts[1]


def _is_flowspec(run: Any) -> bool:
    # A FlowSpec instance means metaflow is already imported: no import cost.
    metaflow = sys.modules.get("metaflow")
    flowspec = getattr(metaflow, "FlowSpec", None)
    return isinstance(flowspec, type) and isinstance(run, flowspec)


def current_flow_run() -> Tuple[str, str]:
    """``(flow_name, run_id)`` of the metaflow run executing this code."""
    try:
        current = importlib.import_module("metaflow").current
    except ImportError:
        raise S3URLError(
            "S3(run=...) got neither 'Flow/RunId' nor a Run, and metaflow "
            "is not installed to tell the current run"
        ) from None
    if not current.is_running_flow:
        raise S3URLError(
            "S3(run=self) with a FlowSpec works only inside a running flow; "
            "pass run='FlowName/RunId' or s3root= instead"
        )
    return str(current.flow_name), str(current.run_id)


def resolve_url(root: Optional[str], key: Any) -> str:
    """The checked S3 URL of ``key`` under ``root`` (see the module docstring)."""
    if isinstance(key, (bytes, bytearray)):
        key = bytes(key).decode("utf-8")
    if key is not None and not isinstance(key, str):
        raise S3URLError.about(repr(key), "a key must be a string")
    if root is None:
        if not key or not key.startswith("s3://"):
            raise S3URLError.about(
                key, "without s3root= or run= every key must be a full s3:// URL"
            )
        return check_url(key)
    if not key:
        return root
    if key.startswith("s3://"):
        raise S3URLError.about(key, f"use a key relative to the root {root}, not a full s3:// URL")
    return check_url(root + "/" + key.lstrip("/"))


def resolve_object_url(root: Optional[str], key: Any) -> str:
    """``resolve_url`` for one object: ``s3://bucket/`` (an empty key) is refused.

    Checked before anything runs, so a batch holding one such key uploads
    nothing at all.
    """
    url = resolve_url(root, key)
    try:
        parse_object_url(url)
    except ValueError as exc:
        raise S3URLError.about(url, str(exc)) from None
    return url


def as_prefix(url: str) -> str:
    """``url`` with exactly one trailing ``/`` (``s3://b`` becomes ``s3://b/``)."""
    return url.rstrip("/") + "/"


def range_header(url: str, offset: Optional[int] = 0, length: Optional[int] = -1) -> Optional[str]:
    """The HTTP Range for ``S3GetObject(url, offset, length)``; None = whole object.

    ===============================  ===================================
    ``offset >= 0``, length < 0      ``bytes=offset-`` (0: no range)
    ``offset=None``, length < 0      ``bytes=-N``: the last ``-length``
    length > 0                       ``bytes=offset-(offset+length-1)``
    length == 0 or offset < 0        S3InvalidRange
    ===============================  ===================================

    ``length=None`` counts as negative; ``offset=None`` with a positive
    length counts as 0.
    """
    _check_range_types(url, offset, length)
    if length == 0:
        raise S3InvalidRange.about(url, "length 0 asks for no bytes")
    if offset is not None and offset < 0:
        raise S3InvalidRange.about(url, f"negative offset {offset}")
    if length is None or length < 0:
        if offset is None:
            return None if length is None else f"bytes=-{-length}"
        return None if offset == 0 else f"bytes={offset}-"
    start = offset or 0
    return f"bytes={start}-{start + length - 1}"


def _check_range_types(url: str, offset: Any, length: Any) -> None:
    for name, value in (("offset", offset), ("length", length)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise S3InvalidRange.about(url, f"{name} must be an integer, not {value!r}")


__all__ = [
    "as_prefix",
    "check_url",
    "choose_root",
    "current_flow_run",
    "range_header",
    "resolve_url",
    "root_from_run",
    "root_from_s3root",
    "run_ids",
]

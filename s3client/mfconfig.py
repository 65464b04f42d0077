"""Metaflow's S3 settings, read as ``metaflow.metaflow_config`` reads them.

metaflow is not imported (it may be absent, and importing it costs ~0.3 s).
A setting ``METAFLOW_<NAME>`` is looked up as metaflow's ``from_conf`` does,
the first place holding the name winning (an empty value included):

1. the environment;
2. ``.metaflow/config.json`` in the nearest directory, walking up from the
   current one, that has a ``.metaflow`` directory (metaflow's per-project file);
3. the profile's file: ``$METAFLOW_HOME/config_$METAFLOW_PROFILE.json``, or
   ``$METAFLOW_HOME/config.json`` without a profile; ``METAFLOW_HOME`` defaults
   to ``~/.metaflowconfig``. A profile whose file is missing is an error.

The settings, and what they become (``MetaflowSettings``):

========================================  ========================================
``METAFLOW_DATATOOLS_S3ROOT``             the root for ``S3(run=...)``; when unset,
``METAFLOW_DATASTORE_SYSROOT_S3``         the root is ``SYSROOT/SUFFIX`` (posix
``METAFLOW_DATATOOLS_SUFFIX``             join; suffix default ``data``)
``METAFLOW_DATATOOLS_CLIENT_PARAMS``      boto3 client params (a JSON object)
``METAFLOW_S3_ENDPOINT_URL``              its ``endpoint_url`` unless it has one
``METAFLOW_S3_VERIFY_CERTIFICATE``        its ``verify`` (replacing any there)
``METAFLOW_DATATOOLS_SESSION_VARS``       boto3 session variables (a JSON object)
``METAFLOW_S3_SERVER_SIDE_ENCRYPTION``    server-side encryption for uploads
``METAFLOW_S3_RETRY_COUNT``               retries after the first attempt
``METAFLOW_S3_WORKER_COUNT``              engine processes
``METAFLOW_TEMPDIR``                      parent of the client's temp dir
``METAFLOW_S3_TEST_RETRYABLE_FAILURES``   failure injection, percent (environment
                                          only: metaflow reads no file for it)
========================================  ========================================

metaflow's own defaults (7 retries, 64 workers, tempdir ``.``) are not
copied: an unset setting is None and our engine's default applies.
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

HOME_VAR = "METAFLOW_HOME"
PROFILE_VAR = "METAFLOW_PROFILE"
DEFAULT_HOME = "~/.metaflowconfig"
LOCAL_DIR = ".metaflow"  # metaflow's DATASTORE_LOCAL_DIR
LOCAL_FILE = "config.json"  # metaflow's LOCAL_CONFIG_FILE

S3ROOT = "METAFLOW_DATATOOLS_S3ROOT"
SYSROOT = "METAFLOW_DATASTORE_SYSROOT_S3"
SUFFIX = "METAFLOW_DATATOOLS_SUFFIX"
CLIENT_PARAMS = "METAFLOW_DATATOOLS_CLIENT_PARAMS"
ENDPOINT_URL = "METAFLOW_S3_ENDPOINT_URL"
VERIFY_CERTIFICATE = "METAFLOW_S3_VERIFY_CERTIFICATE"
SESSION_VARS = "METAFLOW_DATATOOLS_SESSION_VARS"
ENCRYPTION = "METAFLOW_S3_SERVER_SIDE_ENCRYPTION"
RETRY_COUNT = "METAFLOW_S3_RETRY_COUNT"
WORKER_COUNT = "METAFLOW_S3_WORKER_COUNT"
TEMPDIR = "METAFLOW_TEMPDIR"
INJECT_FAILURES = "METAFLOW_S3_TEST_RETRYABLE_FAILURES"

#: Every environment variable this module reads (tests clear them all).
METAFLOW_VARS = (
    HOME_VAR,
    PROFILE_VAR,
    S3ROOT,
    SYSROOT,
    SUFFIX,
    CLIENT_PARAMS,
    ENDPOINT_URL,
    VERIFY_CERTIFICATE,
    SESSION_VARS,
    ENCRYPTION,
    RETRY_COUNT,
    WORKER_COUNT,
    TEMPDIR,
    INJECT_FAILURES,
)

Source = Tuple[str, Mapping[str, Any]]  # (file path, or "" for the environment; settings)


@dataclass(frozen=True)
class MetaflowSettings:
    """metaflow's S3 settings (see the module docstring); None when unset."""

    s3root: Optional[str] = None  # root for run= mode
    s3root_source: Optional[str] = None  # where s3root came from, for messages
    client_params: Dict[str, Any] = field(default_factory=dict)  # for session.client("s3")
    session_vars: Dict[str, Any] = field(default_factory=dict)  # for boto3.Session
    encryption: Optional[str] = None  # ServerSideEncryption for uploads
    retry_count: Optional[int] = None  # retries after the first attempt
    worker_count: Optional[int] = None  # engine processes
    tempdir: Optional[str] = None  # parent of the temp dir
    inject_failure_rate: int = 0  # percent of requests failing on purpose

    @classmethod
    def load(cls, env: Mapping[str, str], cwd: Optional[str] = None) -> MetaflowSettings:
        """Read the settings from ``env`` and metaflow's config files.

        ``cwd`` (default: the current directory) is where the search for a
        ``.metaflow`` directory starts. ValueError names the setting (and its
        file) when a value is malformed or a profile's file is missing.
        """
        sources = config_sources(env, os.getcwd() if cwd is None else cwd)
        s3root, s3root_source = _s3root(sources)
        return cls(
            s3root=s3root,
            s3root_source=s3root_source,
            client_params=_client_params(sources),
            session_vars=_json_object(sources, SESSION_VARS),
            encryption=_text(sources, ENCRYPTION),
            retry_count=_count(sources, RETRY_COUNT),
            worker_count=_count(sources, WORKER_COUNT),
            tempdir=_text(sources, TEMPDIR) or None,
            inject_failure_rate=_inject_failure_rate(env),
        )


def config_sources(env: Mapping[str, str], cwd: str) -> List[Source]:
    """Where settings are looked up, in order: environment, project file, profile file."""
    sources: List[Source] = [("", env)]
    for path in (local_config_path(cwd), profile_config_path(env)):
        if path is not None:
            sources.append((path, _read_json_file(path)))
    return sources


def local_config_path(cwd: str) -> Optional[str]:
    """The ``.metaflow/config.json`` metaflow would read from ``cwd``, if it exists.

    The walk up stops at the first ``.metaflow`` directory, with or without
    a ``config.json`` in it.
    """
    current = cwd
    check = os.path.realpath(os.path.join(current, LOCAL_DIR))
    while not os.path.isdir(check):
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
        check = os.path.join(current, LOCAL_DIR)
    path = os.path.join(check, LOCAL_FILE)
    return path if os.path.exists(path) else None


def profile_config_path(env: Mapping[str, str]) -> Optional[str]:
    """The profile's config file, or None when there is none and no profile is set."""
    home = env.get(HOME_VAR, DEFAULT_HOME)
    profile = env.get(PROFILE_VAR)
    name = f"config_{profile}.json" if profile else "config.json"
    path = _expand_user(os.path.join(home, name), env)
    if os.path.exists(path):
        return path
    if profile:
        raise ValueError(f"{PROFILE_VAR} is {profile!r} but there is no {path}")
    return None


def _expand_user(path: str, env: Mapping[str, str]) -> str:
    if path == "~" or path.startswith("~/"):
        home = env.get("HOME") or os.path.expanduser("~")
        return home + path[1:]
    return os.path.expanduser(path)


def _read_json_file(path: str) -> Mapping[str, Any]:
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except ValueError as exc:
            raise ValueError(f"metaflow config {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"metaflow config {path} must hold a JSON object")
    return data


def lookup(sources: List[Source], name: str) -> Tuple[Any, str]:
    """``(value, where)`` of setting ``name``; ``(None, "")`` when no source holds it.

    ``where`` names the setting, and its file when it came from one.
    """
    for path, settings in sources:
        if name in settings:
            return settings[name], f"{name} in {path}" if path else name
    return None, ""


def _text(sources: List[Source], name: str) -> Optional[str]:
    return _checked_text(*lookup(sources, name))


def _checked_text(value: Any, where: str) -> Optional[str]:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{where} must be a string, not {value!r}")
    return value


def _s3root(sources: List[Source]) -> Tuple[Optional[str], Optional[str]]:
    """metaflow's DATATOOLS_S3ROOT: when set (even empty) it wins, else it is
    derived from the datastore's root; ``(root, where)``, or (None, None)."""
    root, where = lookup(sources, S3ROOT)
    if not where:
        sysroot, where = lookup(sources, SYSROOT)
        root = _checked_text(sysroot, where)
        if root:
            suffix, _ = lookup(sources, SUFFIX)
            root = posixpath.join(root, "data" if suffix is None else str(suffix))
    root = _checked_text(root, where)
    return (root, where) if root else (None, None)


def _client_params(sources: List[Source]) -> Dict[str, Any]:
    """metaflow's DATATOOLS_CLIENT_PARAMS, with its endpoint and verify rules."""
    params = _json_object(sources, CLIENT_PARAMS)
    endpoint = _text(sources, ENDPOINT_URL)
    if endpoint:
        params.setdefault("endpoint_url", endpoint)
    verify, _ = lookup(sources, VERIFY_CERTIFICATE)
    if verify:
        params["verify"] = verify
    return params


def _json_object(sources: List[Source], name: str) -> Dict[str, Any]:
    value, where = lookup(sources, name)
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{where} must be valid JSON, not {value!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a JSON object, not {value!r}")
    return dict(value)


def _count(sources: List[Source], name: str) -> Optional[int]:
    value, where = lookup(sources, name)
    if value is None:
        return None
    return _whole_number(value, where)


def _whole_number(value: Any, where: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0 or isinstance(value, (bool, float)):
        raise ValueError(f"{where} must be a whole number >= 0, not {value!r}")
    return number


def _inject_failure_rate(env: Mapping[str, str]) -> int:
    if INJECT_FAILURES not in env:
        return 0
    rate = _whole_number(env[INJECT_FAILURES], INJECT_FAILURES)
    if rate > 100:
        raise ValueError(f"{INJECT_FAILURES} must be a percentage 0..100, not {rate}")
    return rate


__all__ = [
    "METAFLOW_VARS",
    "MetaflowSettings",
    "config_sources",
    "local_config_path",
    "lookup",
    "profile_config_path",
]

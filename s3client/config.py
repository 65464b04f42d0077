"""Configuration: environment variables, metaflow's settings, and ``S3(**kwargs)``.

Our variables:

=============================  ==============================================
``S3CLIENT_S3ROOT``            root for ``S3(run=...)``, e.g. ``s3://bucket/data``
``S3CLIENT_ENDPOINT_URL``      S3 endpoint URL (boto3's ``endpoint_url``)
``S3CLIENT_TMPROOT``           where temp dirs go (default: the system temp dir)
``S3CLIENT_NUM_WORKERS``       default for the engine's ``--num-workers``
                               (0: the engine runs threads in one process)
``S3CLIENT_RETRIES``           default for the engine's ``--retries`` (attempts
                               per request, the first included; 1..100)
``S3CLIENT_DEBUG``             ``1``/``true``/``yes``/``on``: keep the temp dir
                               (downloads, manifests) when the client closes
``S3CLIENT_ENGINE``            ``shared`` (default: batches go to one warm
                               ``s3op serve`` shared by this user's processes
                               with the same settings; see s3client/shared.py),
                               ``private`` (alias ``persistent``: a reused
                               ``s3op serve`` of this process only) or
                               ``one-shot`` (alias ``subprocess``: a fresh
                               ``python -m s3op`` per batch); see
                               s3client/engine_process.py
``S3CLIENT_SHARED_IDLE``       seconds a shared server idles before it exits
                               (default 60)
=============================  ==============================================

metaflow's settings (``M:`` below) are read by ``s3client.mfconfig``, as
metaflow reads them but without importing it. Precedence, highest first:

==================  ===========================================================
setting             sources, highest first
==================  ===========================================================
root for ``run=``   ``S3(bucket=, prefix=)`` (each replaces its part of the
                    root) > ``S3CLIENT_S3ROOT`` > M: ``METAFLOW_DATATOOLS_S3ROOT``
                    > M: ``METAFLOW_DATASTORE_SYSROOT_S3`` + ``/`` +
                    M: ``METAFLOW_DATATOOLS_SUFFIX`` (default ``data``)
endpoint URL        ``S3(client_params={"endpoint_url": ...})``
                    > ``S3CLIENT_ENDPOINT_URL``
                    > ``endpoint_url`` in M: ``METAFLOW_DATATOOLS_CLIENT_PARAMS``
                    > M: ``METAFLOW_S3_ENDPOINT_URL``
                    > ``AWS_ENDPOINT_URL_S3`` > ``AWS_ENDPOINT_URL`` (botocore's)
other client        ``S3(client_params=)``, key by key
params              > M: ``METAFLOW_DATATOOLS_CLIENT_PARAMS`` (its ``verify``
                    replaced by M: ``METAFLOW_S3_VERIFY_CERTIFICATE``)
session vars        ``S3(session_vars=)``, key by key
                    > M: ``METAFLOW_DATATOOLS_SESSION_VARS``
upload encryption   ``S3(encryption=)`` (None counts as not given)
                    > M: ``METAFLOW_S3_SERVER_SIDE_ENCRYPTION`` > none
engine processes    ``S3(num_workers=)`` > ``S3CLIENT_NUM_WORKERS``
                    > M: ``METAFLOW_S3_WORKER_COUNT`` > the engine's default
attempts/request    ``S3(retries=)`` > ``S3CLIENT_RETRIES``
                    > M: ``METAFLOW_S3_RETRY_COUNT`` + 1 (at most 100)
                    > the engine's default
temp dir parent     ``S3(tmproot=)`` > ``S3CLIENT_TMPROOT``
                    > M: ``METAFLOW_TEMPDIR`` > the system temp dir
failure injection   ``S3(inject_failure_rate=)`` (0..100 percent)
                    > ``METAFLOW_S3_TEST_RETRYABLE_FAILURES`` (environment
                    only, as in metaflow) > 0
==================  ===========================================================

Each ``M:`` setting is looked up as metaflow does: the environment, then
the nearest ``.metaflow/config.json`` up from the current directory, then
the profile's file (``$METAFLOW_HOME/config.json``, or
``config_$METAFLOW_PROFILE.json``; ``METAFLOW_HOME`` defaults to
``~/.metaflowconfig``). A variable set to an empty string counts as set.
So a ``METAFLOW_DATATOOLS_S3ROOT`` in a file beats a
``METAFLOW_DATASTORE_SYSROOT_S3`` in the environment. metaflow's own
defaults (7 retries, 64 workers) are not copied. Unlike metaflow,
``client_params=``/``session_vars=`` are merged over the configured ones
instead of replacing them.

Nothing is read at import time: ``Config.from_env()`` runs in ``S3()``, so a
variable set after ``import s3client`` still counts.

``EngineOptions`` checks the keyword options of ``S3()`` (``role``,
``session_vars``, ``client_params``, ``num_workers``, ``threads``,
``retries``, ``deadline``, ``inject_failure_rate``, ``max_bandwidth``) and
splits them into engine flags and engine environment: the boto3 settings,
which may hold secrets, go only into ``S3OP_SESSION_VARS`` /
``S3OP_CLIENT_PARAMS`` (JSON), never onto the command line.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from s3op.protocol import CLIENT_PARAMS_ENV, MAX_RETRIES, SESSION_VARS_ENV

from .mfconfig import MetaflowSettings

S3ROOT_VAR = "S3CLIENT_S3ROOT"
METAFLOW_S3ROOT_VAR = "METAFLOW_DATATOOLS_S3ROOT"
METAFLOW_SYSROOT_VAR = "METAFLOW_DATASTORE_SYSROOT_S3"
ENDPOINT_URL_VAR = "S3CLIENT_ENDPOINT_URL"
TMPROOT_VAR = "S3CLIENT_TMPROOT"
NUM_WORKERS_VAR = "S3CLIENT_NUM_WORKERS"
RETRIES_VAR = "S3CLIENT_RETRIES"
DEBUG_VAR = "S3CLIENT_DEBUG"
ENGINE_VAR = "S3CLIENT_ENGINE"
ENGINE_KINDS = ("shared", "private", "persistent", "one-shot", "subprocess")
#: The most attempts per request the engine accepts (its ``--retries``).

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class Config:
    """Settings taken from the environment and metaflow's config (see the module docstring)."""

    s3root: Optional[str]  # root for run= mode, None when unset
    s3root_var: Optional[str]  # where s3root came from: a variable (and its file)
    tmproot: str  # parent directory of each client's temp dir
    num_workers: Optional[int]  # engine processes; None = engine default
    debug: bool  # keep temp dirs on close
    engine: str = "shared"  # "shared", "persistent" (reused s3op serve) or "subprocess"
    retries: Optional[int] = None  # attempts per request; None = engine default
    client_params: Dict[str, Any] = field(default_factory=dict)  # under S3(client_params=)
    session_vars: Dict[str, Any] = field(default_factory=dict)  # under S3(session_vars=)
    encryption: Optional[str] = None  # for uploads when S3(encryption=None)
    inject_failure_rate: int = 0  # percent; under S3(inject_failure_rate=)

    @classmethod
    def from_env(
        cls, environ: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None
    ) -> Config:
        """Read the configuration from ``environ`` (default ``os.environ``) and
        metaflow's config files (the project file is searched from ``cwd``,
        default the current directory). ValueError names a malformed setting."""
        env = os.environ if environ is None else environ
        mf = MetaflowSettings.load(env, cwd)
        s3root, s3root_var = _s3root(env, mf)
        return cls(
            s3root=s3root,
            s3root_var=s3root_var,
            tmproot=env.get(TMPROOT_VAR) or mf.tempdir or tempfile.gettempdir(),
            num_workers=_first(_count(env, NUM_WORKERS_VAR), mf.worker_count),
            debug=env.get(DEBUG_VAR, "").strip().lower() in _TRUE_WORDS,
            engine=_engine_kind(env),
            retries=_retries(env, mf),
            client_params=_client_params(env, mf),
            session_vars=dict(mf.session_vars),
            encryption=mf.encryption or None,
            inject_failure_rate=mf.inject_failure_rate,
        )


def _first(value: Optional[int], fallback: Optional[int]) -> Optional[int]:
    return fallback if value is None else value


def _s3root(env: Mapping[str, str], mf: MetaflowSettings) -> Tuple[Optional[str], Optional[str]]:
    value = env.get(S3ROOT_VAR)
    if value:
        return value, S3ROOT_VAR
    return mf.s3root, mf.s3root_source


def _retries(env: Mapping[str, str], mf: MetaflowSettings) -> Optional[int]:
    attempts = _count(env, RETRIES_VAR)
    if attempts is not None and not 1 <= attempts <= MAX_RETRIES:
        raise ValueError(f"{RETRIES_VAR} must be 1..{MAX_RETRIES}, not {attempts}")
    if attempts is None and mf.retry_count is not None:
        attempts = min(mf.retry_count + 1, MAX_RETRIES)  # metaflow counts retries only
    return attempts


def _client_params(env: Mapping[str, str], mf: MetaflowSettings) -> Dict[str, Any]:
    params = dict(mf.client_params)
    endpoint = env.get(ENDPOINT_URL_VAR)
    if endpoint:
        params["endpoint_url"] = endpoint
    return params


def _engine_kind(env: Mapping[str, str]) -> str:
    kind = (env.get(ENGINE_VAR) or "shared").strip().lower()
    if kind not in ENGINE_KINDS:
        raise ValueError(f"{ENGINE_VAR} must be one of {ENGINE_KINDS}, not {kind!r}")
    return kind


def _count(env: Mapping[str, str], name: str) -> Optional[int]:
    text = env.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, not {text!r}")
    return value


_OPTION_NAMES = frozenset(
    {"role", "session_vars", "client_params", "num_workers", "threads"}
    | {"retries", "deadline", "inject_failure_rate", "max_bandwidth", "journal"}
)


@dataclass(frozen=True)
class EngineOptions:
    """The ``S3(**kwargs)`` options that configure the engine, over ``Config``'s.

    ``role``, the worker counts, retries and failure injection become
    command-line flags; ``session_vars`` and ``client_params`` (which may
    hold secrets) travel only as JSON environment variables (``engine_env``).
    """

    role: Optional[str] = None  # IAM role ARN, assumed once by the engine
    session_vars: Optional[Dict[str, Any]] = None  # boto3.Session(**session_vars)
    client_params: Optional[Dict[str, Any]] = None  # session.client("s3", **...)
    num_workers: Optional[int] = None  # engine processes (0: threads in the engine itself)
    threads: Optional[int] = None  # threads per engine process
    retries: Optional[int] = None  # attempts per request, the first included
    deadline: Optional[float] = None  # seconds per request, all attempts included
    inject_failure_rate: Optional[int] = None  # percent of requests failed on purpose
    max_bandwidth: Optional[int] = None  # bytes/s each way, the whole engine
    journal: Optional[str] = None  # a directory: one journal per get/put batch (--journal)

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], config: Config) -> EngineOptions:
        """Check ``S3(**kwargs)``; TypeError for unknown or mistyped options,
        ValueError for values out of range. Unset options take ``config``'s."""
        unknown = sorted(set(kwargs) - _OPTION_NAMES)
        if unknown:
            raise TypeError(f"S3() got unexpected keyword argument(s): {', '.join(unknown)}")
        given = {name: kwargs.get(name) for name in _OPTION_NAMES}
        return cls(
            role=_optional_str("role", given["role"]),
            session_vars=_merged(
                config.session_vars, _json_dict("session_vars", given["session_vars"])
            ),
            client_params=_merged(
                config.client_params, _json_dict("client_params", given["client_params"])
            ),
            num_workers=_at_least(0, "num_workers", _or(given["num_workers"], config.num_workers)),
            threads=_at_least(1, "threads", given["threads"]),
            retries=_in_range(1, MAX_RETRIES, "retries", _or(given["retries"], config.retries)),
            deadline=_seconds("deadline", given["deadline"]),
            inject_failure_rate=_in_range(
                0,
                100,
                "inject_failure_rate",
                _or(given["inject_failure_rate"], config.inject_failure_rate),
            ),
            max_bandwidth=_rate(given["max_bandwidth"]),
            journal=_journal_dir(given["journal"]),
        )

    def flags(self) -> List[str]:
        """Engine flags common to every batch (never any secret)."""
        flags: List[str] = []
        if self.num_workers is not None:
            flags += ["--num-workers", str(self.num_workers)]
        if self.threads is not None:
            flags += ["--threads", str(self.threads)]
        if self.role is not None:
            flags += ["--role", self.role]
        if self.retries is not None:
            flags += ["--retries", str(self.retries)]
        if self.deadline is not None:
            flags += ["--deadline", repr(self.deadline)]
        if self.inject_failure_rate:
            flags += ["--inject-failure-rate", str(self.inject_failure_rate)]
        if self.max_bandwidth is not None:
            flags += ["--max-bandwidth", str(self.max_bandwidth)]
        return flags

    def env(self) -> Dict[str, str]:
        """Environment variables for the engine (boto3 settings as JSON)."""
        return engine_env(self.session_vars, self.client_params)


def _rate(value: Any) -> Optional[int]:
    """``max_bandwidth=`` in bytes a second (``"50MB/s"`` or a number); None: no cap.
    ``BandwidthError`` (a ValueError) for anything else."""
    if value is None:
        return None
    from s3op.bandwidth import parse_rate  # here: only a capped client needs it

    return parse_rate(value)


def _journal_dir(value: Any) -> Optional[str]:
    """``S3(journal=DIR)``: the directory's absolute path, made (0700) if missing."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"journal must be a directory path, not {type(value).__name__}")
    path = os.path.abspath(os.fspath(value))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"journal must name a directory (one journal per batch): {path!r}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _or(given: Any, configured: Any) -> Any:
    return configured if given is None else given


def _merged(
    configured: Mapping[str, Any], given: Optional[Dict[str, Any]]
) -> Optional[Dict[str, Any]]:
    """``given`` over ``configured``, key by key; None when neither has anything."""
    if given is None and not configured:
        return None
    return {**configured, **(given or {})}


def _seconds(name: str, value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0.1:
        raise TypeError(f"{name} must be a number of seconds >= 0.1, not {value!r}")
    return float(value)


def _optional_str(name: str, value: Any) -> Optional[str]:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"S3({name}=...) must be a string")
    return value


def _json_dict(name: str, value: Any) -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"S3({name}=...) must be a dict")
    try:
        json.dumps(dict(value))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"S3({name}=...) must be JSON-encodable (give botocore Config options as a dict): {exc}"
        ) from None
    return dict(value)


def _at_least(minimum: int, name: str, value: Any) -> Optional[int]:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"S3({name}=...) must be an integer")
    if value < minimum:
        raise ValueError(f"S3({name}=...) must be at least {minimum}, not {value}")
    return value


def _in_range(minimum: int, maximum: int, name: str, value: Any) -> Optional[int]:
    checked = _at_least(minimum, name, value)
    if checked is not None and checked > maximum:
        raise ValueError(f"S3({name}=...) must be at most {maximum}, not {checked}")
    return checked


def engine_env(
    session_vars: Optional[Mapping[str, object]], client_params: Optional[Mapping[str, object]]
) -> Dict[str, str]:
    """Environment variables carrying boto3 settings to the engine, as JSON."""
    env: Dict[str, str] = {}
    if session_vars is not None:
        env[SESSION_VARS_ENV] = json.dumps(dict(session_vars))
    if client_params is not None:
        env[CLIENT_PARAMS_ENV] = json.dumps(dict(client_params))
    return env


__all__ = [
    "CLIENT_PARAMS_ENV",
    "Config",
    "DEBUG_VAR",
    "ENDPOINT_URL_VAR",
    "EngineOptions",
    "MAX_RETRIES",
    "METAFLOW_S3ROOT_VAR",
    "METAFLOW_SYSROOT_VAR",
    "NUM_WORKERS_VAR",
    "RETRIES_VAR",
    "S3ROOT_VAR",
    "SESSION_VARS_ENV",
    "TMPROOT_VAR",
    "engine_env",
]

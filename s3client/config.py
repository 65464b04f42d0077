"""Configuration: environment variables, and the engine options of ``S3(**kwargs)``.

=============================  ==============================================
``S3CLIENT_S3ROOT``            root for ``S3(run=...)``, e.g. ``s3://bucket/data``
``METAFLOW_DATATOOLS_S3ROOT``  used when ``S3CLIENT_S3ROOT`` is not set
``S3CLIENT_TMPROOT``           where temp dirs go (default: the system temp dir)
``S3CLIENT_NUM_WORKERS``       default for the engine's ``--num-workers``
                               (0: the engine runs threads in one process)
``S3CLIENT_DEBUG``             ``1``/``true``/``yes``/``on``: keep the temp dir
                               (downloads, manifests) when the client closes
``S3CLIENT_ENGINE``            ``shared`` (default: batches go to one warm
                               ``s3op serve`` shared by this user's processes
                               with the same settings; see s3client/shared.py),
                               ``persistent`` (a reused ``s3op serve`` of this
                               process only) or ``subprocess`` (a fresh
                               ``python -m s3op`` per batch)
``S3CLIENT_SHARED_IDLE``       seconds a shared server idles before it exits
                               (default 60)
=============================  ==============================================

Nothing is read at import time: ``Config.from_env()`` runs in ``S3()``, so a
variable set after ``import s3client`` still counts.

``EngineOptions`` checks the keyword options of ``S3()`` (``role``,
``session_vars``, ``client_params``, ``num_workers``, ``threads``,
``retries``, ``deadline``) and
splits them into engine flags and engine environment: the boto3 settings,
which may hold secrets, go only into ``S3OP_SESSION_VARS`` /
``S3OP_CLIENT_PARAMS`` (JSON), never onto the command line.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

S3ROOT_VAR = "S3CLIENT_S3ROOT"
METAFLOW_S3ROOT_VAR = "METAFLOW_DATATOOLS_S3ROOT"
TMPROOT_VAR = "S3CLIENT_TMPROOT"
NUM_WORKERS_VAR = "S3CLIENT_NUM_WORKERS"
DEBUG_VAR = "S3CLIENT_DEBUG"
ENGINE_VAR = "S3CLIENT_ENGINE"
ENGINE_KINDS = ("shared", "persistent", "subprocess")
#: Environment variables carrying boto3 settings to the engine (as JSON).
SESSION_VARS_ENV = "S3OP_SESSION_VARS"
CLIENT_PARAMS_ENV = "S3OP_CLIENT_PARAMS"

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class Config:
    """Settings taken from the environment (see the module docstring)."""

    s3root: Optional[str]  # root for run= mode, None when unset
    s3root_var: Optional[str]  # which variable s3root came from
    tmproot: str  # parent directory of each client's temp dir
    num_workers: Optional[int]  # engine processes; None = engine default
    debug: bool  # keep temp dirs on close
    engine: str = "shared"  # "shared", "persistent" (reused s3op serve) or "subprocess"

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> Config:
        """Read the configuration from ``environ`` (default ``os.environ``)."""
        env = os.environ if environ is None else environ
        s3root, s3root_var = _s3root(env)
        return cls(
            s3root=s3root,
            s3root_var=s3root_var,
            tmproot=env.get(TMPROOT_VAR) or tempfile.gettempdir(),
            num_workers=_count(env, NUM_WORKERS_VAR),
            debug=env.get(DEBUG_VAR, "").strip().lower() in _TRUE_WORDS,
            engine=_engine_kind(env),
        )


def _s3root(env: Mapping[str, str]) -> tuple[Optional[str], Optional[str]]:
    for name in (S3ROOT_VAR, METAFLOW_S3ROOT_VAR):
        value = env.get(name)
        if value:
            return value, name
    return None, None


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


@dataclass(frozen=True)
class EngineOptions:
    """The ``S3(**kwargs)`` options that configure the engine.

    ``role`` and the worker counts become command-line flags;
    ``session_vars`` and ``client_params`` (which may hold secrets) travel
    only as JSON environment variables (``engine_env``).
    """

    role: Optional[str] = None  # IAM role ARN, assumed once by the engine
    session_vars: Optional[Dict[str, Any]] = None  # boto3.Session(**session_vars)
    client_params: Optional[Dict[str, Any]] = None  # session.client("s3", **...)
    num_workers: Optional[int] = None  # engine processes (0: threads in the engine itself)
    threads: Optional[int] = None  # threads per engine process
    retries: Optional[int] = None  # attempts per request, the first included
    deadline: Optional[float] = None  # seconds per request, all attempts included

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], config: Config) -> EngineOptions:
        """Check ``S3(**kwargs)``; TypeError for unknown or mistyped options."""
        names = {"role", "session_vars", "client_params", "num_workers", "threads"}
        names |= {"retries", "deadline"}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(f"S3() got unexpected keyword argument(s): {', '.join(unknown)}")
        workers = kwargs.get("num_workers")
        return cls(
            role=_optional_str("role", kwargs.get("role")),
            session_vars=_json_dict("session_vars", kwargs.get("session_vars")),
            client_params=_json_dict("client_params", kwargs.get("client_params")),
            num_workers=_at_least(
                0, "num_workers", workers if workers is not None else config.num_workers
            ),
            threads=_at_least(1, "threads", kwargs.get("threads")),
            retries=_at_least(1, "retries", kwargs.get("retries")),
            deadline=_seconds("deadline", kwargs.get("deadline")),
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
        return flags

    def env(self) -> Dict[str, str]:
        """Environment variables for the engine (boto3 settings as JSON)."""
        return engine_env(self.session_vars, self.client_params)


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
    "EngineOptions",
    "METAFLOW_S3ROOT_VAR",
    "NUM_WORKERS_VAR",
    "S3ROOT_VAR",
    "SESSION_VARS_ENV",
    "TMPROOT_VAR",
    "engine_env",
]

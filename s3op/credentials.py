"""Resolving a batch's client configuration, once per run or once per few minutes.

Resolving (credentials from the environment, files, SSO or an instance
role; a role assumed; the endpoint) is done in the parent, never per
worker. A one-shot run resolves afresh (``client_config`` with no cache).
A long-lived engine (``s3op serve``, a Dask worker) owns a
``CredentialCache`` and passes it in ``BatchOptions.credentials``: each
resolution is reused for ``RESOLVE_TTL_SECONDS``, then done again (a
change in the configuration files is seen within that time).

Temporary credentials do not wait for either: a resolution that found
them carries ``ClientConfig.live``, which a thread of the parent keeps
fresh for as long as the resolution is used, in every worker process
(``s3op.live_credentials``). So a batch, or a warm server, outlives them.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from typing import Callable, Dict, Optional, Tuple

from s3op.client import ClientConfig, config_from_env, resolve

#: How long a cached resolution is reused, in seconds.
RESOLVE_TTL_SECONDS = 300.0


class CredentialCache:
    """Resolved client configurations of one long-lived engine, by configuration.

    The key is the unresolved configuration plus every ``AWS_*`` variable of
    the environment, so a change of either resolves again. A resolution
    that found no credentials (the metadata service timed out, say) is not
    kept: the next batch tries again. Thread-safe.
    """

    def __init__(
        self, ttl: float = RESOLVE_TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._resolved: Dict[str, Tuple[float, ClientConfig]] = {}
        self._lock = threading.Lock()

    def resolve(self, raw: ClientConfig) -> ClientConfig:
        """``raw`` resolved: the cached resolution while younger than ``ttl``.

        The pool size is no part of a resolution: configurations differing only
        in it (a get's threads and a put's) share one, each keeping its own size.
        """
        pool = raw.max_pool_connections
        plain = dataclasses.replace(raw, max_pool_connections=0)
        key = repr(plain) + repr(sorted((k, v) for k, v in os.environ.items() if k[:4] == "AWS_"))
        with self._lock:
            cached = self._resolved.get(key)
            now = self._clock()
            if cached is not None and now - cached[0] < self.ttl:
                kept = cached[1]
                same = kept.max_pool_connections == pool
                return kept if same else dataclasses.replace(kept, max_pool_connections=pool)
            config = resolve(raw)
            if config.credentials is not None:
                self._resolved[key] = (now, config)
            return config

    def clear(self) -> None:
        """Forget every resolution (the next batch resolves afresh)."""
        with self._lock:
            self._resolved.clear()


def client_config(
    role: Optional[str], threads: int, deadline: float, cache: Optional[CredentialCache] = None
) -> ClientConfig:
    """The resolved client configuration of a run with ``threads`` threads a process
    (ValueError if the environment's settings are unusable).

    Resolved afresh without a ``cache``. No single socket wait may outlast
    the per-request ``deadline``.
    """
    raw = config_from_env(role, threads * 2)
    config = resolve(raw) if cache is None else cache.resolve(raw)
    return dataclasses.replace(
        config,
        read_timeout=min(config.read_timeout, deadline),
        connect_timeout=min(config.connect_timeout, deadline),
    )


__all__ = ["RESOLVE_TTL_SECONDS", "CredentialCache", "client_config"]

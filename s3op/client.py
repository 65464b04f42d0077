"""Building botocore clients: once per worker, never across a fork.

``ClientConfig`` is resolved once in the parent (credentials included, so
N workers do not each ask the metadata service or STS) and handed to the
workers, which build their own client with ``make_client`` after they start.
Secrets arrive through the environment (``S3OP_SESSION_VARS``,
``S3OP_CLIENT_PARAMS``), never through argv.

What a worker gets is a ``Transport`` (``s3op.transport``): the lean fast
path (``s3op.fastpath.FastClient``) where the configuration allows it,
else botocore's (``s3op.botocore_transport``); ``worker_transport`` is
the one place a worker builds it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

from s3op.live_credentials import (
    Frozen,
    LiveCredentials,
    Refresher,
    expiry_of,
    frozen_of,
    is_refreshable,
)
from s3op.protocol import CLIENT_PARAMS_ENV, FAST_ENV, SESSION_VARS_ENV
from s3op.transport import Transport

if TYPE_CHECKING:
    from botocore.session import Session


@dataclass(frozen=True)
class Credentials:
    """Frozen credentials resolved in the parent (picklable)."""

    access_key: str
    secret_key: str
    token: Optional[str] = None


@dataclass(frozen=True)
class ClientConfig:
    """Everything a worker needs to build its client (picklable)."""

    session_vars: Dict[str, Any] = field(default_factory=dict)
    client_params: Dict[str, Any] = field(default_factory=dict)
    role: Optional[str] = None
    credentials: Optional[Credentials] = None
    max_pool_connections: int = 64
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    fast: Optional[Tuple[str, str, bool]] = None  # (endpoint, region, path style) or None
    # Temporary credentials, kept fresh by the parent (``credentials`` is their first set).
    live: Optional[LiveCredentials] = field(default=None, compare=False, repr=False)


def _json_env(name: str) -> Dict[str, Any]:
    text = os.environ.get(name)
    if not text:
        return {}
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"{name} must hold a JSON object")
    return value


def config_from_env(role: Optional[str] = None, max_pool_connections: int = 64) -> ClientConfig:
    """Read session vars and client params from the environment."""
    return ClientConfig(
        session_vars=_json_env(SESSION_VARS_ENV),
        client_params=_json_env(CLIENT_PARAMS_ENV),
        role=role,
        max_pool_connections=max_pool_connections,
    )


_FAST_PARAMS = {"endpoint_url", "region_name", "config"}
_FAST_CONFIG = {"retries", "connect_timeout", "read_timeout", "max_pool_connections", "s3"}


def resolve(config: ClientConfig) -> ClientConfig:
    """Resolve credentials and the fast-path endpoint, once, in the parent."""
    quick = _resolve_from_env(config)
    if quick is not None:
        return quick
    session = botocore_session(config.session_vars)  # one for both: ~75 ms each on AWS
    config = resolve_credentials(config, session)
    return dataclasses.replace(config, fast=_fast_endpoint(config, session))


def _resolve_from_env(config: ClientConfig) -> Optional[ClientConfig]:
    """``resolve`` without a botocore session, when environment variables say it all.

    botocore reads these variables before any config file: its credential
    chain starts with ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (token:
    ``AWS_SECURITY_TOKEN``, then ``AWS_SESSION_TOKEN``), the region comes from
    ``AWS_DEFAULT_REGION`` and the endpoint from ``AWS_ENDPOINT_URL_S3`` /
    ``AWS_ENDPOINT_URL``. When all of them are set (or given as client
    parameters) the answer is the one a session would give, and the engine
    skips importing ``botocore.session`` and reading config files (~35 ms of
    every start). Anything else (a role, session variables, expiring
    credentials, a region or endpoint only in a config file) takes the
    session path.
    """
    env = os.environ
    access, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if config.role or config.session_vars or not access or not secret:
        return None
    if env.get("AWS_CREDENTIAL_EXPIRATION") or env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        return None
    region = config.client_params.get("region_name") or env.get("AWS_DEFAULT_REGION")
    endpoint = _explicit_endpoint(config)
    if not region or not endpoint:
        return None
    token = next((env[v] for v in ("AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN") if v in env), None)
    config = dataclasses.replace(config, credentials=Credentials(access, secret, token or None))
    fast = _fast_target(config, region, endpoint) if _fast_allowed(config) else None
    return dataclasses.replace(config, fast=fast)


def _fast_endpoint(config: ClientConfig, session: Session) -> Optional[Tuple[str, str, bool]]:
    """Where the lean HTTP path may send requests; None when only botocore should."""
    if not _fast_allowed(config):
        return None
    region = (
        config.client_params.get("region_name")
        or session.get_config_variable("region")
        or "us-east-1"
    )
    endpoint = _explicit_endpoint(config)
    if endpoint:
        return _fast_target(config, region, endpoint)
    style = _addressing_style(config)
    if session.get_config_variable("endpoint_url") or style == "path":
        return None  # an endpoint from a config file: leave it to botocore
    return f"https://s3.{region}.amazonaws.com", region, False


def _fast_allowed(config: ClientConfig) -> bool:
    if os.environ.get(FAST_ENV) == "0" or config.credentials is None:
        return False
    params = config.client_params
    user_config = params.get("config") or {}
    if set(params) - _FAST_PARAMS or not isinstance(user_config, dict):
        return False  # proxies, custom TLS, a Config object...: botocore knows best
    return not set(user_config) - _FAST_CONFIG


def _explicit_endpoint(config: ClientConfig) -> Optional[str]:
    """The endpoint URL given as a client parameter or in the environment, if any."""
    return (
        config.client_params.get("endpoint_url")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )


def _addressing_style(config: ClientConfig) -> Optional[str]:
    user_config = config.client_params.get("config") or {}
    return (user_config.get("s3") or {}).get("addressing_style")


def _fast_target(
    config: ClientConfig, region: str, endpoint: str
) -> Optional[Tuple[str, str, bool]]:
    """The fast path's (endpoint, region, path style) for an explicit endpoint URL
    (call only when ``_fast_allowed``)."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None  # botocore reports an unusable endpoint clearly, per request
    return endpoint, region, _addressing_style(config) != "virtual"


def botocore_session(session_vars: Dict[str, Any]) -> Session:
    """A botocore session for boto3-style ``session_vars``.

    boto3 itself is not needed to resolve credentials and the region, and
    importing it (with s3transfer) costs ~0.1 s of every engine start.
    """
    import botocore.session

    known = {
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "region_name",
        "profile_name",
    }
    unknown = set(session_vars) - known
    if unknown:
        raise ValueError(f"unknown session variable(s): {sorted(unknown)}")
    session = botocore.session.Session(profile=session_vars.get("profile_name"))
    if session_vars.get("aws_access_key_id") or session_vars.get("aws_secret_access_key"):
        session.set_credentials(
            str(session_vars.get("aws_access_key_id") or ""),
            str(session_vars.get("aws_secret_access_key") or ""),
            session_vars.get("aws_session_token"),
        )
    if session_vars.get("region_name"):
        session.set_config_variable("region", session_vars["region_name"])
    return session


def resolve_credentials(config: ClientConfig, session: Optional[Session] = None) -> ClientConfig:
    """Resolve credentials once (assuming ``role`` if set); return a new config.

    Temporary credentials (``role``, or any botocore gives as refreshable)
    come with ``live``: the parent keeps them fresh there for the workers
    (``s3op.live_credentials``). When no credentials can be found the config
    is returned unchanged and each request fails with ``access_denied``
    naming the cause.
    """
    session = session or botocore_session(config.session_vars)
    found = assumed_role(session, config) if config.role else session.get_credentials()
    if found is None:
        return config
    frozen = frozen_of(found)
    if not frozen.access_key or not frozen.secret_key:
        return config
    creds = Credentials(frozen.access_key, frozen.secret_key, frozen.token)
    live = None
    if is_refreshable(found):
        live = LiveCredentials(frozen, expiry_of(found))
        Refresher(found, live)  # a daemon thread, ending once ``live`` is gone
    return dataclasses.replace(config, credentials=creds, live=live)


def assumed_role(session: Session, config: ClientConfig) -> Any:
    """botocore's refreshable credentials of ``config.role``, assumed with the
    session's credentials (and assumed again before they expire)."""
    from botocore.credentials import RefreshableCredentials

    sts: Any = session.create_client("sts", **_sts_params(config.client_params))

    def assume() -> Dict[str, Any]:
        resp = sts.assume_role(RoleArn=config.role, RoleSessionName="s3op")
        c = resp["Credentials"]
        return {
            "access_key": c["AccessKeyId"],
            "secret_key": c["SecretAccessKey"],
            "token": c["SessionToken"],
            "expiry_time": c["Expiration"].isoformat(),
        }

    return RefreshableCredentials.create_from_metadata(assume(), assume, "s3op-assume-role")


def _sts_params(client_params: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in client_params.items() if k in ("region_name", "verify")}


_CLIENTS: Dict[str, Transport] = {}
_CLIENTS_LOCK = threading.Lock()
#: Clients kept per process: a long-lived server re-resolves credentials (new config,
#: new client) every few minutes; the oldest clients are dropped.
MAX_CACHED_CLIENTS = 8


def cached_client(config: ClientConfig) -> Transport:
    """One client per config for this process (thread-safe; never used after a fork)."""
    key = repr(config)
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            while len(_CLIENTS) >= MAX_CACHED_CLIENTS:
                _CLIENTS.pop(next(iter(_CLIENTS)))
            _CLIENTS[key] = make_client(config)
        return _CLIENTS[key]


def forget_clients() -> None:
    """Drop cached clients (a forked child must build its own)."""
    with _CLIENTS_LOCK:
        _CLIENTS.clear()


def make_client(config: ClientConfig) -> Transport:
    """The transport a worker uses: the lean fast path where possible, else botocore.

    Call it inside the worker that uses it (never across a fork).
    """
    from s3op.botocore_transport import BotocoreTransport

    if config.fast is None or config.credentials is None:
        return BotocoreTransport(make_botocore_client(config))
    from s3op.fastpath import FastClient
    from s3op.fastsend import Endpoint

    endpoint = Endpoint(*config.fast)
    return FastClient(
        endpoint,
        _credential_source(config),
        lambda: make_botocore_client(config),
        config.max_pool_connections,
        (config.connect_timeout, config.read_timeout),
    )


def _credential_source(config: ClientConfig) -> Any:
    """The fast path's credentials: the live ones' reader, or the fixed set."""
    if config.live is not None:
        return config.live.current
    assert config.credentials is not None
    creds = config.credentials
    return Frozen(creds.access_key, creds.secret_key, creds.token)


def worker_transport(config: ClientConfig, shared: bool) -> Transport:
    """A worker's transport: this process's cached one when ``shared`` (an
    in-process worker of a long-lived engine keeps its connections warm),
    else a new one. A configuration that cannot build one (bad client
    parameters) gives a transport whose every call fails with
    ``invalid_request`` naming the cause: every job is answered, none lost.
    """
    try:
        return cached_client(config) if shared else make_client(config)
    except Exception as exc:  # noqa: BLE001 - reported by every call, never silent
        from s3op.botocore_transport import unbuilt_transport

        return unbuilt_transport(f"cannot build the S3 client: {type(exc).__name__}: {exc}")


def make_botocore_client(config: ClientConfig) -> Any:
    """Build a botocore S3 client (botocore makes its class at run time: ``Any``)."""
    import boto3
    from botocore.config import Config

    session_vars = dict(config.session_vars)
    if config.credentials is not None and config.live is None:
        session_vars.update(
            aws_access_key_id=config.credentials.access_key,
            aws_secret_access_key=config.credentials.secret_key,
            aws_session_token=config.credentials.token,
        )
    if config.credentials is not None:
        session_vars.pop("profile_name", None)
    session = boto3.Session(**session_vars)
    if config.live is not None:  # botocore's signer asks it for a frozen set per request
        core: Any = session._session  # botocore uses ``_credentials`` before any provider
        core._credentials = _LiveForBotocore(config.live)
    params = dict(config.client_params)
    user_config = params.pop("config", None)
    ours = Config(
        retries={"total_max_attempts": 1},  # s3op.retry is the one retry loop
        max_pool_connections=config.max_pool_connections,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        tcp_keepalive=True,
    )
    if isinstance(user_config, dict):
        ours = ours.merge(Config(**user_config))
    elif user_config is not None:
        ours = ours.merge(user_config)
    return session.client("s3", config=ours, **params)


class _LiveForBotocore:
    """``LiveCredentials`` as botocore's client reads credentials: a frozen set
    per request (``get_frozen_credentials``), and the three names."""

    method = "s3op-live"

    def __init__(self, live: LiveCredentials) -> None:
        self._live = live

    def get_frozen_credentials(self) -> Frozen:
        """The current set."""
        return self._live.current()

    @property
    def access_key(self) -> str:
        """The current access key id."""
        return self._live.current().access_key

    @property
    def secret_key(self) -> str:
        """The current secret key."""
        return self._live.current().secret_key

    @property
    def token(self) -> Optional[str]:
        """The current session token."""
        return self._live.current().token

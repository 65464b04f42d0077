"""The network conditions of a run: how the tools reach the server in each.

- ``loopback``: straight to SeaweedFS on 127.0.0.1 (CPU-bound: no latency, no
  bandwidth limit worth the name);
- ``network``: through the network model (:mod:`.netmodel`), a proxy of our own
  that adds a delay to every request and caps each connection's bandwidth.

Every tool gets the condition's endpoint the way it takes one: the Python tools
from the environment (``AWS_ENDPOINT_URL_S3`` for boto3 and s3client,
``METAFLOW_S3_ENDPOINT_URL`` for metaflow.S3 and s3client's Metaflow settings),
obstore, the CRT client and the CLIs from ``Job.endpoint`` (``--endpoint-url``).
Each condition has its own ``XDG_RUNTIME_DIR``, so s3client's shared engine of
one condition is never used, charged or sampled in a run of the other.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from scripts.local_s3 import LocalS3, child_env

from .measure import SharedEngines
from .model import BINDIR, LOOPBACK, NETWORK, REPO
from .netmodel import NetModel, ProxyProcess


@dataclass(frozen=True)
class Condition:
    """One network condition: where the tools connect and the environment they get."""

    name: str  # model.LOOPBACK or model.NETWORK
    endpoint: str  # the S3 server's URL, or the network model's in front of it
    env: Dict[str, str]  # every child's environment in this condition
    shared: SharedEngines  # s3client's shared engines of this condition
    proxy_pid: Optional[int] = None  # the network model's process (network only)


def base_env(srv: LocalS3, workdir: str, endpoint: str, runtime: str) -> Dict[str, str]:
    """The environment of every child: only this server (at ``endpoint``), no user
    configuration; shared s3client engines in ``runtime`` (``XDG_RUNTIME_DIR``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3CLIENT_", "METAFLOW_"))}
    mf_home = os.path.join(workdir, "metaflow-home")
    os.makedirs(mf_home, exist_ok=True)
    pythonpath = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return child_env(
        dict(
            srv.env(),
            AWS_ENDPOINT_URL_S3=endpoint,
            METAFLOW_S3_ENDPOINT_URL=endpoint,
            METAFLOW_HOME=mf_home,
            PYTHONPATH=pythonpath,
            PATH=f"{BINDIR}{os.pathsep}{env.get('PATH', '')}",
            XDG_RUNTIME_DIR=runtime,
        ),
        base=env,
    )


def _runtime_dir(stack: contextlib.ExitStack) -> str:
    """A fresh ``XDG_RUNTIME_DIR`` (short, under /tmp: socket paths), removed on exit."""
    runtime = tempfile.mkdtemp(prefix="bench-rt-", dir="/tmp")
    stack.callback(shutil.rmtree, runtime, ignore_errors=True)
    return runtime


def _endpoint(
    stack: contextlib.ExitStack, srv: LocalS3, name: str, model: NetModel
) -> Tuple[str, Optional[int]]:
    """The condition's endpoint URL and proxy pid; NETWORK starts the network model."""
    if name == LOOPBACK:
        return srv.endpoint_url, None
    if name == NETWORK:
        proxy = stack.enter_context(ProxyProcess(model, srv.endpoint_url))
        return proxy.endpoint_url, proxy.pid
    raise ValueError(f"unknown condition {name!r}")


def open_conditions(
    stack: contextlib.ExitStack,
    srv: LocalS3,
    names: Sequence[str],
    model: NetModel,
    workdir: str,
) -> List[Condition]:
    """The conditions ``names`` on a started server; proxies and shared engines end
    with ``stack`` (engines first)."""
    out = []
    for name in names:
        runtime = _runtime_dir(stack)
        endpoint, proxy_pid = _endpoint(stack, srv, name, model)
        shared = SharedEngines(runtime)
        stack.callback(shared.stop)
        env = base_env(srv, workdir, endpoint, runtime)
        out.append(Condition(name, endpoint, env, shared, proxy_pid))
    return out

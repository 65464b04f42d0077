"""The adapters of the peers with native engines: obstore (Rust, async) and boto3's CRT.

Part of the Python tools' child (:mod:`.tools`, run by its path), which imports
this module as a sibling and calls :func:`run_native_tool`. Only the standard
library is imported at module level; each adapter imports its tool when called.
Results are ``(objects, bytes)`` pairs, which the child turns into its
``Outcome``.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any, Awaitable, Callable, List, Sequence, Tuple

if TYPE_CHECKING:
    from .tools import Job

Counted = Tuple[int, int]  # objects and bytes a run saw

# obstore's concurrency in this benchmark: tuned on W1 (16, 32, 64 and 128 tried, on
# loopback and through the network model; see docs/benchmarks.md). Its large-object
# transfers use obstore's own multipart default (12 parts of 5 MB at a time) and, for
# downloads, as many ranged GETs of OBSTORE_PART bytes at a time.
OBSTORE_CONCURRENCY = int(os.environ.get("BENCH_OBSTORE_CONCURRENCY", "64"))
OBSTORE_PART_CONCURRENCY = 12
OBSTORE_PART = 8 * 1024 * 1024


# ------------------------------------------------------------------ obstore (Rust, async)

_ObstoreOp = Callable[[Any, Any, "Job", str], Awaitable[int]]  # (obstore, store, job, key) -> bytes


def _obstore_store(job: Job) -> Any:
    """An obstore ``S3Store`` on the job's bucket; credentials from the environment."""
    from obstore.store import S3Store

    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    return S3Store(
        job.bucket, endpoint=job.endpoint, region=region, client_options={"allow_http": True}
    )


async def _bounded(limit: int, calls: Sequence[Callable[[], Awaitable[int]]]) -> List[int]:
    """Await every call, at most ``limit`` at a time; their results in order."""
    import asyncio

    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[int]]) -> int:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def _obstore_get(obs: Any, store: Any, job: Job, key: str) -> int:
    data = await (await obs.get_async(store, job.prefix + key)).bytes_async()
    with open(os.path.join(job.dest, key), "wb") as f:
        return f.write(data)


async def _obstore_put(obs: Any, store: Any, job: Job, key: str) -> int:
    from pathlib import Path

    path = os.path.join(job.local, key)
    await obs.put_async(store, job.prefix + key, Path(path))
    return os.path.getsize(path)


async def _obstore_head(obs: Any, store: Any, job: Job, key: str) -> int:
    return int((await obs.head_async(store, job.prefix + key))["size"])


async def _obstore_pooled(obs: Any, store: Any, job: Job, fn: _ObstoreOp) -> Counted:
    calls = [functools.partial(fn, obs, store, job, key) for key in job.keys()]
    sizes = await _bounded(OBSTORE_CONCURRENCY, calls)
    return (len(sizes), sum(sizes))


async def _obstore_get_one(obs: Any, store: Any, job: Job) -> Counted:
    """Ranged GETs of OBSTORE_PART bytes, OBSTORE_PART_CONCURRENCY at a time, written in place
    (obstore has no parallel download of one object; ``get_ranges`` merges adjacent ranges)."""
    key = job.prefix + job.keys()[0]
    path = os.path.join(job.dest, job.keys()[0])
    first = await obs.get_async(store, key, options={"range": (0, OBSTORE_PART)})
    size = int(first.meta["size"])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    async def part(start: int) -> int:
        end = min(start + OBSTORE_PART, size)
        return os.pwrite(fd, await obs.get_range_async(store, key, start=start, end=end), start)

    try:
        os.pwrite(fd, await first.bytes_async(), 0)
        starts = range(OBSTORE_PART, size, OBSTORE_PART)
        await _bounded(OBSTORE_PART_CONCURRENCY, [functools.partial(part, s) for s in starts])
    finally:
        os.close(fd)
    return (1, os.path.getsize(path))


async def _obstore_put_one(obs: Any, store: Any, job: Job) -> Counted:
    from pathlib import Path

    await obs.put_async(store, job.prefix + job.keys()[0], Path(job.local))  # multipart
    return (1, os.path.getsize(job.local))


async def _obstore_list(obs: Any, store: Any, job: Job) -> Counted:
    count = nbytes = 0
    async for batch in obs.list(store, job.prefix, chunk_size=1000):
        count += len(batch)
        nbytes += sum(int(meta["size"]) for meta in batch)
    return (count, nbytes)


def run_obstore(job: Job) -> Counted:
    """Do ``job`` with obstore's async API: OBSTORE_CONCURRENCY requests in flight."""
    import asyncio

    import obstore as obs

    store = _obstore_store(job)
    pooled = {"get_many": _obstore_get, "put_files": _obstore_put, "info_many": _obstore_head}
    if job.op in pooled:
        return asyncio.run(_obstore_pooled(obs, store, job, pooled[job.op]))
    single = {"get_one": _obstore_get_one, "put_one": _obstore_put_one, "list": _obstore_list}
    return asyncio.run(single[job.op](obs, store, job))


# ------------------------------------------------------------------ boto3 with the CRT


def run_boto3_crt(job: Job) -> Counted:
    """Download one large object with s3transfer's CRT transfer manager (awscrt).

    Not boto3's ``TransferConfig(preferred_transfer_client="crt")``: boto3 builds that
    CRT client with ``use_ssl=True`` whatever the endpoint, so against an ``http://``
    endpoint every request fails (``AWS_IO_SOCKET_CLOSED: socket is closed``). This is
    what boto3 does underneath, with TLS set from the endpoint's scheme.
    """
    import botocore.session
    from s3transfer.crt import (
        BotocoreCRTCredentialsWrapper,
        BotocoreCRTRequestSerializer,
        CRTTransferManager,
        create_s3_crt_client,
    )

    if job.op != "get_one":
        raise ValueError(f"boto3-crt does not do {job.op} here")
    session = botocore.session.Session()
    region = session.get_config_variable("region") or "us-east-1"
    creds = BotocoreCRTCredentialsWrapper(session.get_credentials())
    crt = create_s3_crt_client(
        region,
        crt_credentials_provider=creds.to_crt_credentials_provider(),
        use_ssl=job.endpoint.startswith("https:"),
    )
    serializer = BotocoreCRTRequestSerializer(
        session, {"endpoint_url": job.endpoint, "region_name": region}
    )
    key = job.keys()[0]
    path = os.path.join(job.dest, key)
    with CRTTransferManager(crt, serializer) as manager:
        manager.download(job.bucket, job.prefix + key, path).result()
    return (1, os.path.getsize(path))


def run_native_tool(tool: str, job: Job) -> Counted:
    """Do ``job`` with ``obstore`` or ``boto3-crt``; the objects and bytes it saw."""
    if tool == "obstore":
        return run_obstore(job)
    if tool == "boto3-crt":
        return run_boto3_crt(job)
    raise ValueError(f"not a native tool: {tool!r}")

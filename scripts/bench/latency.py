"""W7 per call: the latency of a small get_many inside a running program.

The issue asks that "a get_many of 10 objects must not pay a fresh Python
interpreter plus import boto3 each call". The main harness times whole
processes (start-up included, once per run); this module times what a
program that calls get_many again and again sees per call:

- Python tools (s3client, metaflow, obstore, boto3): one child process makes its
  client, does one warm-up call, then ``CALLS`` timed calls of get_many on
  the same 10 keys, each into a fresh directory; it prints the seconds.
- s5cmd: a program calls it as a process each time, so each call is one
  ``s5cmd cp`` invocation, timed from spawn to exit.

Every call's result is checked (count and bytes) before it counts.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Mapping, Sequence

CALLS = 20

CHILD = r"""
import json, os, sys, tempfile, time
tool, endpoint, bucket, prefix, count, size, calls = sys.argv[1:8]
count, size, calls = int(count), int(size), int(calls)
keys = [f"{i:05d}" for i in range(count)]
root = f"s3://{bucket}/{prefix.rstrip('/')}"

if tool == "boto3":
    from concurrent.futures import ThreadPoolExecutor
    import boto3
    client = boto3.client("s3", endpoint_url=endpoint)
    pool = ThreadPoolExecutor(32)
    def call():
        def one(k):
            return len(client.get_object(Bucket=bucket, Key=prefix + k)["Body"].read())
        sizes = list(pool.map(one, keys))
        return len(sizes), sum(sizes)
elif tool == "obstore":
    import asyncio
    import obstore as obs
    from obstore.store import S3Store
    store = S3Store(bucket, endpoint=endpoint, region=os.environ.get("AWS_DEFAULT_REGION",
        "us-east-1"), client_options={"allow_http": True})
    loop = asyncio.new_event_loop()
    async def get_all():
        async def one(k):
            return len(await (await obs.get_async(store, prefix + k)).bytes_async())
        return await asyncio.gather(*(one(k) for k in keys))
    def call():
        sizes = loop.run_until_complete(get_all())
        return len(sizes), sum(sizes)
else:
    if tool == "s3client":
        from s3client import S3
    else:
        from metaflow import S3
    tmproot = tempfile.mkdtemp(prefix="bench-w7-")
    s3 = S3(s3root=root, tmproot=tmproot)
    def call():
        objs = s3.get_many(keys)
        return len(objs), sum(len(o.blob) for o in objs)

def timed():
    start = time.perf_counter()
    got = call()
    took = time.perf_counter() - start
    if got != (count, count * size):
        raise SystemExit(f"{tool}: got {got}, expected {(count, count * size)}")
    return took

timed()  # warm-up: client, connections, engine
samples = [timed() for _ in range(calls)]
if tool in ("s3client", "metaflow"):
    s3.close()  # metaflow keeps its temp dirs otherwise
    os.rmdir(tmproot)  # close() removes what it made inside; the root is ours
print(json.dumps(samples), flush=True)
if tool == "obstore":
    os._exit(0)  # obstore's tokio threads can abort Python's finalization (tools.py)
"""


def python_calls(
    tool: str,
    env: Mapping[str, str],
    endpoint: str,
    bucket: str,
    prefix: str,
    count: int,
    size: int,
    calls: int = CALLS,
) -> List[float]:
    """Per-call seconds of ``calls`` warm get_many calls in one program."""
    argv = [
        sys.executable,
        "-c",
        CHILD,
        tool,
        endpoint,
        bucket,
        prefix,
        str(count),
        str(size),
        str(calls),
    ]
    res = subprocess.run(argv, env=dict(env), capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(f"{tool} latency run failed: {res.stderr[-1000:]}")
    return [float(x) for x in json.loads(res.stdout.strip().splitlines()[-1])]


def s5cmd_calls(
    env: Mapping[str, str],
    endpoint: str,
    bucket: str,
    prefix: str,
    count: int,
    size: int,
    calls: int = CALLS,
) -> List[float]:
    """Per-call seconds of ``calls`` s5cmd invocations getting the same objects."""
    pattern = f"s3://{bucket}/{prefix}*"
    out: List[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-w7-") as scratch:
        for i in range(calls + 1):
            dest = os.path.join(scratch, str(i)) + os.sep
            argv = ["s5cmd", "--endpoint-url", endpoint, "cp", pattern, dest]
            start = time.perf_counter()
            subprocess.run(argv, env=dict(env), check=True, capture_output=True, timeout=120)
            took = time.perf_counter() - start
            files = os.listdir(dest)
            nbytes = sum(os.path.getsize(os.path.join(dest, f)) for f in files)
            if (len(files), nbytes) != (count, count * size):
                raise RuntimeError(f"s5cmd: got {(len(files), nbytes)} objects/bytes")
            if i:  # the first call warms the page cache like the others' warm-up
                out.append(took)
    return out


def measure(
    tools: Sequence[str],
    env: Mapping[str, str],
    endpoint: str,
    bucket: str,
    prefix: str,
    count: int,
    size: int,
    rounds: int,
) -> Dict[str, List[float]]:
    """Per-call latencies for each tool; ``rounds`` interleaved rounds of ``CALLS``."""
    out: Dict[str, List[float]] = {t: [] for t in tools}
    for _ in range(rounds):
        for tool in tools:
            if tool == "s5cmd":
                out[tool] += s5cmd_calls(env, endpoint, bucket, prefix, count, size)
            elif tool in ("s3client", "metaflow", "obstore", "boto3"):
                out[tool] += python_calls(tool, env, endpoint, bucket, prefix, count, size)
    return {tool: samples for tool, samples in out.items() if samples}


def median_ms(samples: Sequence[float]) -> float:
    """Median of ``samples`` in milliseconds."""
    return statistics.median(samples) * 1000


def markdown(latency: Mapping[str, Sequence[float]]) -> str:
    """The per-call table for docs/benchmarks.md."""
    base = latency.get("s5cmd")
    rows = [
        "| Tool | median ms per call | x s5cmd | calls |",
        "|---|---:|---:|---:|",
    ]
    for tool, samples in latency.items():
        ratio = f"{median_ms(samples) / median_ms(base):.2f}" if base else "-"
        rows.append(f"| {tool} | {median_ms(samples):.1f} | {ratio} | {len(samples)} |")
    return "\n".join(rows)

"""Cluster overhead: one machine against a Dask LocalCluster on the same machine.

``python -m scripts.bench.cluster [--count 100000] [--repeats 3]`` (``make bench-cluster``)
starts SeaweedFS on loopback, puts COUNT objects of 1 KiB (``s3op put``, one
machine), then times, interleaved and REPEATS times each:

- ``s3op OP --inputs M`` (one machine), and
- ``s3op OP --inputs M --dask ADDRESS`` on a ``distributed.LocalCluster`` of
  WORKERS worker processes (started once, before: a cluster is a standing
  deployment, its start-up is not the batch's),

for OP in ``get`` (to a tmpfs directory when there is one) and ``info``; each
run is a fresh ``python -m s3op`` process, so both pay the same start-up. The
report is each side's median wall time and the ratio (the issue's target:
the Dask path at most 1.15x one machine). Every run must exit 0 with one
line per request, else the benchmark stops.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from scripts.local_s3 import LocalS3, child_env

from .model import REPO

BUCKET = "bench-cluster"
OPS = ("get", "info")
#: The scheduler's ``worker-ttl`` in the benchmark's LocalCluster.
WORKER_TTL = "60s"


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m scripts.bench.cluster", description=__doc__)
    p.add_argument("--count", type=int, default=100_000, help="objects of 1 KiB")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    p.add_argument("--threads-per-worker", type=int, default=2, help="shards run at once a worker")
    p.add_argument("--shard-size", type=int, default=1000)
    p.add_argument("--ops", default=",".join(OPS))
    p.add_argument("--json", default=None, help="also write the figures here")
    return p.parse_args(argv)


def s3op(args: List[str], env: Dict[str, str], count: int) -> float:
    """Wall seconds of one ``python -m s3op`` run; it must give ``count`` ok lines."""
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "s3op", *args], env=env, capture_output=True, text=True
    )
    seconds = time.monotonic() - t0
    lines = proc.stdout.count("\n")
    if proc.returncode != 0 or lines != count:
        raise SystemExit(f"s3op {args[:1]} exit {proc.returncode}, {lines} lines: {proc.stderr}")
    return seconds


def make_data(root: Path, count: int, env: Dict[str, str]) -> Dict[str, str]:
    """COUNT local files of 1 KiB uploaded; the manifest of each op."""
    src = root / "src"
    src.mkdir()
    rows = []
    for i in range(count):
        path = src / f"{i:07d}"
        path.write_bytes(f"{i:08d}".encode() * 128)
        rows.append({"url": f"s3://{BUCKET}/o/{i:07d}", "local": str(path)})
    manifests = {"put": _write(root / "put.jsonl", rows)}
    urls = [{"url": row["url"]} for row in rows]
    manifests["get"] = manifests["info"] = _write(root / "keys.jsonl", urls)
    s3op(["put", "--inputs", manifests["put"]], env, count)
    return manifests


def _write(path: Path, rows: List[Dict[str, str]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def measure(args: argparse.Namespace, root: Path, env: Dict[str, str], address: str) -> Dict:
    """Interleaved runs of each op on both sides; medians and the ratio."""
    manifests = make_data(root, args.count, env)
    figures: Dict[str, Dict[str, object]] = {}
    for op in args.ops.split(","):
        times: Dict[str, List[float]] = {"one": [], "dask": []}
        for n in range(args.repeats):
            for side in ("one", "dask"):
                cmd = [op, "--inputs", manifests[op]]
                if op == "get":
                    out = root / f"out-{side}-{n}"
                    cmd += ["--destination", str(out)]
                if side == "dask":
                    cmd += ["--dask", address, "--shard-size", str(args.shard_size)]
                times[side].append(s3op(cmd, env, args.count))
                print(f"{op} {side} run {n + 1}: {times[side][-1]:.2f} s", flush=True)
        one, dask = statistics.median(times["one"]), statistics.median(times["dask"])
        figures[op] = {"one_s": times["one"], "dask_s": times["dask"], "ratio": dask / one}
        print(f"{op}: one machine {one:.2f} s, dask {dask:.2f} s: {dask / one:.2f}x", flush=True)
    return figures


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; print (and optionally write) the figures."""
    from distributed import LocalCluster

    args = parse_args(argv)
    shm = Path("/dev/shm")
    parent = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    with LocalS3() as server, tempfile.TemporaryDirectory(dir=parent) as tmp:
        server.create_bucket(BUCKET)
        env = child_env({**server.env(), "PYTHONPATH": str(REPO)})
        with LocalCluster(
            n_workers=args.workers,
            threads_per_worker=args.threads_per_worker,
            processes=True,
            dashboard_address=":0",
            env=env,
            # A silent worker is restarted (its shards re-run) after 1 minute, not
            # Dask's default 5: a stall costs the figures at most that much.
            scheduler_kwargs={"worker_ttl": WORKER_TTL},
        ) as cluster:
            figures = measure(args, Path(tmp), env, cluster.scheduler_address)
    report = {"count": args.count, "cpus": os.cpu_count(), "workers": args.workers, **figures}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

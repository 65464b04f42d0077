"""Streaming (issue 18): peak RSS and time per request as a batch grows.

``python -m scripts.bench.streaming`` (``make bench`` runs it after the main
benchmark) starts one SeaweedFS on loopback and measures, each run in a
child process of its own (``measure.measure``: wall, CPU of the tree, peak
RSS of the tree sampled every 20 ms):

- ``info``: ``s3op info --inputs M`` over manifests of 10,000, 100,000 and
  1,000,000 lines (``--lines``), the lines cycling over 100 0-byte objects
  (a million distinct objects would take longer to create than to read).
  Results go to a file. Per size: peak RSS, wall and CPU per request, and
  the share of the engine's CPU spent parsing the manifest (both passes)
  and writing result lines, timed apart in this process on the same file
  and the same result lines (``time.process_time``).
- ``list``: a Python process iterating ``S3.iter_list_recursive`` over
  20,000 and 200,000 0-byte keys (``--list-keys``; created with
  ``s3op put`` from one empty file), with the engine run one-shot so that
  it is in the measured tree; then ``list_recursive`` over the largest, for
  contrast (it holds every object).

Targets (issue 18): RSS within 1.5x across the sizes, time per request
within 1.5x, parsing + writing under 10% of the engine's CPU.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from s3op.batch import LineSink
from s3op.manifest_stream import ManifestSource
from s3op.protocol import Result
from scripts.local_s3 import LocalS3, child_env

from .measure import Measured, become_subreaper, measure
from .model import REPO

BUCKET = "streaming-bench"
OBJECTS = 100  # distinct 0-byte objects the info manifests cycle over
TIMEOUT = 4 * 3600.0


@dataclass(frozen=True)
class Row:
    """One measured size."""

    what: str  # "info" or "list"
    count: int  # manifest lines, or keys listed
    run: Measured
    parse_cpu: float = 0.0  # seconds, both passes over the manifest
    write_cpu: float = 0.0  # seconds, writing every result line

    def cells(self) -> List[str]:
        """The row of the report's table."""
        share = (self.parse_cpu + self.write_cpu) / self.run.cpu if self.run.cpu else 0.0
        return [
            self.what,
            f"{self.count:,}",
            f"{self.run.rss / 2**20:.1f}",
            f"{self.run.wall:.1f}",
            f"{self.run.wall / self.count * 1e6:.0f}",
            f"{self.run.cpu / self.count * 1e6:.0f}",
            f"{share * 100:.1f}%" if self.what == "info" else "-",
            "ok" if self.run.returncode == 0 else f"exit {self.run.returncode}",
        ]


HEADER = ["run", "n", "peak RSS MiB", "wall s", "wall us/req", "CPU us/req", "parse+write", ""]


def python_argv(*args: str) -> List[str]:
    return [sys.executable, *args]


def s3op_put_empty(server: LocalS3, workdir: str, prefix: str, count: int) -> None:
    """``count`` 0-byte objects under ``prefix``, put by s3op from one empty file."""
    empty = os.path.join(workdir, "empty")
    open(empty, "wb").close()
    path = os.path.join(workdir, f"put-{count}.jsonl")
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            url = f"s3://{BUCKET}/{prefix}{i:07d}"
            out.write(json.dumps({"url": url, "local": empty}) + "\n")
    run = measured(server, python_argv("-m", "s3op", "put", "--inputs", path), workdir)
    if run.returncode != 0:
        raise SystemExit(f"bench: putting {count} objects failed (exit {run.returncode})")


def measured(server: LocalS3, argv: List[str], run_dir: str) -> Measured:
    """``argv`` run in ``run_dir`` against ``server``, measured."""
    return measure(argv, env(server), run_dir, TIMEOUT, keep(server))


def keep(server: LocalS3) -> List[int]:
    """The pids a measured run must not reap as its orphans: the server's."""
    return [server.pid] if server.pid is not None else []


def env(server: LocalS3) -> Dict[str, str]:
    return child_env({**server.env(), "PYTHONPATH": str(REPO), "S3CLIENT_ENGINE": "one-shot"})


def info_manifest(workdir: str, count: int) -> str:
    path = os.path.join(workdir, f"info-{count}.jsonl")
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            out.write(f'{{"idx":{i},"url":"s3://{BUCKET}/o/{i % OBJECTS:07d}"}}\n')
    return path


def parse_cpu(path: str) -> float:
    """CPU seconds of the engine's two passes over the manifest at ``path``."""
    start = time.process_time()
    with open(path, encoding="utf-8") as stream:
        for _ in ManifestSource.checked("info", stream):
            pass
    return time.process_time() - start


def write_cpu(result_path: str) -> float:
    """CPU seconds of writing the result lines at ``result_path`` again (to a sink)."""
    with open(result_path, encoding="utf-8") as lines:
        results = [Result.from_json(line) for line in lines]
    sink = LineSink(io.StringIO())
    start = time.process_time()
    for chunk in range(0, len(results), 64):  # flushed once per wake-up, as the engine does
        for result in results[chunk : chunk + 64]:
            sink.emit(result)
        sink.flush()
        sink.stream.seek(0)
        sink.stream.truncate()
    return time.process_time() - start


def run_info(server: LocalS3, workdir: str, count: int) -> Row:
    path = info_manifest(workdir, count)
    run_dir = tempfile.mkdtemp(dir=workdir)
    run = measured(server, python_argv("-m", "s3op", "info", "--inputs", path), run_dir)
    out = os.path.join(run_dir, "stdout")
    return Row("info", count, run, parse_cpu(path), write_cpu(out))


LIST_SCRIPT = """
import sys
from s3client import S3
form, url, want = sys.argv[1:]
with S3() as s3:
    if form == "iter":
        n = sum(1 for _ in s3.iter_list_recursive([url]))
    else:
        n = len(s3.list_recursive([url]))
assert n == int(want), n
"""


def run_list(server: LocalS3, workdir: str, count: int, form: str = "iter") -> Row:
    """List ``count`` keys with ``form`` ("iter", or "list" for the list form),
    creating them first for the iterator."""
    prefix = f"list{count}/"
    if form == "iter":
        s3op_put_empty(server, workdir, prefix, count)
    argv = python_argv("-c", LIST_SCRIPT, form, f"s3://{BUCKET}/{prefix}", str(count))
    return Row(
        "list" if form == "iter" else "list_recursive", count, measured(server, argv, workdir)
    )


def table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def flatness(rows: Sequence[Row], what: str) -> Optional[Tuple[float, float]]:
    """(RSS max/min, wall per request max/min) across the sizes of ``what``."""
    mine = [r for r in rows if r.what == what]
    if len(mine) < 2:
        return None
    rss = [r.run.rss for r in mine]
    per = [r.run.wall / r.count for r in mine]
    return max(rss) / min(rss), max(per) / min(per)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m scripts.bench.streaming", description=__doc__)
    p.add_argument("--lines", default="10000,100000,1000000", help="info manifest sizes")
    p.add_argument("--list-keys", default="20000,200000", help="listing sizes ('' = none)")
    p.add_argument("--workdir", default=None, help="parent of the temp dir")
    return p.parse_args(argv)


def sizes(text: str) -> List[int]:
    return [int(n) for n in text.split(",") if n]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the streaming benchmark; print the table and the targets."""
    args = parse_args(argv)
    become_subreaper()
    rows: List[Row] = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir, LocalS3() as server:
        server.create_bucket(BUCKET)
        s3op_put_empty(server, workdir, "o/", OBJECTS)
        for count in sizes(args.lines):
            rows.append(run_info(server, workdir, count))
            print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        for count in sizes(args.list_keys):
            rows.append(run_list(server, workdir, count))
            print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        if sizes(args.list_keys):  # the list form, for contrast: it holds every object
            rows.append(run_list(server, workdir, max(sizes(args.list_keys)), "list"))
    print(table(rows))
    for what in ("info", "list"):
        flat = flatness(rows, what)
        if flat is not None:
            print(f"{what}: RSS max/min {flat[0]:.2f}x, wall per request max/min {flat[1]:.2f}x")
    return 0 if all(r.run.returncode == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The pool and its workers run any ``Runner``: they know nothing of the ops.

A stub runner answers each task with a result naming it; batchable tasks
(odd job ids here) arrive together in ``run_batch``. Layering is checked
by importing modules in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Callable, List, Tuple

from s3op.jobs import Outcome
from s3op.pool import Done, Pool
from s3op.protocol import Result
from s3op.worker import Answer, HandOff, WorkerSpec


class Echo:
    """A runner: each task is a string; its outcome a result whose url is it."""

    batch_size = 8

    def __init__(self) -> None:
        self.batches: List[List[int]] = []

    def run(self, task: object) -> Outcome:
        return Result(idx=0, url=str(task))

    def batchable(self, task: object) -> bool:
        return str(task).startswith("batch")

    def run_batch(self, batch: List[Tuple[int, object]], answer: Answer, hand_off: HandOff) -> bool:
        self.batches.append([job_id for job_id, _ in batch])
        return all(answer(job_id, self.run(task)) for job_id, task in batch)


class EchoFactory:
    """A ``RunnerFactory`` keeping the runners it built (in-process workers only)."""

    def __init__(self) -> None:
        self.built: List[Tuple[Echo, bool]] = []

    def __call__(self, slow_down: Callable[[], None], shared: bool) -> Echo:
        runner = Echo()
        self.built.append((runner, shared))
        return runner


def _run(pool: Pool, todo: List[Tuple[int, str]]) -> List[Done]:
    done: List[Done] = []
    for job_id, task in todo:
        pool.submit(job_id, task)  # type: ignore[arg-type]
    for _ in range(50):
        done += [e for e in pool.poll(timeout=1.0) if isinstance(e, Done)]
        if not pool.busy():
            break
    return done


def test_an_in_process_pool_runs_what_its_runner_factory_builds() -> None:
    factory = EchoFactory()
    pool = Pool(WorkerSpec(factory, threads=1), processes=0)
    pool.start()
    try:
        todo = [(1, "batch-a"), (2, "batch-b"), (3, "alone"), (4, "batch-c")]
        done = _run(pool, todo)
    finally:
        pool.shutdown()
    assert sorted((d.job_id, d.outcome.url) for d in done) == [  # type: ignore[union-attr]
        (1, "batch-a"),
        (2, "batch-b"),
        (3, "alone"),
        (4, "batch-c"),
    ]
    ((runner, shared),) = factory.built
    assert shared  # an in-process worker may reuse this process's clients
    batched = [job_id for batch in runner.batches for job_id in batch]
    assert all(len(b) > 1 for b in runner.batches)  # run_batch only ever gets batches
    assert 3 not in batched  # ... of batchable tasks


def _imported_after(modules: List[str]) -> List[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('s3op'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout))


def test_the_pool_imports_no_op() -> None:
    loaded = _imported_after(["s3op.pool", "s3op.worker", "s3op.channel"])
    assert not [m for m in loaded if m.startswith("s3op.ops")]


def test_the_ops_touch_no_socket() -> None:
    ops = ["s3op.ops.get", "s3op.ops.put", "s3op.ops.info", "s3op.ops.listing"]
    loaded = _imported_after([*ops, "s3op.ops.multiget", "s3op.ops.runner"])
    http = ("s3op.http1", "s3op.http1_conn", "s3op.inflight", "s3op.fastpath")
    assert not [m for m in loaded if m.startswith(http)]

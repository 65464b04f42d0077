"""Differential tests: the same calls through ``metaflow.S3`` and ``s3client.S3``.

Both clients talk to the same SeaweedFS bucket (``s3backend``, a fresh one per
test) and read the same objects; every observable result is compared
(``harness.compare``) and any difference fails the test, unless an entry of
``differences.DIFFERENCES`` covers it. A test records cases with
``differential.pair(...).run_both(label, fn)`` and ends with
``differential.assert_same()``, which lists every difference of the test.

Set ``DIFFERENTIAL_LOG=/path/file.jsonl`` to append every case (also the equal
ones) as a JSON line: label, mode, the ids of the documented differences that
apply to it, and the mismatches left after them.

Every test here is marked ``integration`` (deselect with ``-m "not integration"``).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import metaflow
import metaflow.plugins.datatools.s3.s3 as metaflow_s3
import metaflow.plugins.datatools.s3.s3util as metaflow_s3util
import pytest

import s3client
from tests.backends import Backend, delete_bucket, unique_bucket
from tests.conftest import make_s3backend_fixture
from tests.differential.differences import applying, settle
from tests.differential.harness import Case, Mismatch, Outcome, Pair, compare_outcomes
from tests.differential.store import Store

s3backend = make_s3backend_fixture("seaweed_server", "seaweedfs")

_HERE = Path(__file__).resolve().parent
#: Where s3client.S3 reads the root of ``run=`` (at S3() time).
S3ROOT_VAR = "S3CLIENT_S3ROOT"
#: Cases, and mismatches per case, shown in a failure message (DIFFERENTIAL_LOG has all).
SHOWN_CASES = 60
SHOWN_MISMATCHES = 12
#: Worker processes of each metaflow s3op call (its default is 64).
METAFLOW_WORKERS = 2
#: metaflow's own cleanup, not ours: when a metaflow call raises while it reads
#: its s3op output, the ``S3._read_many_files`` generator is left suspended
#: inside ``with NamedTemporaryFile(dir=<its tmpdir>)``. ``S3.close()`` then
#: deletes that tmpdir, and when the generator is garbage-collected (often in a
#: later test) the ``with`` tries to unlink the file again: FileNotFoundError,
#: which Python can only report as "Exception ignored in". The filter names that
#: generator and that error, so any other unraisable exception still shows.
METAFLOW_CLEANUP_WARNING = (
    r"ignore:Exception ignored in. <generator object S3._read_many_files[\s\S]*"
    r"FileNotFoundError:pytest.PytestUnraisableExceptionWarning"
)


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.filterwarnings(METAFLOW_CLEANUP_WARNING))


def run_like(flow: str, run_id: str) -> Any:
    """What both clients read from a metaflow ``Run`` given as ``run=``:
    ``.parent.id``/``.id`` (metaflow) and ``.pathspec`` (s3client)."""
    return SimpleNamespace(parent=SimpleNamespace(id=flow), id=run_id, pathspec=f"{flow}/{run_id}")


def mode_of(kwargs: Dict[str, Any]) -> str:
    """The addressing mode of client arguments: "run[+bucket][+prefix]", "s3root", "urls"."""
    if kwargs.get("run") is not None:
        mode = "run" + "".join(f"+{k}" for k in ("bucket", "prefix") if kwargs.get(k))
    else:
        mode = "s3root" if kwargs.get("s3root") else "urls"
    return mode + ("+encryption" if kwargs.get("encryption") else "")


class Differential:
    """Builds client pairs on one backend, records their cases, reports differences."""

    def __init__(self, backend: Backend, tmp_path: Path, env: pytest.MonkeyPatch) -> None:
        self.backend = backend
        self.store = Store(backend)
        self.cases: List[Tuple[Case, List[Mismatch]]] = []
        self._tmp = tmp_path
        self._env = env
        self._pairs: List[Pair] = []
        self._buckets: List[Store] = []
        quiet_metaflow(env, tmp_path / "metaflow-home")
        self.use_root(None)

    # ---------------------------------------------------------- configuration

    def use_root(self, url: Optional[str]) -> None:
        """The root of ``run=`` for both clients (metaflow reads it at import)."""
        self._env.setattr(metaflow_s3, "DATATOOLS_S3ROOT", url)
        self._env.delenv("METAFLOW_DATATOOLS_S3ROOT", raising=False)
        if url is None:
            self._env.delenv(S3ROOT_VAR, raising=False)
        else:
            self._env.setenv(S3ROOT_VAR, url)

    def client_args(self, side: str, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """``kwargs`` plus a temp dir of the side's own.

        ``client_params`` is copied for each client: metaflow adds a botocore
        ``Config`` to the dict it is given (``test_client_params`` shows what
        that does). Without it both clients find the endpoint in
        ``AWS_ENDPOINT_URL_S3`` (set by ``s3backend``), as they would on AWS.
        """
        tmproot = self._tmp / side
        tmproot.mkdir(exist_ok=True)
        return {"tmproot": str(tmproot), **copy.deepcopy(kwargs)}

    def client_params(self) -> Dict[str, Any]:
        """``client_params`` naming this backend's endpoint."""
        return {"endpoint_url": self.backend.endpoint_url}

    # ----------------------------------------------------------------- pairs

    def pair(
        self,
        reset: Optional[Callable[[], None]] = None,
        snapshot: Optional[Callable[[], Any]] = None,
        root: Optional[str] = None,
        **kwargs: Any,
    ) -> Pair:
        """Both clients, built with the same ``kwargs`` (closed after the test).

        ``root`` is where their keys resolve (for the facts of each case); by
        default ``s3root``, else None (full URLs). Give it with ``run=``.
        """
        pair = Pair(
            metaflow.S3(**self.client_args("metaflow", kwargs)),
            s3client.S3(**self.client_args("s3client", kwargs)),
            mode_of(kwargs),
            self.record,
            reset=reset,
            snapshot=snapshot,
            root=root or kwargs.get("s3root"),
        )
        self._pairs.append(pair)
        return pair

    def construct(self, label: str, **kwargs: Any) -> Case:
        """Build both clients with ``kwargs``; compare what the constructors do.

        The arguments are the facts of the case (``run``, ``s3root``...).
        """
        mf = Outcome.of(lambda: metaflow.S3(**self.client_args("metaflow", kwargs)))
        ours = Outcome.of(lambda: s3client.S3(**self.client_args("s3client", kwargs)))
        for outcome in (mf, ours):
            if outcome.error is None:
                outcome.value.close()
        found = compare_outcomes(Outcome(error=mf.error), Outcome(error=ours.error))
        case = Case(label, mode_of(kwargs), dict(kwargs), mf, ours, found)
        self.record(case)
        return case

    # -------------------------------------------------------------- reporting

    def record(self, case: Case) -> None:
        """Keep ``case`` with the mismatches the differences table leaves."""
        left = settle(case)
        self.cases.append((case, left))
        log = os.environ.get("DIFFERENTIAL_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps(log_line(case, left)) + "\n")

    def assert_same(self) -> None:
        """Fail listing every case that differs (beyond the documented table)."""
        differing = [(case, left) for case, left in self.cases if left]
        if not differing:
            return
        lines = [f"{len(differing)} of {len(self.cases)} cases differ:"]
        for case, left in differing[:SHOWN_CASES]:
            lines.append(str(case))
            lines.extend(f"    {m}" for m in left[:SHOWN_MISMATCHES])
            if len(left) > SHOWN_MISMATCHES:
                lines.append(f"    ... and {len(left) - SHOWN_MISMATCHES} more")
        if len(differing) > SHOWN_CASES:
            lines.append(f"... and {len(differing) - SHOWN_CASES} more cases")
        raise AssertionError("\n".join(lines))

    def extra_bucket(self) -> Store:
        """A second bucket on the same server, removed after the test."""
        store = Store(self.backend, unique_bucket("t2"))
        store.client.create_bucket(Bucket=store.bucket)
        self._buckets.append(store)
        return store

    def close(self) -> None:
        """Close every pair; remove the extra buckets."""
        for pair in self._pairs:
            pair.close()
        for store in self._buckets:
            delete_bucket(store.client, store.bucket)


def log_line(case: Case, left: List[Mismatch]) -> Dict[str, Any]:
    """One DIFFERENTIAL_LOG entry."""
    return {
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
        "mode": case.mode,
        "label": case.label,
        "seconds": [round(case.metaflow.seconds, 3), round(case.s3client.seconds, 3)],
        "differed": len(case.mismatches),  # mismatches before the documented differences
        "documented": applying(case),
        "mismatches": [str(m) for m in left],
    }


def quiet_metaflow(env: pytest.MonkeyPatch, home: Path) -> None:
    """No retries in metaflow (in this process and in its s3op children), no user config.

    metaflow retries every failure it does not recognise up to 7 times with
    exponential sleeps (1 + 2 + 4 ... s); the failures compared here are
    deterministic, so retrying only costs time and changes no outcome. Its
    s3op children start up to 64 worker processes per call (seconds each on
    2 CPUs); results keep their order whatever the count, so we use fewer.
    """
    home.mkdir(exist_ok=True)
    env.setenv("METAFLOW_HOME", str(home))
    env.setenv("METAFLOW_S3_WORKER_COUNT", str(METAFLOW_WORKERS))
    for name in ("S3_RETRY_COUNT", "S3_TRANSIENT_RETRY_COUNT"):
        env.setenv(f"METAFLOW_{name}", "0")
        env.setattr(metaflow_s3, name, 0)
    env.setattr(metaflow_s3util, "S3_RETRY_COUNT", 0)


@pytest.fixture
def differential(
    s3backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Differential]:
    """A :class:`Differential` on a fresh SeaweedFS bucket."""
    diff = Differential(s3backend, tmp_path, monkeypatch)
    try:
        yield diff
    finally:
        diff.close()

"""Calls on a client after ``close()`` (documented difference ``after-close``).

metaflow's ``close()`` removes its temp dir and forgets it: most calls still
work (``get`` then writes its file to the current directory, which no
``close()`` cleans: the test runs in its own temp dir); ``get_many``,
``get_recursive`` and ``info_many`` fail with a ``TypeError``. s3client refuses
every call with a named ``S3Error``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest

from tests.differential.conftest import Differential

CALLS: List[Tuple[str, Callable[[Any], Any]]] = [
    ("get('a')", lambda s3: s3.get("a")),
    ("get_many(['a'])", lambda s3: s3.get_many(["a"])),
    ("get_recursive(['x'])", lambda s3: s3.get_recursive(["x"])),
    ("info('a')", lambda s3: s3.info("a")),
    ("info_many(['a'])", lambda s3: s3.info_many(["a"])),
    ("list_paths()", lambda s3: s3.list_paths()),
    ("list_recursive(['x'])", lambda s3: s3.list_recursive(["x"])),
    ("put('new', 'v')", lambda s3: s3.put("new", "v")),
    ("put_many([('new', 'v')])", lambda s3: s3.put_many([("new", "v")])),
]


def test_calls_after_close(
    differential: Differential, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # metaflow's get after close() writes its file here
    differential.store.seed({"a": b"abc", "x/y": b"deep"}, under="c/")
    both = differential.pair(s3root=differential.store.url("c"))
    both.metaflow.close()
    both.ours.close()
    for label, call in CALLS:
        both.run_both(label, call, closed=True)
    differential.assert_same()

"""Batches of 1,000 keys (order of every result) and one object over the multipart threshold.

s3client uploads and downloads objects of ``multipart_threshold`` (32 MiB,
``s3op/jobs.py``) or more in parts of ``part_size`` (16 MiB): :data:`BIG` is
40 MiB, three parts, the last one short. metaflow's ``get`` switches to
boto3's parallel ``download_file`` above 16 MiB, its put to multipart above 8 MiB.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import List

from tests.differential.conftest import Differential
from tests.differential.harness import Range, ranged

MiB = 1 << 20
BIG = 40 * MiB
#: 1,000 keys over ten sub-prefixes, each holding its own index.
KEYS = [f"n/{i % 10}/{i:04d}" for i in range(1000)]


def test_batches_of_1000_keys(differential: Differential) -> None:
    store = differential.store
    writer = differential.pair(
        reset=lambda: store.clear("b"),
        snapshot=lambda: store.snapshot("b", deep=False),
        s3root=store.url("b"),
    )
    writer.call("put_many", [(key, key) for key in KEYS])
    shuffled = random.Random(14).sample(KEYS, len(KEYS))
    both = differential.pair(s3root=store.url("b"))
    both.call("get_many", shuffled)
    both.call("list_paths", ["n"])
    both.call("list_recursive", ["n/3", "n/1"])
    both.call("get_recursive", ["n/7", "n/2"])
    differential.assert_same()


def test_an_object_over_the_multipart_threshold(differential: Differential, tmp_path: Path) -> None:
    store = differential.store
    data = random.Random(40).randbytes(BIG)
    path = tmp_path / "big"
    path.write_bytes(data)
    writer = differential.pair(
        reset=lambda: store.clear("m"),
        snapshot=lambda: store.snapshot("m"),
        s3root=store.url("m"),
    )
    writer.call("put", "big", data)
    writer.call("put_files", [("big", str(path))])
    store.seed({"m/big": data})
    both = differential.pair(s3root=store.url("m"))
    both.call("get", "big")
    both.call("info", "big")
    both.call("get_many", ["big"], return_info=False)
    across: List[Range] = [(16 * MiB - 10, 20), (None, -100)]  # a part boundary; a suffix
    to_the_end: List[Range] = [
        (32 * MiB, -1)
    ]  # from the threshold to the end (see test_reads.TO_THE_END)
    for forms in (across, to_the_end):
        label = f"get_many(S3GetObject('big', ...) x {forms})"
        both.run_both(label, ranged("big", forms), ranges=forms, body=data)
    differential.assert_same()

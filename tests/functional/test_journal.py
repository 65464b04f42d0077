"""``--journal``: resume a batch, refuse a journal of another batch or a corrupt one.

Against moto through the real ``python -m s3op``; the kill-and-resume test at
scale is ``tests/faults/test_resume.py`` (SeaweedFS).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from s3op.checksum import crc32
from s3op.journal import JournalCorrupt, JournalMismatch, journal_header
from s3op.options import BatchOptions
from s3op.protocol import GetRequest
from tests.backends import Backend
from tests.functional.test_cli import manifest, s3op


@pytest.fixture
def bk(s3backend: Backend) -> Backend:
    return s3backend


def _put_objects(bk: Backend, count: int) -> Dict[str, bytes]:
    bodies = {f"k{i:03d}": f"body {i} ".encode() * (i + 1) for i in range(count)}
    for key, body in bodies.items():
        bk.client().put_object(Bucket=bk.bucket, Key=key, Body=body)
    return bodies


def _get_manifest(bk: Backend, tmp_path: Path, keys: List[str]) -> str:
    rows = [{"url": f"s3://{bk.bucket}/{k}", "local": str(tmp_path / "out" / k)} for k in keys]
    (tmp_path / "out").mkdir(exist_ok=True)
    return manifest(tmp_path / "get.jsonl", rows)


def _idx(line: Dict[str, Any]) -> int:
    return int(line["idx"])


def _records(journal: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in journal.read_text().splitlines()]


def test_a_finished_get_is_skipped_after_its_files_are_checked(bk: Backend, tmp_path: Path) -> None:
    bodies = _put_objects(bk, 6)
    keys = sorted(bodies)
    inputs = _get_manifest(bk, tmp_path, keys)
    journal = tmp_path / "get.journal"
    first = s3op("get", "--inputs", inputs, "--journal", str(journal), cwd=tmp_path)
    assert first.code == 0, first.stderr
    header, *records = _records(journal)
    assert header["op"] == "get" and header["requests"] == 6
    assert sorted(r["idx"] for r in records) == list(range(6))
    assert all(r["crc32"] == crc32(bodies[keys[r["idx"]]]) for r in records)
    # one file changed, one removed: those two run again, the rest are skipped
    (tmp_path / "out" / keys[1]).write_bytes(b"changed")
    (tmp_path / "out" / keys[4]).unlink()
    bk.client().put_object(Bucket=bk.bucket, Key=keys[0], Body=b"new on the server")
    second = s3op("get", "--inputs", inputs, "--journal", str(journal), cwd=tmp_path)
    assert second.code == 0, second.stderr
    # one line a request: the skipped ones' recorded lines, then the rest as they finish
    idxs = [line["idx"] for line in second.lines]
    assert idxs[:4] == [0, 2, 3, 5] and sorted(idxs[4:]) == [1, 4]
    assert sorted(second.lines, key=_idx) == sorted(first.lines, key=_idx)
    for i in (1, 4):
        assert (tmp_path / "out" / keys[i]).read_bytes() == bodies[keys[i]]
    # the skipped one was not fetched again: it keeps the first run's body
    assert (tmp_path / "out" / keys[0]).read_bytes() == bodies[keys[0]]
    assert sorted(r["idx"] for r in _records(journal)[7:]) == [1, 4]


def test_a_finished_put_is_skipped_only_while_the_object_is_unchanged(
    bk: Backend, tmp_path: Path
) -> None:
    files = []
    for i in range(4):
        path = tmp_path / f"f{i}"
        path.write_bytes(b"x" * (i + 1) * 100)
        files.append(path)
    rows = [{"url": f"s3://{bk.bucket}/p{i}", "local": str(p)} for i, p in enumerate(files)]
    inputs = manifest(tmp_path / "put.jsonl", rows)
    journal = tmp_path / "put.journal"
    first = s3op("put", "--inputs", inputs, "--journal", str(journal), cwd=tmp_path)
    assert first.code == 0, first.stderr
    bk.client().put_object(Bucket=bk.bucket, Key="p2", Body=b"overwritten by someone")
    bk.client().delete_object(Bucket=bk.bucket, Key="p3")
    second = s3op("put", "--inputs", inputs, "--journal", str(journal), cwd=tmp_path)
    assert second.code == 0, second.stderr
    assert sorted(line["idx"] for line in second.lines) == [0, 1, 2, 3]
    assert sorted(r["idx"] for r in _records(journal)[5:]) == [2, 3]
    for i, path in enumerate(files):
        body = bk.client().get_object(Bucket=bk.bucket, Key=f"p{i}")["Body"].read()
        assert body == path.read_bytes()


def test_a_journal_of_another_manifest_is_refused(bk: Backend, tmp_path: Path) -> None:
    keys = sorted(_put_objects(bk, 3))
    journal = tmp_path / "j"
    inputs = _get_manifest(bk, tmp_path, keys)
    assert s3op("get", "--inputs", inputs, "--journal", str(journal), cwd=tmp_path).code == 0
    before = journal.read_bytes()
    other = _get_manifest(bk, tmp_path, keys[:2])
    run = s3op("get", "--inputs", other, "--journal", str(journal), cwd=tmp_path)
    assert run.code == 2 and run.stdout == ""
    assert "--journal" in run.stderr and "belongs to another batch" in run.stderr
    assert journal.read_bytes() == before
    # other options that change the results: another batch too
    run = s3op("get", "--inputs", inputs, "--journal", str(journal), "--no-info", cwd=tmp_path)
    assert run.code == 2 and "belongs to another batch" in run.stderr


def test_a_corrupt_journal_is_refused_and_a_torn_last_line_is_not(
    bk: Backend, tmp_path: Path
) -> None:
    keys = sorted(_put_objects(bk, 3))
    journal = tmp_path / "j"
    inputs = _get_manifest(bk, tmp_path, keys)
    assert s3op("get", "--inputs", inputs, "--journal", str(journal), cwd=tmp_path).code == 0
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:2] + ['{"idx": 1, "res'] + lines[2:]) + "\n")
    run = s3op("get", "--inputs", inputs, "--journal", str(journal), cwd=tmp_path)
    assert run.code == 2 and run.stdout == ""
    assert "line 3 is not a journal record" in run.stderr
    # a torn last line (a crash mid-write): dropped, that request runs again
    journal.write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])
    run = s3op("get", "--inputs", inputs, "--journal", str(journal), cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert sorted(line["idx"] for line in run.lines) == [0, 1, 2]
    torn_idx = json.loads(lines[3])["idx"]
    records = _records(journal)  # the torn line cut off, its request recorded again
    assert [r["idx"] for r in records[1:]] == [json.loads(x)["idx"] for x in lines[1:3]] + [
        torn_idx
    ]


def test_journal_errors_are_named_in_process(tmp_path: Path) -> None:
    reqs = [GetRequest(0, "s3://b/k", local=str(tmp_path / "k"))]
    header = journal_header("get", reqs, BatchOptions())
    journal = tmp_path / "j"
    journal.write_text(json.dumps({**header, "manifest": "0" * 64}) + "\n")
    from s3op.journal import load_journal

    with pytest.raises(JournalMismatch):
        load_journal(str(journal), header)
    journal.write_text(json.dumps(header) + "\nnot json\n")
    with pytest.raises(JournalCorrupt):
        load_journal(str(journal), header)


def test_a_journal_on_a_recursive_get_is_a_usage_error(bk: Backend, tmp_path: Path) -> None:
    run = s3op(
        "get", f"s3://{bk.bucket}/", "--recursive", "--journal", str(tmp_path / "j"), cwd=tmp_path
    )
    assert run.code == 2 and "--journal" in run.stderr and run.stdout == ""


def test_s3_journal_resumes_put_files_batches(bk: Backend, tmp_path: Path) -> None:
    from s3client import S3

    paths = []
    for i in range(5):
        path = tmp_path / f"up{i}"
        path.write_bytes(b"y" * (i + 10))
        paths.append((f"j/up{i}", str(path)))
    journals = tmp_path / "journals"
    with S3(s3root=bk.root(), journal=str(journals)) as s3:
        first = s3.put_files(paths)
    (journal,) = journals.iterdir()
    assert journal.name.startswith("put-") and len(_records(journal)) == 6
    bk.client().delete_object(Bucket=bk.bucket, Key="j/up3")
    with S3(s3root=bk.root(), journal=str(journals)) as s3:
        again = s3.put_files(paths)
        assert s3.get("j/up3").blob == b"y" * 13
    assert [r["idx"] for r in _records(journal)[6:]] == [3]  # only the missing one ran
    assert again == first
    with pytest.raises(ValueError, match="directory"):
        S3(journal=str(paths[0][1]))


def test_a_journal_in_use_by_another_run_is_refused(bk: Backend, tmp_path: Path) -> None:
    import fcntl

    keys = sorted(_put_objects(bk, 2))
    inputs = _get_manifest(bk, tmp_path, keys)
    journal = tmp_path / "j"
    with open(journal, "wb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        run = s3op("get", "--inputs", inputs, "--journal", str(journal), cwd=tmp_path)
    assert run.code == 2 and "in use by another run" in run.stderr and run.stdout == ""
    assert not (tmp_path / "out" / keys[0]).exists()


def test_object_etags_lists_a_tight_prefix_and_heads_a_crowded_one(bk: Backend) -> None:
    from s3op import run_batch
    from s3op.resume import LIST_SLACK, object_etags

    client = bk.client()
    etag = {}
    for key in ("tight/a", "tight/b", "crowd/x"):
        etag[key] = client.put_object(Bucket=bk.bucket, Key=key, Body=key.encode())["ETag"]
    for i in range(LIST_SLACK + 10):  # others under crowd/: more than a listing's budget
        client.put_object(Bucket=bk.bucket, Key=f"crowd/o{i:05d}", Body=b"o")
    ops: List[str] = []

    def run(op: str, requests: Any, receive: Any) -> None:
        ops.append(op)
        run_batch(op, requests, BatchOptions(recursive=op == "list"), receive)

    url = f"s3://{bk.bucket}/"
    tight = object_etags([url + "tight/a", url + "tight/b", url + "tight/gone"], run)
    assert tight == {
        url + "tight/a": etag["tight/a"],
        url + "tight/b": etag["tight/b"],
        url + "tight/gone": None,
    }
    assert ops == ["list"]  # one listing answered for all three
    ops.clear()
    assert object_etags([url + "crowd/x"], run) == {url + "crowd/x": etag["crowd/x"]}
    assert ops == ["list", "info"]  # the listing gave up; a HEAD answered

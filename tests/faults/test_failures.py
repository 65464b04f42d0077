"""Rows 6-9 and 12: permanent server errors, lost answers, racing writers,
a drip-fed body and an object replaced under a ranged download."""

from __future__ import annotations

import json
import os
import random
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

from s3client import S3, S3ObjectChanged, S3TransientError
from s3op.protocol import ErrorKind
from s3op.retry import RetryPolicy
from tests.faults.conftest import (
    PYTHON,
    REPO,
    Target,
    figure,
    files_under,
    part_files,
    run_s3op,
    s3op_argv,
    sha256_file,
    wait_for,
    write_manifest,
)

pytestmark = pytest.mark.faults

MiB = 1024 * 1024


def _seed_objects(target: Target, count: int, size: int, prefix: str = "k") -> Dict[str, bytes]:
    """Put ``count`` objects straight on the server; return key -> content."""
    client = target.direct()
    rng = random.Random(count * 7919 + size)
    objects = {f"{prefix}/{i:04d}": rng.randbytes(size) for i in range(count)}
    for key, body in objects.items():
        client.put_object(Bucket=target.bucket, Key=key, Body=body)
    return objects


# --------------------------------------------------------------------- row 6


#: Row 6 configures its retry budget on the CLI, so the attempt count is known.
ROW6_RETRIES = 6


def _worst_case_seconds(attempts: int) -> float:
    """The longest the default policy may sleep between ``attempts`` attempts."""
    policy = RetryPolicy()
    return sum(min(policy.cap, policy.base * 2**n) for n in range(1, attempts))


def test_row6_all_500_cli(target: Target, tmp_path: Path) -> None:
    """Row 6 (s3op): every request answered 500: bounded time, every key named, exit 3,
    nothing presented as success, nothing written."""
    objects = _seed_objects(target, 20, 1000)
    target.proxy.set_mode("error", rate=1.0, status=500, code="InternalError")
    dest = tmp_path / "dest"
    retries = ("--retries", str(ROW6_RETRIES))
    got = run_s3op(
        "get",
        *[target.url(k) for k in objects],
        "--destination",
        str(dest),
        *retries,
        timeout=120,
    )
    urls = {target.url(k) for k in objects}
    assert got.code == 3, got.stderr
    assert {r.url for r in got.results} == urls and len(got.results) == len(urls)
    assert all(not r.ok and r.error and r.error.kind is ErrorKind.TRANSIENT for r in got.results)
    assert all(r.attempts == ROW6_RETRIES for r in got.results)
    assert all("InternalError" in (r.error.message if r.error else "") for r in got.results)
    assert files_under(dest) == [] if dest.exists() else True
    manifest = tmp_path / "put.jsonl"
    local = tmp_path / "src"
    local.write_bytes(b"x" * 100)
    write_manifest(
        manifest, [{"url": target.url(f"new/{i}"), "local": str(local)} for i in range(10)]
    )
    put = run_s3op("put", "--inputs", str(manifest), *retries, timeout=120)
    assert put.code == 3 and len(put.results) == 10
    assert not any(r.ok for r in put.results)
    assert target.keys("new/") == []
    figure(
        f"row 6 ({target.name}, s3op)",
        f"get of 20 keys: exit {got.code} after "
        f"{got.seconds:.1f}s, 20/20 lines transient naming their URL, {ROW6_RETRIES} attempts "
        f"each (--retries {ROW6_RETRIES}), 0 files; put of 10: exit {put.code} after "
        f"{put.seconds:.1f}s, 0 objects written; "
        f"{target.proxy.counts().get('error.500', 0)} answers were 500",
    )
    bound = _worst_case_seconds(ROW6_RETRIES) + 20
    assert got.seconds < bound and put.seconds < bound


def test_row6_all_500_s3client(target: Target) -> None:
    """Row 6 (S3, default retries): get_many/put_many raise S3TransientError naming a key,
    within the policy's worst-case backoff; no partial result, nothing written."""
    objects = _seed_objects(target, 20, 1000)
    target.proxy.set_mode("error", rate=1.0, status=500, code="InternalError")
    with S3(s3root=target.url()) as s3:
        t0 = time.monotonic()
        with pytest.raises(S3TransientError) as got:
            s3.get_many(list(objects))
        get_seconds = time.monotonic() - t0
        assert got.value.url in {target.url(k) for k in objects}
        assert got.value.kind is ErrorKind.TRANSIENT and got.value.url in str(got.value)
        assert files_under(Path(s3._tmpdir)) == []
        t0 = time.monotonic()
        with pytest.raises(S3TransientError) as put:
            s3.put_many([(f"new/{i}", b"x") for i in range(10)])
        put_seconds = time.monotonic() - t0
    assert put.value.url and put.value.url.startswith(target.url("new/"))
    assert target.keys("new/") == []
    figure(
        f"row 6 ({target.name}, S3)",
        f"get_many(20) raised S3TransientError naming "
        f"{got.value.url.rsplit('/', 1)[-1]} after {get_seconds:.1f}s; put_many(10) raised "
        f"after {put_seconds:.1f}s (default {RetryPolicy().max_attempts} attempts: worst-case "
        f"backoff {_worst_case_seconds(RetryPolicy().max_attempts):.1f}s); 0 files, 0 objects",
    )
    bound = 2 * _worst_case_seconds(RetryPolicy().max_attempts) + 20  # 20 keys, 16 threads
    assert get_seconds < bound and put_seconds < bound


# --------------------------------------------------------------------- row 7


def test_row7_dropped_answers_no_false_exists(target: Target) -> None:
    """Row 7: 30% of applied writes lose their answer, overwrite=False: no key is wrongly
    reported as "already exists", and keys that really existed are left alone."""
    rng = random.Random(7)
    values = [(f"new/{i:04d}", rng.randbytes(rng.randrange(0, 20000))) for i in range(300)]
    values.append(("new/big", rng.randbytes(33 * MiB)))  # multipart: parts and complete
    existing = _seed_objects(target, 20, 500, prefix="old")
    theirs = [(key, b"ours, must not land") for key in existing]
    target.proxy.set_mode("drop", rate=0.3)
    with S3(s3root=target.url()) as s3:
        written = s3.put_many(values + theirs, overwrite=False)
    counts = target.proxy.counts()
    target.proxy.set_mode("none")
    written_keys = {k for k, _ in written}
    false_exists = [k for k, _ in values if k not in written_keys]
    client = target.direct()
    wrong = [
        k for k, v in values if client.get_object(Bucket=target.bucket, Key=k)["Body"].read() != v
    ]
    clobbered = [
        k
        for k in existing
        if client.get_object(Bucket=target.bucket, Key=k)["Body"].read() != existing[k]
    ]
    figure(
        f"row 7 ({target.name})",
        f"{counts.get('drop', 0)} answers dropped after the write "
        f'was applied ({len(values)} new keys incl. one 33 MiB multipart); false "exists" '
        f"{len(false_exists)}; wrong content {len(wrong)}; pre-existing keys reported written "
        f"{len(written_keys & set(existing))}, overwritten {len(clobbered)}",
    )
    assert counts.get("drop", 0) > 0
    assert false_exists == []
    assert wrong == []
    assert written_keys & set(existing) == set() and clobbered == []


# --------------------------------------------------------------------- row 8

RACER = textwrap.dedent(
    """
    import json, os, sys, time
    from s3client import S3
    url, payload, ready, go = sys.argv[1:5]
    with S3() as s3:
        s3.info(url + ".warm-up", return_missing=True)   # start the engine now
        open(ready, "w").close()
        while not os.path.exists(go):
            time.sleep(0.002)
        try:
            written = s3.put_many([(url, payload)], overwrite=False)
            print(json.dumps({"payload": payload, "written": bool(written)}))
        except Exception as exc:
            print(json.dumps({"payload": payload, "error": f"{type(exc).__name__}: {exc}"}))
    """
)


@pytest.mark.parametrize("drops", [0.0, 1.0], ids=["clean", "drop-all"])
def test_row8_racing_writers(target: Target, tmp_path: Path, drops: float) -> None:
    """Row 8: 20 processes put one key with overwrite=False at once: exactly one wins,
    the 19 others see "exists"; the object holds the winner's bytes. With every answer
    to a successful write dropped, the winner must still learn that it won."""
    if drops:
        target.proxy.set_mode("drop", rate=drops)
    url = target.url("race/key")
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    go = tmp_path / "go"
    procs = []
    for i in range(20):
        procs.append(
            subprocess.Popen(
                [PYTHON, str(script), url, f"writer-{i:02d}", str(tmp_path / f"ready{i}"), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=str(REPO),
            )
        )
    assert wait_for(lambda: all((tmp_path / f"ready{i}").exists() for i in range(20)), 120)
    t0 = time.monotonic()
    go.touch()
    outs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr[-2000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    seconds = time.monotonic() - t0
    winners = [o["payload"] for o in outs if o.get("written")]
    errors = [o["error"] for o in outs if "error" in o]
    body = target.direct().get_object(Bucket=target.bucket, Key="race/key")["Body"].read()
    figure(
        f"row 8 ({target.name}, drops {drops:.0%})",
        f"20 writers in {seconds:.1f}s: "
        f"{len(winners)} won, {20 - len(winners) - len(errors)} saw exists, {len(errors)} "
        f"errors; object holds {body.decode()!r}; "
        f"{target.proxy.counts().get('drop', 0)} answers dropped",
    )
    assert errors == []
    assert len(winners) == 1
    assert body.decode() == winners[0]


# --------------------------------------------------------------------- row 9


@pytest.mark.parametrize("fast", ["1", "0"], ids=["fastpath", "botocore"])
def test_row9_drip_feed_hits_deadline(seaweed_target: Target, tmp_path: Path, fast: str) -> None:
    """Row 9: a body dripped at ~160 B/s is aborted by the per-request deadline (4 s)."""
    target = seaweed_target
    _seed_objects(target, 1, 256 * 1024, prefix="drip")
    target.proxy.set_mode("drip", drip_bytes=16, drip_interval=0.1)
    dest = tmp_path / "dest"
    env = dict(os.environ, S3OP_FAST=fast)
    t0 = time.monotonic()
    try:
        got = run_s3op(
            "get",
            target.url("drip/0000"),
            "--destination",
            str(dest),
            "--deadline",
            "4",
            timeout=40,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"s3op still running {time.monotonic() - t0:.0f}s after a 4 s deadline")
    figure(
        f"row 9 (S3OP_FAST={fast})",
        f"exit {got.code} after {got.seconds:.1f}s with "
        f"--deadline 4: {got.results[0].error if got.results else got.stderr[-200:]}",
    )
    assert got.code == 3
    assert got.results[0].error is not None and got.results[0].error.kind is ErrorKind.TRANSIENT
    assert "deadline" in got.results[0].error.message
    assert got.seconds < 4 + 6
    assert files_under(dest) == [] if dest.exists() else True


# --------------------------------------------------------------------- row 12


def _replace_during_parts(target: Target, key: str, new: bytes) -> None:
    """Hold every ranged GET; once one is held, replace the object, then release them."""
    assert wait_for(lambda: target.proxy.counts().get("latency", 0) >= 1, 60)
    target.direct().put_object(Bucket=target.bucket, Key=key, Body=new)
    target.proxy.set_mode("none")


def _ranged(method: str, path: str, head: Any) -> bool:
    return method == "GET" and head.get("range") is not None


def test_row12_replaced_during_ranged_download_cli(target: Target, tmp_path: Path) -> None:
    """Row 12 (s3op): the object is replaced (same size) between the first GET and its
    ranged parts: object_changed, no file at all, never a mix of two versions."""
    rng = random.Random(12)
    old, new = rng.randbytes(40 * MiB), rng.randbytes(40 * MiB)
    target.direct().put_object(Bucket=target.bucket, Key="big", Body=old)
    target.proxy.set_mode("latency", delay=120, match=_ranged)
    dest = tmp_path / "dest"
    proc = subprocess.Popen(
        s3op_argv(
            "get",
            target.url("big"),
            "--destination",
            str(dest),
            "--part-size",
            str(5 * MiB),
            "--threads",
            "4",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(REPO),
    )
    _replace_during_parts(target, "big", new)
    stdout, stderr = proc.communicate(timeout=120)
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    figure(
        f"row 12 ({target.name}, s3op)",
        f"exit {proc.returncode}: "
        f"{[(x.get('error') or {}).get('kind', 'ok') for x in lines]}; files left "
        f"{files_under(dest) if dest.exists() else []}",
    )
    assert proc.returncode == 1, stderr
    assert len(lines) == 1 and lines[0]["error"]["kind"] == "object_changed"
    assert not dest.exists() or files_under(dest) == []


def test_row12_replaced_during_ranged_download_s3client(target: Target) -> None:
    """Row 12 (S3): the same through get_many: S3ObjectChanged, no file left behind."""
    rng = random.Random(13)
    old, new = rng.randbytes(40 * MiB), rng.randbytes(40 * MiB)
    target.direct().put_object(Bucket=target.bucket, Key="big", Body=old)
    target.proxy.set_mode("latency", delay=120, match=_ranged)
    with S3(s3root=target.url()) as s3:
        import threading

        box: List[Any] = []

        def fetch() -> None:
            try:
                box.append(s3.get_many(["big"]))
            except Exception as exc:  # noqa: BLE001 - inspected below
                box.append(exc)

        worker = threading.Thread(target=fetch)
        worker.start()
        _replace_during_parts(target, "big", new)
        worker.join(120)
        left = files_under(Path(s3._tmpdir))
        digests = {sha256_file(p) for p in left}
    figure(
        f"row 12 ({target.name}, S3)",
        f"get_many -> {type(box[0]).__name__}; files left {len(left)}",
    )
    assert isinstance(box[0], S3ObjectChanged), box[0]
    assert left == [] or digests <= {__import__("hashlib").sha256(old).hexdigest()}
    assert all(".part" not in p for p in left)


def test_row12_no_mix_without_if_match_support(seaweed_target: Target, tmp_path: Path) -> None:
    """Row 12, second line of defence: a replacement between parts that the server does not
    catch (the proxy strips If-Match) is still caught by the combined part CRC32s."""
    target = seaweed_target
    rng = random.Random(14)
    old, new = rng.randbytes(40 * MiB), rng.randbytes(40 * MiB)
    target.direct().put_object(Bucket=target.bucket, Key="big", Body=old)
    part_gets: List[int] = []

    def swap_after_first_part(method: str, path: str, head: Any) -> bool:
        if method == "GET" and head.get("range"):
            head.headers = [(k, v) for k, v in head.headers if k.lower() != "if-match"]
            part_gets.append(1)
            if len(part_gets) == 2:
                target.direct().put_object(Bucket=target.bucket, Key="big", Body=new)
        return False

    target.proxy.set_mode("latency", match=swap_after_first_part)
    dest = tmp_path / "dest"
    got = run_s3op(
        "get",
        target.url("big"),
        "--destination",
        str(dest),
        "--part-size",
        str(5 * MiB),
        "--threads",
        "1",
        "--num-workers",
        "0",
        timeout=180,
    )
    digest = sha256_file(str(dest / "big")) if (dest / "big").exists() else None
    versions = {
        __import__("hashlib").sha256(old).hexdigest(): "old",
        __import__("hashlib").sha256(new).hexdigest(): "new",
    }
    figure(
        "row 12 (If-Match ignored)",
        f"exit {got.code}: "
        f"{[r.error.kind.value if r.error else 'ok' for r in got.results]}, file is "
        f"{versions.get(digest or '', 'absent' if digest is None else 'A MIX')}",
    )
    assert digest is None or digest in versions
    assert part_files(dest) == [] if dest.exists() else True

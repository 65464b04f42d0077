"""Sync under faults: 2,000 objects through the fault proxy, every direction.

- connection resets (5% of object bodies) and 503 SlowDown (30% of all
  requests, listings included): a local -> prefix sync with ``--delete``
  over a prefix holding equal, different and extra objects, then the prefix
  back to a fresh directory, then prefix -> prefix; each ends exactly as
  asked (every object's SHA-256, nothing extra, one line per key);
- a SIGKILLed worker during the sync: the same;
- a sync SIGKILLed half-way (its whole process group) and run again: the
  second run moves exactly what the first did not finish, and no key the
  first run reported done is sent again (the proxy's log of PUTs proves it).

SeaweedFS lists trees depth first, so engines run with ``S3OP_SYNC_ORDER=path``
(these keys sort the same either way).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Tuple
from urllib.parse import unquote

import pytest

from tests.faults.conftest import (
    MARK_VAR,
    REPO,
    S3opRun,
    Target,
    children,
    figure,
    marked,
    new_mark,
    part_files,
    run_s3op,
    s3op_argv,
    server_digests,
    wait_for,
)

pytestmark = pytest.mark.faults

COUNT = 2000


@pytest.fixture(autouse=True)
def path_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3OP_SYNC_ORDER", "path")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_source(root: Path, count: int = COUNT) -> Dict[str, str]:
    """``count`` files (0 B - 8 KiB) in 20 directories; key -> sha256."""
    rng = random.Random(count)
    digests = {}
    for i in range(count):
        key = f"d{i % 20:02d}/f{i:05d}"
        body = rng.randbytes(rng.choice([0, 1, rng.randrange(2, 8192)]))
        path = root.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        digests[key] = sha(body)
    return digests


def seed_destination(target: Target, prefix: str, root: Path, keys: List[str]) -> Tuple[int, ...]:
    """Half the keys stored equal, a quarter different, a quarter missing, plus 100
    extras: (equal, different, extra)."""
    client = target.direct()
    equal = different = 0
    for n, key in enumerate(keys):
        body = (root / key).read_bytes()
        if n % 4 in (0, 1):
            client.put_object(Bucket=target.bucket, Key=prefix + key, Body=body)
            equal += 1
        elif n % 4 == 2:
            client.put_object(Bucket=target.bucket, Key=prefix + key, Body=body + b"!")
            different += 1
    for n in range(100):
        client.put_object(Bucket=target.bucket, Key=f"{prefix}extra/{n:03d}", Body=b"x")
    return equal, different, 100


def stored(target: Target, prefix: str) -> Dict[str, str]:
    keys = target.keys(prefix)
    return {k[len(prefix) :]: d for k, d in server_digests(target, keys).items() if d}


def on_disk(root: Path) -> Dict[str, str]:
    return {
        p.relative_to(root).as_posix(): sha(p.read_bytes()) for p in root.rglob("*") if p.is_file()
    }


def actions(run: S3opRun) -> Counter:
    return Counter(r.action for r in run.results)


def failures(run: S3opRun) -> Tuple[str, List[str]]:
    """What a failed run said: its stderr and its first five failed result lines."""
    return run.stderr, [line for line, r in zip(run.lines, run.results) if not r.ok][:5]


def one_line_per_key(run: S3opRun) -> bool:
    where = [r.local if r.action == "get" or r.local and r.action == "delete" else r.url
             for r in run.results]  # fmt: skip
    return len(where) == len(set(where))


def sync(*args: str, **kw: object) -> S3opRun:
    return run_s3op("sync", *args, "--threads", "8", timeout=600, **kw)  # type: ignore[arg-type]


def check_all_directions(
    target: Target, tmp_path: Path, label: str, arm: Callable[[], None]
) -> None:
    """Local -> prefix (with delete), prefix -> local, prefix -> prefix; each exact.
    ``arm`` sets the proxy's fault before each direction."""
    src = tmp_path / "src"
    digests = make_source(src)
    equal, different, extra = seed_destination(target, "to/", src, sorted(digests))
    arm()
    up = sync(str(src), target.url("to/"), "--delete")
    assert up.code == 0, failures(up)
    assert actions(up) == {"skip": equal, "put": COUNT - equal, "delete": extra}
    assert one_line_per_key(up)
    assert stored(target, "to/") == digests
    arm()
    down = sync(target.url("to/"), str(tmp_path / "back"), "--delete")
    assert down.code == 0 and actions(down) == {"get": COUNT}, failures(down)
    assert on_disk(tmp_path / "back") == digests and part_files(tmp_path / "back") == []
    arm()
    over = sync(target.url("to/"), target.url("copy/"), "--delete")
    assert over.code == 0 and actions(over) == {"copy": COUNT}, failures(over)
    assert stored(target, "copy/") == digests
    hits = sum(1 for r in target.proxy.log() if r.injected)
    attempts = max((r.attempts or 1) for run in (up, down, over) for r in run.results)
    figure(
        f"sync {label}",
        f"{COUNT} keys ({equal} equal, {different} different, {COUNT - equal - different} "
        f"missing, {extra} extra): put {up.seconds:.1f}s, get {down.seconds:.1f}s, copy "
        f"{over.seconds:.1f}s; {hits} faults injected; every direction exact (SHA-256 "
        f"{COUNT}/{COUNT}), extras deleted, one line per key; attempts up to {attempts}",
    )
    assert hits > 0


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("mode", ["reset", "slowdown"])
def test_sync_2000_objects_under_faults(seaweed_target: Target, tmp_path: Path, mode: str) -> None:
    """5% of object bodies reset; or 30% of all requests (listings too) answered 503
    SlowDown for the first 20 s of each direction (as row 5: long enough to throttle
    and back off, short enough to finish)."""
    proxy = seaweed_target.proxy
    if mode == "reset":
        arm = functools.partial(proxy.set_mode, "reset", rate=0.05, direction="both")
    else:
        arm = functools.partial(
            proxy.set_mode, "error", rate=0.3, status=503, code="SlowDown", window=20
        )
    check_all_directions(seaweed_target, tmp_path, mode, arm)


def start_sync(target: Target, src: Path, url: str, mark: str, out: Path, *flags: str):
    env = dict(os.environ, **{MARK_VAR: mark})
    with open(out, "w") as stdout:
        return subprocess.Popen(
            s3op_argv("sync", str(src), url, *flags),
            stdout=stdout, stderr=subprocess.DEVNULL, env=env, cwd=str(REPO),
            start_new_session=True,
        )  # fmt: skip


def lines(path: Path) -> List[dict]:
    """The complete result lines written so far (a line being written is left out)."""
    done = path.read_text().split("\n")[:-1]
    return [json.loads(line) for line in done if line.strip()]


@pytest.mark.timeout(900)
def test_sync_survives_a_sigkilled_worker(seaweed_target: Target, tmp_path: Path) -> None:
    target = seaweed_target
    src = tmp_path / "src"
    digests = make_source(src)
    target.proxy.set_mode("latency", delay=0.2)  # ~25 s in all: the kill lands mid-run
    mark = new_mark()
    out = tmp_path / "out.jsonl"
    proc = start_sync(target, src, target.url("k/"), mark, out, "--num-workers", "2",
                      "--threads", "8")  # fmt: skip
    assert wait_for(lambda: len(children(proc.pid)) >= 2, 60), "workers did not start"
    assert wait_for(lambda: len(lines(out)) >= 200, 120), "the sync did not start"
    victim = children(proc.pid)[0].pid
    os.kill(victim, signal.SIGKILL)
    before = len(lines(out))
    code = proc.wait(timeout=600)
    got = lines(out)
    figure(
        "sync SIGKILLed worker",
        f"worker {victim} killed after {before} lines of {COUNT}: exit {code}; "
        f"{sum(1 for x in got if x['ok'])} ok; orphans {len(marked(mark))}",
    )
    assert before < COUNT, "the kill came after the sync had finished"
    assert code == 0
    assert Counter(x["action"] for x in got) == {"put": COUNT}
    assert len({x["url"] for x in got}) == COUNT
    target.proxy.set_mode("none")
    assert stored(target, "k/") == digests
    assert wait_for(lambda: not marked(mark), 10)


def put_targets(target: Target, prefix: str) -> Counter:
    """PUT requests the proxy forwarded per key under ``prefix``."""
    base = f"/{target.bucket}/{prefix}"
    return Counter(
        unquote(r.target.split("?")[0])[len(base) :]
        for r in target.proxy.log()
        if r.method == "PUT" and unquote(r.target).startswith(base)
    )


@pytest.mark.timeout(900)
def test_sync_killed_half_way_then_rerun_moves_nothing_twice(
    seaweed_target: Target, tmp_path: Path
) -> None:
    target = seaweed_target
    src = tmp_path / "src"
    digests = make_source(src)
    target.proxy.set_mode("latency", delay=0.02)
    mark = new_mark()
    out = tmp_path / "first.jsonl"
    proc = start_sync(target, src, target.url("h/"), mark, out, "--threads", "8")
    assert wait_for(lambda: len(lines(out)) >= COUNT // 2, 300), "the sync did not get half-way"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert wait_for(lambda: not marked(mark), 10), "processes outlived the kill"
    first = lines(out)
    reported = {x["url"] for x in first if x["ok"]}
    on_server = set(target.keys("h/"))
    target.proxy.set_mode("none")
    target.proxy.reset_counts()
    second = sync(str(src), target.url("h/"))
    sent = put_targets(target, "h/")
    figure(
        "sync killed half-way",
        f"first run SIGKILLed after {len(first)} result lines ({len(on_server)} objects "
        f"stored); rerun: exit {second.code}, {actions(second)['put']} put, "
        f"{actions(second)['skip']} skipped, {sum(sent.values())} PUT requests, "
        f"0 for the {len(reported)} keys reported done",
    )
    assert second.code == 0
    assert actions(second) == {"put": COUNT - len(on_server), "skip": len(on_server)}
    assert not {target.url(f"h/{k}") for k in sent} & reported  # nothing moved twice
    assert set(sent) == {r.url.split("/h/", 1)[1] for r in second.results if r.action == "put"}
    assert all(n == 1 for n in sent.values())  # one PUT each: no retries were needed
    assert stored(target, "h/") == digests

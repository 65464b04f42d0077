"""Credentials that expire every few seconds, under batches of tens of seconds.

The test's own ``credential_process`` (in a temp AWS config profile) hands
out a new access key, secret and session token on each call, valid for
``LIFETIME`` seconds, with the expiry written into the access key. The
fault proxy in front of moto (moto accepts any key) plays the part of S3's
check: a request signed with an expired key is answered ``400
ExpiredToken``. So a batch passes only if the engine renews its
credentials, in every worker process and in the warm shared engine; the
proxy's view of distinct access keys shows that it did.

Also checked: no secret handed out appears on any engine process's argv
(``/proc/PID/cmdline``), in its stderr, or in the shared engine's log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, List, Set

import pytest

from s3client import S3
from tests.faults.conftest import PYTHON, REPO, Target, descendants, figure, processes
from tests.faults.proxy import FaultProxy

#: Seconds each set of credentials lives.
LIFETIME = 8.0
COUNT = int(os.environ.get("S3_CREDS_OBJECTS", "250"))
#: Seconds a second proxy holds each request, so the batches last tens of seconds.
DELAY = 0.15
#: The CLI batch's delay: its floor is COUNT x CLI_DELAY / (workers x window ceiling),
#: 250 x 2.0 / (2 x 8) = 31 s, about four lifetimes, however fast the engine gets
#: (with 0.15 s, issue 19's window of up to 8 GETs a thread ended it in under 8 s).
CLI_DELAY = 2.0

CREDENTIAL_PROCESS = """
import datetime, json, secrets, sys, time
life, log = float(sys.argv[1]), sys.argv[2]
expiry = time.time() + life
key = "ASIA%010d%s" % (int(expiry), secrets.token_hex(3).upper())
secret, token = secrets.token_hex(20), "tok" + secrets.token_hex(24)
with open(log, "a") as f:
    f.write(f"{key} {secret} {token}\\n")
print(json.dumps({
    "Version": 1, "AccessKeyId": key, "SecretAccessKey": secret, "SessionToken": token,
    "Expiration": datetime.datetime.fromtimestamp(expiry, datetime.timezone.utc).isoformat(),
}))
"""


class KeyCheck:
    """The proxy's ``match``: True (answer ExpiredToken) for a request signed
    with an expired key; remembers every key seen."""

    def __init__(self) -> None:
        self.seen: Set[str] = set()
        self.expired = 0

    def __call__(self, method: str, target: str, head: object) -> bool:
        auth = head.get("authorization") or ""
        key = auth.partition("Credential=")[2].partition("/")[0]
        self.seen.add(key)
        if not key.startswith("ASIA"):
            return True  # not one of ours (the static test keys): refused too
        if int(key[4:14]) < time.time():
            self.expired += 1
            return True
        return False


@pytest.fixture
def short_lived(
    moto_target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The environment uses a profile whose credentials last LIFETIME s; the
    proxy refuses expired ones, a second one in front of it adds DELAY to
    each request. The log of every set handed out."""
    target = moto_target
    client = target.direct()
    for i in range(COUNT):
        client.put_object(Bucket=target.bucket, Key=f"c/{i:05d}", Body=b"x" * (i % 700 + 1))
    script = tmp_path / "creds.py"
    script.write_text(CREDENTIAL_PROCESS)
    issued = tmp_path / "issued.log"
    config = tmp_path / "config"
    config.write_text(
        f"[profile short]\ncredential_process = {sys.executable} {script} {LIFETIME} {issued}\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "short")
    check = KeyCheck()
    target.proxy.set_mode("error", rate=1.0, status=400, code="ExpiredToken", match=check)
    target.proxy.key_check = check  # type: ignore[attr-defined]
    slow = FaultProxy("127.0.0.1", target.proxy.port, mode="latency", delay=DELAY).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", slow.endpoint_url)
    target.slow = slow  # type: ignore[attr-defined]
    try:
        yield issued
    finally:
        slow.stop()


def _secrets(issued: Path) -> List[str]:
    return [part for line in issued.read_text().splitlines() for part in line.split()[1:]]


class ArgvWatch:
    """Samples the argv of ``pid``'s process tree (or of shared servers) while a batch runs."""

    def __init__(self, pid: int = 0, marker: str = "") -> None:
        self.pid, self.marker = pid, marker
        self.argvs: Set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            procs = descendants(self.pid) if self.pid else processes()
            self.argvs.update(
                p.cmdline for p in procs if not self.marker or self.marker in p.cmdline
            )

    def stop(self) -> Set[str]:
        self._stop.set()
        self._thread.join()
        return self.argvs


def _no_secret_in(texts: List[str], secrets: List[str]) -> None:
    leaked = [s for s in secrets if any(s in t for t in texts)]
    assert not leaked, "a secret appears on argv or in a log"


def test_a_long_cli_batch_outlives_its_credentials(
    moto_target: Target, short_lived: Path, tmp_path: Path
) -> None:
    """Forked workers (2) sign with credentials renewed by the parent."""
    moto_target.slow.set_mode("latency", delay=CLI_DELAY)  # type: ignore[attr-defined]
    rows = [f'{{"url": "{moto_target.url(f"c/{i:05d}")}"}}\n' for i in range(COUNT)]
    (tmp_path / "m.jsonl").write_text("".join(rows))
    start = time.monotonic()
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "s3op",
            "get",
            "--inputs",
            str(tmp_path / "m.jsonl"),
            "--destination",
            str(tmp_path / "out"),
            "--num-workers",
            "2",
            "--threads",
            "1",
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watch = ArgvWatch(proc.pid)
    out, err = proc.communicate(timeout=600)
    argvs = watch.stop()
    took = time.monotonic() - start
    check: KeyCheck = moto_target.proxy.key_check  # type: ignore[attr-defined]
    failed = [line for line in out.splitlines() if '"ok":false' in line]
    assert proc.returncode == 0, (err[-2000:], failed[:10])
    assert out.count('"ok":true') == COUNT
    assert "ExpiredToken" not in out and check.expired == 0
    assert took >= 2 * LIFETIME, f"the batch took {took:.1f} s: too short to test renewal"
    assert len(check.seen) >= 3, (
        "the batch did not outlast its credentials, or they were not renewed"
    )
    assert len(argvs) >= 2  # the parent and its workers were seen
    _no_secret_in([*argvs, out, err], _secrets(short_lived))
    figure("credentials cli", f"{took:.1f} s batch, {len(check.seen)} access keys, 0 expired")


def test_the_shared_engine_renews_its_credentials(
    moto_target: Target, short_lived: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm ``s3op serve`` runs a long batch, waits past the lifetime, runs another."""
    monkeypatch.setenv("S3CLIENT_ENGINE", "shared")
    monkeypatch.setenv("S3CLIENT_THREADS", "1")
    check: KeyCheck = moto_target.proxy.key_check  # type: ignore[attr-defined]
    keys = [f"c/{i:05d}" for i in range(COUNT)]
    watch = ArgvWatch(marker="--listen")
    with S3(s3root=moto_target.url(), threads=1) as s3:
        start = time.monotonic()
        got = s3.get_many(keys)
        took = time.monotonic() - start
        time.sleep(2 * LIFETIME)  # the engine idles past its credentials' lifetime
        again = s3.get_many(keys[:50])
    argvs = watch.stop()
    assert [o.key for o in got] == keys and all(o.exists for o in got + again)
    assert check.expired == 0
    assert len(check.seen) >= 3, "the credentials were not renewed"
    assert argvs, "no shared engine seen"
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])
    logs = [p.read_text(errors="replace") for p in runtime.rglob("*.log")]
    _no_secret_in([*argvs, *logs], _secrets(short_lived))
    figure("credentials shared", f"{took:.1f} s batch, {len(check.seen)} access keys, 0 expired")

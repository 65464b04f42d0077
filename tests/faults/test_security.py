"""Security: secrets stay secret, temp files stay private, keys stay data.

- Secrets (session variables, credentials, client parameters) never appear on
  any process's argv, in manifests, result lines, error messages or the
  engine's stderr: a batch runs with distinctive fake secrets while every
  marked process's command line is sampled, and everything it left is scanned.
- Temp dirs and manifests are private (0700/0600) even under ``umask 0``.
- ``s3op get --destination`` never writes outside the destination, whatever the
  key (``../``, absolute keys, dot segments, a symlink planted in the destination).
- Keys are data: newlines, quotes, JSON, shell syntax and option-like keys
  round-trip as exactly one object each, and nothing ever runs them.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Dict, List, Set, Tuple

import pytest

from s3client import S3, S3Error
from tests.faults.conftest import (
    MARK_VAR,
    PYTHON,
    REPO,
    ResultSpy,
    Target,
    figure,
    files_under,
    marked,
    new_mark,
    run_s3op,
    s3op_argv,
)

pytestmark = pytest.mark.faults


# ------------------------------------------------------------------ secrets


class ArgvSampler(threading.Thread):
    """Collects the command lines of marked processes until stopped."""

    def __init__(self, mark: str) -> None:
        super().__init__(daemon=True)
        self.mark = mark
        self.seen: Set[str] = set()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.seen.update(p.cmdline for p in marked(self.mark))
            time.sleep(0.02)

    def stop(self) -> Set[str]:
        self.stopped.set()
        self.join()
        return self.seen


def _secrets() -> dict:
    tag = uuid.uuid4().hex[:12].upper()
    return {
        "aws_access_key_id": f"AKIAFAULTS{tag}",
        "aws_secret_access_key": f"faults-secret-{tag}",
        "aws_session_token": f"faults-token-{tag}",
    }


@pytest.mark.parametrize(
    "engine, where",
    [
        ("shared", "session_vars"),
        ("shared", "client_params"),
        ("persistent", "session_vars"),
        ("persistent", "client_params"),
        ("subprocess", "session_vars"),
    ],
)
def test_secrets_never_leak(
    seaweed_target: Target,
    spy: ResultSpy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine: str,
    where: str,
) -> None:
    """Distinctive credentials given as session_vars or client_params appear nowhere."""
    target = seaweed_target
    secrets = _secrets()
    mark = new_mark()
    monkeypatch.setenv(MARK_VAR, mark)
    monkeypatch.setenv("S3CLIENT_ENGINE", engine)
    monkeypatch.setenv("S3CLIENT_DEBUG", "1")  # keep manifests and temp dirs to scan
    tmproot = tmp_path / "tmproot"
    tmproot.mkdir()
    sampler = ArgvSampler(mark)
    sampler.start()
    messages: List[str] = []
    target.proxy.set_mode("latency", delay=0.05)
    client_params = {"endpoint_url": target.proxy.endpoint_url}
    session_vars = {}
    if where == "session_vars":
        session_vars.update(secrets)
    else:
        client_params.update(secrets)
    with S3(
        s3root=target.url("s"),
        tmproot=str(tmproot),
        session_vars=session_vars,
        client_params=client_params,
    ) as s3:
        s3.put_many([(f"k{i}", f"v{i}") for i in range(60)], overwrite=False)
        s3.get_many([f"k{i}" for i in range(60)])
        s3.info_many([f"k{i}" for i in range(5)])
        s3.list_recursive()
        calls: List[Tuple[str, Callable[[], object]]] = [
            ("none", lambda: s3.get("missing")),
            ("none", lambda: s3.get_many(["k0", "nope"])),
            ("error", lambda: s3.get("k1")),
            ("error", lambda: s3.put("k1", "x")),
            ("forbidden", lambda: s3.get("k2")),
        ]
        for mode, call in calls:
            if mode == "error":
                target.proxy.set_mode("error", status=500, code="InternalError")
            elif mode == "forbidden":
                target.proxy.set_mode("error", status=403, code="SignatureDoesNotMatch")
            try:
                call()
            except S3Error as exc:
                messages.append(str(exc))
    argvs = sampler.stop()
    kept = files_under(tmproot)
    haystacks = {
        "argv": "\n".join(argvs),
        "result lines": "\n".join(line for b in spy.batches for line in b.lines),
        "engine stderr": "\n".join(b.stderr for b in spy.batches),
        "error messages": "\n".join(messages),
        "kept files": "\n".join(Path(p).read_text(errors="replace") for p in kept),
        "shared engine files": _runtime_files(),
    }
    leaks = {
        where: [k for k, v in secrets.items() if v in text] for where, text in haystacks.items()
    }
    leaks["argv (access key id too)"] = [k for k, v in secrets.items() if v in haystacks["argv"]]
    figure(
        f"security ({engine}, {where})",
        f"scanned {len(argvs)} command lines, "
        f"{sum(len(b.lines) for b in spy.batches)} result lines, {len(messages)} error "
        f"messages, {len(kept)} kept files (manifests, downloads): leaks "
        f"{ {k: v for k, v in leaks.items() if v} or 'none' }",
    )
    assert len(argvs) >= 1 and len(messages) >= 3 and kept
    assert all(not v for v in leaks.values()), leaks


def _runtime_files() -> str:
    """Names of the shared engines' files, and their logs."""
    directory = Path(os.environ["XDG_RUNTIME_DIR"]) / f"s3client-{os.getuid()}"
    if not directory.is_dir():
        return ""
    names = [p.name for p in directory.iterdir()]
    logs = [p.read_text(errors="replace") for p in directory.glob("*.log")]
    return "\n".join(names + logs)


def test_secrets_never_leak_cli(seaweed_target: Target, tmp_path: Path) -> None:
    """s3op with secrets in S3OP_SESSION_VARS / S3OP_CLIENT_PARAMS: none in its output,
    not even when the parameters are rejected."""
    target = seaweed_target
    secrets = _secrets()
    base = dict(os.environ, S3OP_SESSION_VARS=json.dumps(secrets))
    outputs = []
    for params in (
        {"endpoint_url": target.proxy.endpoint_url},
        {"endpoint_url": target.proxy.endpoint_url, "bogus": secrets["aws_session_token"]},
        {
            "endpoint_url": target.proxy.endpoint_url,
            "config": {"bogus": secrets["aws_secret_access_key"]},
        },
        {
            "endpoint_url": target.proxy.endpoint_url,
            "config": {"connect_timeout": secrets["aws_secret_access_key"]},
        },
    ):
        env = dict(base, S3OP_CLIENT_PARAMS=json.dumps(params))
        for args in (
            ("get", target.url("nope"), "--destination", str(tmp_path / "d")),
            ("list", target.url()),
        ):
            run = run_s3op(*args, env=env, timeout=120)
            outputs.append(f"exit {run.code}\n" + "\n".join(run.lines) + run.stderr)
    env = dict(base, S3OP_SESSION_VARS=json.dumps(secrets)[:-5])  # not valid JSON
    run = run_s3op("list", target.url(), env=env, timeout=120)
    outputs.append(run.stderr)
    text = "\n".join(outputs)
    leaks = [k for k, v in secrets.items() if v in text]
    figure(
        "security (s3op)",
        f"{len(outputs)} runs incl. rejected client params and broken "
        f"JSON: leaks {leaks or 'none'}",
    )
    assert leaks == []


# ------------------------------------------------------------------ private files

MODES = textwrap.dedent(
    """
    import json, os, stat, sys
    os.umask(0)
    from s3client import S3
    root, tmproot = sys.argv[1:3]
    with S3(s3root=root, tmproot=tmproot) as s3:
        s3.put_many([("a", "x"), ("b", b"y")] + [("m/%d" % i, b"m") for i in range(70)])
        s3.get_many(["a", "b"])
        s3.get_many(["m/%d" % i for i in range(70)])  # big enough for shard directories
        s3.get_recursive([""])
        modes = {}
        for dirpath, dirs, files in os.walk(s3._tmpdir):
            for name in dirs + files:
                path = os.path.join(dirpath, name)
                modes[os.path.relpath(path, s3._tmpdir)] = oct(stat.S_IMODE(os.lstat(path).st_mode))
        modes["."] = oct(stat.S_IMODE(os.stat(s3._tmpdir).st_mode))
    print(json.dumps(modes))
    """
)


def test_temp_dirs_and_manifests_are_private(seaweed_target: Target, tmp_path: Path) -> None:
    """Under umask 0: the client's temp dir and recursive dirs 0700, manifests and staged
    uploads 0600 (kept with S3CLIENT_DEBUG=1 to be inspected)."""
    script = tmp_path / "modes.py"
    script.write_text(MODES)
    env = dict(os.environ, S3CLIENT_DEBUG="1")
    proc = subprocess.run(
        [PYTHON, str(script), seaweed_target.url("p"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=str(REPO),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    modes = json.loads(proc.stdout.strip().splitlines()[-1])
    # The temp dir and the download shards: get_many of 70 keys, and get_recursive (which
    # lists, then downloads its 72 objects the same way), 16 shard directories each.
    ours = re.compile(r"\.|get-\d+-shard\d+")
    dirs = {k: v for k, v in modes.items() if ours.fullmatch(k)}
    manifests = {k: v for k, v in modes.items() if k.startswith("manifest-")}
    figure(
        "security (private files)",
        f"umask 0: temp dir and dirs {sorted(set(dirs.values()))}, "
        f"{len(manifests)} manifests {sorted(set(manifests.values()))}, everything: "
        f"{sorted(set(modes.values()))}",
    )
    assert set(dirs.values()) == {"0o700"}
    assert sum(1 for k in dirs if "shard" in k) == 32
    assert manifests and set(manifests.values()) == {"0o600"}


def test_s3op_temp_files_are_private(seaweed_target: Target, tmp_path: Path) -> None:
    """s3op's download temp files (``.*.s3op-*.part``), which live in the user's
    destination directory, are 0600 even under umask 0, for as long as they hold
    unverified bytes. Once verified a file gets its final mode and is renamed
    into place right after: a poll may catch it in that window (seen in CI), so
    only a file's last sighting may show another mode."""
    target = seaweed_target
    target.direct().put_object(Bucket=target.bucket, Key="big", Body=os.urandom(33 * 1024 * 1024))
    target.direct().put_object(Bucket=target.bucket, Key="small", Body=b"s" * 100_000)
    target.proxy.set_mode(
        "drip", drip_bytes=4096, drip_interval=0.01, match=lambda m, t, h: t.endswith("/small")
    )
    dest = tmp_path / "dest"
    dest.mkdir()
    modes: Dict[str, List[str]] = {}  # temp file -> the modes seen, in order
    proc = subprocess.Popen(
        s3op_argv("get", target.url("big"), target.url("small"), "--destination", str(dest)),
        cwd=str(REPO),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.umask(0),
    )
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        for p in dest.glob(".*.part"):
            try:
                seen = modes.setdefault(p.name.split(".s3op-")[0], [])
                mode = oct(stat.S_IMODE(p.stat().st_mode))
                if not seen or seen[-1] != mode:
                    seen.append(mode)
            except FileNotFoundError:
                pass
        time.sleep(0.005)
    proc.communicate(timeout=60)
    figure("security (s3op temp files)", f"umask 0: temp file modes {modes}")
    assert ".small" in modes, modes  # its body drips: seen for ~0.25 s
    for name, seen in modes.items():
        assert seen[0] == "0o600", (name, seen)  # private from creation
        assert set(seen[:-1]) <= {"0o600"}, (name, seen)  # until its very end


# ------------------------------------------------------------------ keys and paths

ESCAPES = [
    "../escape",
    "a/../../escape",
    "/abs/escape",
    "a//b",
    "./x",
    "a/./b",
    "..",
    "x/..",
    "link/evil",
]
SAFE = ["ok", "dir/ok", "...", "a..b", "dots/..x", "sp ace/ü"]


def test_downloads_stay_in_destination(moto_target: Target, tmp_path: Path) -> None:
    """Keys that climb out (``../``), absolute keys, dot segments and a symlink planted in
    the destination: each refused with a named error; nothing written outside."""
    target = moto_target  # moto stores keys literally (SeaweedFS refuses dot segments)
    client = target.direct()
    for key in ESCAPES + SAFE:
        client.put_object(Bucket=target.bucket, Key=key, Body=f"content of {key}".encode())
    assert set(target.keys()) == set(ESCAPES + SAFE)
    sandbox = tmp_path / "sandbox"
    dest = sandbox / "dest"
    outside = sandbox / "outside"
    dest.mkdir(parents=True)
    outside.mkdir()
    (dest / "link").symlink_to(outside)
    single = run_s3op(
        "get", *[target.url(k) for k in ESCAPES + SAFE], "--destination", str(dest), timeout=120
    )
    recursive = run_s3op(
        "get", "--recursive", target.url(), "--destination", str(dest / "r"), timeout=120
    )
    written = [f for f in files_under(sandbox)]
    escaped = [
        f
        for f in written
        if not f.startswith(str(dest) + os.sep) or os.path.realpath(f).startswith(str(outside))
    ]
    refused = {r.url.split("/", 3)[3]: r.error.kind.value for r in single.results if r.error}
    got = {r.url.split("/", 3)[3] for r in single.results if r.ok}
    figure(
        "security (paths)",
        f"{len(ESCAPES)} escaping keys refused as "
        f"{sorted(set(refused.values()))} (single) and "
        f"{sorted({r.error.kind.value for r in recursive.results if r.error})} (recursive); "
        f"{len(got)}/{len(SAFE)} safe keys downloaded; files outside the destination: "
        f"{len(escaped)}",
    )
    assert escaped == [] and files_under(outside) == []
    assert set(refused) == set(ESCAPES) and got == set(SAFE)
    assert set(refused.values()) == {"local_file_error"}
    for key in SAFE:
        assert (dest / key).read_bytes() == f"content of {key}".encode()
    assert {r.url.split("/", 3)[3] for r in recursive.results if r.error} == set(ESCAPES) - {
        "link/evil"
    }


INJECTIONS = [
    "line\nbreak",
    "cr\r\nlf",
    '{"url": "s3://other-bucket/evil", "local": "/etc/passwd"}',
    'quote"and\\backslash',
    "--help",
    "-rf",
    "$(touch {canary})",
    "`touch {canary}`",
    "; touch {canary} #",
    "| touch {canary}",
    "tab\there",
    "u2028\u2028sep",
    'idx", "idx": 0, "x": "',
    "%2F..%2Fescape",
    "?query=1#frag",
]


#: What a server cannot keep in a key (checked with plain boto3): moto answers 404 to a
#: PUT of a key with a line break; SeaweedFS stores "\\" as "/" and "//" as "/".
UNSUPPORTED = {"moto": ("\n", "\r"), "seaweedfs": ("\\", "//")}


@pytest.mark.parametrize("backend", ["seaweedfs", "moto"])
def test_keys_are_data(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """Keys holding newlines, quotes, JSON, shell syntax or option-like text round-trip as
    exactly one object each; manifests keep one line per request; nothing is executed.
    (Keys with characters the server itself cannot keep are left out: ``UNSUPPORTED``.)"""
    target: Target = request.getfixturevalue(
        "seaweed_target" if backend == "seaweedfs" else "moto_target"
    )
    canary = tmp_path / f"pwned-{uuid.uuid4().hex[:8]}"
    keys = [
        k.replace("{canary}", str(canary))
        for k in INJECTIONS
        if not any(c in k for c in UNSUPPORTED[backend])
    ]
    monkeypatch.setenv("S3CLIENT_DEBUG", "1")
    tmproot = tmp_path / "tmproot"
    tmproot.mkdir()
    values = [(f"inj/{k}", f"value {i}") for i, k in enumerate(keys)]
    with S3(s3root=target.url(), tmproot=str(tmproot)) as s3:
        written = s3.put_many(values)
        got = s3.get_many([k for k, _ in values])
        listed = sorted(o.url for o in s3.list_recursive(["inj"]))
    on_server = sorted(target.keys("inj/"))
    manifests = [p for p in files_under(tmproot) if "/manifest-" in p]
    parsed = [json.loads(line) for m in manifests for line in Path(m).read_text().splitlines()]
    urls = sorted(target.url(k) for k, _ in values)
    lines_ok = (
        len(manifests) == 3  # put, get, list
        and sorted(e["url"] for e in parsed if "local" in e and "range" not in e) != []
        and len(parsed) == 2 * len(values) + 1
        and sorted(e["url"] for e in parsed if e["url"] != target.url("inj/")) == sorted(urls * 2)
    )
    contents_ok = [o.text for o in got] == [v for _, v in values]
    figure(
        f"security (keys, {backend})",
        f"{len(keys)} hostile keys: written {len(written)}, "
        f"on server {len(on_server)} (exact names {on_server == sorted(k for k, _ in values)}), "
        f"listed {len(listed)}, contents equal {contents_ok}, manifests {len(manifests)} with "
        f"one line per request {lines_ok}, canary file created {canary.exists()}",
    )
    assert not canary.exists()
    assert len(written) == len(values)
    assert on_server == sorted(k for k, _ in values)
    assert listed == urls
    assert contents_ok
    assert manifests and lines_ok

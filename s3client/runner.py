"""Running one batch on an ``s3op`` engine process, under one of three policies.

``ProcessEngine``, the ``S3`` client's ``Engine``, writes each batch's
manifest (0600, in the client's temp dir), hands ``OP --inputs MANIFEST
FLAGS...`` to its ``Policy``, deletes the manifest (``S3CLIENT_DEBUG=1``
keeps it, telling its path on stderr) and judges the ``Answer``
(``check_outcome``). ``S3CLIENT_ENGINE`` names the policy (``POLICIES``):

- ``shared`` (default): one warm ``s3op serve`` per user and configuration,
  on a Unix socket (``shared``); a batch it cannot take runs privately;
- ``private`` (``persistent``): ``s3op serve`` processes of this process
  only, reused, on pipes (``server``);
- ``one-shot`` (``subprocess``): ``python -m s3op`` once per batch
  (``OneShot``): Python's start-up every time, nothing outlives the batch.

Secrets (boto3 session variables, client parameters) travel only in the
engine's environment, never on its command line or in the manifest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
from types import FrameType
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Protocol, Sequence

from s3op import protocol
from s3op.protocol import Request, Result

from .engine_process import Answer, EngineProcess, child_env, s3op_command
from .outcome import check_outcome, results_by_request
from .server import Private
from .shared import Shared

#: ``S3CLIENT_ENGINE`` values, old names included, and the policy each one names.
POLICIES: Mapping[str, str] = {
    "shared": "shared", "private": "private", "persistent": "private",
    "one-shot": "one-shot", "subprocess": "one-shot",
}  # fmt: skip


class Engine(Protocol):
    """Anything that runs a batch of requests and returns their results."""

    def run(self, op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
        """Run ``requests`` as one ``op`` batch; results sorted by request index."""


class Policy(Protocol):
    """Where a batch's engine process comes from (``OneShot``, ``Private``, ``Shared``)."""

    def run(self, argv: Sequence[str]) -> Answer:
        """Run the engine command ``argv`` (``OP --inputs MANIFEST ...``) to its end."""


class ProcessEngine:
    """The ``Engine`` on engine processes, placed by ``policy`` (see the module docstring)."""

    def __init__(self, workdir: str, policy: Policy, keep_files: bool = False) -> None:
        self.workdir = workdir
        self.policy = policy
        self.keep_files = keep_files

    def run(self, op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
        """Run one batch; results sorted by request index."""
        manifest = write_manifest(requests, self.workdir)
        try:
            answer = self.policy.run(build_argv([], op, manifest, flags))
        finally:
            if self.keep_files:
                announce_kept_manifest(op, manifest)
            else:
                remove_file(manifest)
        results = check_outcome(op, flags, requests, answer.exit_code, answer.lines, answer.stderr)
        return sorted(results, key=lambda r: r.idx)


class OneShot:
    """The ``Policy`` starting one engine process per batch: ``python -m s3op ARGV``
    in the temp dir, results on its stdout, its exit code the batch's."""

    def __init__(
        self, workdir: str, env_extra: Mapping[str, str], command: Optional[Sequence[str]] = None
    ) -> None:
        self.workdir = workdir
        self.env_extra = dict(env_extra)
        self.command = list(command) if command is not None else s3op_command()

    def run(self, argv: Sequence[str]) -> Answer:
        """Run ``s3op ARGV`` to its end (in the environment of now: ours may change)."""
        return execute([*self.command, *argv], child_env(self.env_extra), self.workdir)


def execute(argv: Sequence[str], env: Dict[str, str], workdir: str) -> Answer:
    """Run the engine command ``argv`` in ``workdir``; Ctrl-C (or any exception)
    meanwhile stops its process group and re-raises."""
    process = EngineProcess(argv, env, cwd=workdir)
    try:
        answer = process.answer()
    except BaseException:  # never leave workers behind
        process.stop()
        raise
    process.release()
    return answer


def engine_for(
    kind: str, workdir: str, env_extra: Mapping[str, str], keep_files: bool = False
) -> ProcessEngine:
    """The engine for ``S3CLIENT_ENGINE=kind`` (a key of ``POLICIES``); the engine's
    environment is ours plus ``env_extra``. A server policy starts its server now."""
    policy = POLICIES.get(kind)
    if policy is None:
        raise ValueError(f"unknown engine policy {kind!r}: one of {', '.join(POLICIES)}")
    if policy == "one-shot":
        return ProcessEngine(workdir, OneShot(workdir, env_extra), keep_files)
    env = child_env(env_extra)
    if policy == "private":
        return ProcessEngine(workdir, Private(env), keep_files)
    return ProcessEngine(workdir, Shared(env, Private(env, prewarm=False)), keep_files)


def run_batch(
    op: str, requests: Sequence[Request], flags: Sequence[str], env_extra: Mapping[str, str],
    workdir: str, command: Optional[Sequence[str]] = None, keep_manifest: bool = False,
) -> List[Result]:  # fmt: skip
    """Run ``requests`` through one fresh ``s3op op``; results sorted by request index."""
    engine = ProcessEngine(workdir, OneShot(workdir, env_extra, command), keep_manifest)
    return engine.run(op, requests, flags)


def build_argv(command: Sequence[str], op: str, manifest: str, flags: Sequence[str]) -> List[str]:
    """The engine's command line for one batch (``command`` empty: what a policy runs)."""
    return [*command, op, "--inputs", manifest, *flags]


def write_manifest(requests: Iterable[Request], workdir: str) -> str:
    """Write ``requests`` (read one at a time) as a JSONL manifest to a new 0600
    file; return its path."""
    fd, path = tempfile.mkstemp(prefix="manifest-", suffix=".jsonl", dir=workdir)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        for req in requests:
            f.write(protocol.request_to_json(req) + "\n")
    return path


def announce_kept_manifest(op: str, path: str) -> None:
    """One stderr line: where a batch's manifest was kept (rerun: s3op OP --inputs PATH)."""
    sys.stderr.write(f"s3client: S3CLIENT_DEBUG: kept the manifest of an s3op {op} batch: {path}\n")
    sys.stderr.flush()


def remove_file(path: str) -> None:
    """Remove ``path``; a file already gone is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While a batch runs, SIGTERM raises KeyboardInterrupt instead of killing us
    without finalizers (leaving the temp dir behind): the engine is stopped and
    the temp dir removed, as for Ctrl-C. Only in the main thread, and only while
    SIGTERM has its default action: a handler of the program's own is kept."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt(f"signal {signum} during an S3 batch")


__all__ = [
    "Engine", "OneShot", "POLICIES", "Policy", "ProcessEngine", "announce_kept_manifest",
    "build_argv", "check_outcome", "engine_for", "execute", "remove_file", "results_by_request",
    "run_batch", "sigterm_as_interrupt", "write_manifest",
]  # fmt: skip

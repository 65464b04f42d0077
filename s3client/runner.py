"""Running one batch through the ``s3op`` engine and reading its results.

``Engine`` is the interface the ``S3`` client uses: ``run(op, requests,
flags) -> results``. ``SubprocessEngine`` implements it by starting
``python -m s3op`` once per batch:

1. write the manifest (one ``request_to_json`` line per request) to a
   0600 file in the client's temp dir;
2. run ``[python, -m, s3op, op, --inputs, manifest, *flags]`` in a new
   session (its own process group), stdout piped, stderr to a temp file;
3. parse every stdout line with ``Result.from_json``;
4. exit codes 0, 1, 3 and 4 return the results (the client maps per-result
   errors to exceptions); exit 2, unparseable output, or any other code
   with results missing raise ``S3EngineError`` with the end of stderr;
5. on Ctrl-C (or any exception) while waiting, SIGTERM the process group,
   give it 5 s, SIGKILL it, and re-raise;
6. delete the manifest (kept, and its path told on stderr, when
   ``keep_files`` is set: ``S3CLIENT_DEBUG=1``).

Secrets (boto3 session variables, client parameters) travel only in the
environment given as ``env``, never on the command line or in the manifest.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import (
    IO,
    Any,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Union,
)

from s3op import protocol
from s3op.protocol import ExitCode, Request, Result

from .errors import S3EngineError

#: Exit codes after which the result lines are complete and meaningful.
RESULT_EXIT_CODES = frozenset(
    {ExitCode.OK, ExitCode.FAILED, ExitCode.TRANSIENT, ExitCode.OUT_OF_DISK}
)
#: Seconds between SIGTERM and SIGKILL when stopping an interrupted engine.
KILL_GRACE_SECONDS = 5.0
#: How much of the engine's stderr goes into an S3EngineError message.
STDERR_TAIL_CHARS = 2000


class Engine(Protocol):
    """Anything that runs a batch of requests and returns their results."""

    def run(self, op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
        """Run ``requests`` as one ``op`` batch; results sorted by request index."""
        ...


def s3op_command() -> List[str]:
    """The default command starting the engine: this Python, ``-m s3op``."""
    return [sys.executable, "-m", "s3op"]


def build_argv(command: Sequence[str], op: str, manifest: str, flags: Sequence[str]) -> List[str]:
    """The engine's full command line for one batch."""
    return [*command, op, "--inputs", manifest, *flags]


def write_manifest(requests: Sequence[Request], workdir: str) -> str:
    """Write ``requests`` as a JSONL manifest to a new 0600 file; return its path."""
    fd, path = tempfile.mkstemp(prefix="manifest-", suffix=".jsonl", dir=workdir)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        for req in requests:
            f.write(protocol.request_to_json(req) + "\n")
    return path


def announce_kept_manifest(op: str, path: str) -> None:
    """One stderr line: where a batch's manifest was kept (rerun: s3op OP --inputs PATH)."""
    sys.stderr.write(f"s3client: S3CLIENT_DEBUG: kept the manifest of an s3op {op} batch: {path}\n")
    sys.stderr.flush()


def child_env(env_extra: Mapping[str, str]) -> Dict[str, str]:
    """The engine's environment: ours, plus ``env_extra``, plus the s3op on our path.

    The engine runs with the temp dir as its working directory, so the
    directory holding the ``s3op`` package we import is put first on
    ``PYTHONPATH``: parent and engine always share one ``s3op``.
    """
    env = dict(os.environ)
    env.update(env_extra)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(protocol.__file__)))
    current = env.get("PYTHONPATH")
    env["PYTHONPATH"] = package_parent + (os.pathsep + current if current else "")
    return env


class SubprocessEngine:
    """Runs each batch in a fresh ``s3op`` process (see the module docstring)."""

    def __init__(
        self,
        workdir: str,
        env_extra: Optional[Mapping[str, str]] = None,
        command: Optional[Sequence[str]] = None,
        keep_files: bool = False,
    ) -> None:
        self.workdir = workdir
        self.env_extra = dict(env_extra or {})
        self.command = list(command) if command is not None else s3op_command()
        self.keep_files = keep_files

    def run(self, op: str, requests: Sequence[Request], flags: Sequence[str]) -> List[Result]:
        """Run one batch; see ``run_batch``."""
        return run_batch(
            op, requests, flags, self.env_extra, self.workdir, self.command, self.keep_files
        )


def run_batch(
    op: str,
    requests: Sequence[Request],
    flags: Sequence[str],
    env_extra: Mapping[str, str],
    workdir: str,
    command: Optional[Sequence[str]] = None,
    keep_manifest: bool = False,
) -> List[Result]:
    """Run ``requests`` through ``s3op op``; results sorted by request index."""
    manifest = write_manifest(requests, workdir)
    try:
        argv = build_argv(command or s3op_command(), op, manifest, flags)
        returncode, lines, stderr = _execute(argv, child_env(env_extra), workdir)
    finally:
        if keep_manifest:
            announce_kept_manifest(op, manifest)
        else:
            remove_file(manifest)
    results = check_outcome(op, flags, requests, returncode, lines, stderr)
    return sorted(results, key=lambda r: r.idx)


def _execute(argv: List[str], env: Dict[str, str], workdir: str) -> Tuple[int, List[str], str]:
    """Run the engine; return its exit code, stdout lines and stderr text."""
    with tempfile.TemporaryFile(dir=workdir) as err:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=workdir,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise S3EngineError(f"cannot start s3op ({argv[0]}): {exc}") from exc
        try:
            lines = _read_lines(proc)
            returncode = proc.wait()
        except BaseException:  # Ctrl-C or anything else: never leave workers behind
            stop_process_group(proc)
            raise
        return returncode, lines, _read_tail(err)


def _read_lines(proc: subprocess.Popen[bytes]) -> List[str]:
    assert proc.stdout is not None
    with proc.stdout:
        return [line.decode("utf-8", errors="replace") for line in proc.stdout]


def _read_tail(err: IO[bytes]) -> str:
    err.seek(0, os.SEEK_END)
    err.seek(max(0, err.tell() - STDERR_TAIL_CHARS))
    return err.read().decode("utf-8", errors="replace").strip()


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``proc``'s process group, wait up to 5 s, then SIGKILL it.

    The group is signalled only while its leader ``proc`` is unreaped: a zombie
    keeps its id, so the id still names our group. Once reaped, the id is free
    and may already belong to another process group (another engine, a shell's
    job), so nothing is sent. Its workers do not need it: they die with their
    parent (``PR_SET_PDEATHSIG``, see ``s3op.pool``).
    """
    if proc.returncode is not None:
        return
    _signal_group(proc.pid, signal.SIGTERM)
    if _exited_unreaped(proc.pid, KILL_GRACE_SECONDS) is None:
        proc.wait()  # reaped elsewhere (another thread's poll): its id is not ours now
        return
    # Workers may outlive the parent engine process: kill what is left.
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _exited_unreaped(pid: int, timeout: float) -> Optional[bool]:
    """Wait up to ``timeout`` s for child ``pid`` to exit without reaping it:
    True once it is a zombie, False if still running, None if already reaped."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
                return True
        except ChildProcessError:
            return None
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def check_outcome(
    op: str,
    flags: Sequence[str],
    requests: Sequence[Request],
    returncode: int,
    lines: Sequence[Union[Result, str]],
    stderr: str,
) -> List[Result]:
    """Parse the result lines; raise S3EngineError when the engine failed as a whole.

    After exit 0/1/3/4 the results are complete. After any other exit the
    results of a get/put/info batch are used only if every request has
    one; a listing's results cannot be known complete, so it fails.
    """
    if returncode == ExitCode.USAGE:
        raise _engine_error(op, requests, f"usage error (exit {returncode})", stderr)
    results = parse_results(op, requests, lines, stderr)
    if returncode not in RESULT_EXIT_CODES and is_listing(op, flags):
        raise _engine_error(op, requests, _exit_text(returncode), stderr)
    missing = missing_results(op, flags, requests, results)
    if missing:
        what = f"{_exit_text(returncode)}, no result for {len(missing)} request(s)"
        raise _engine_error(op, requests, what, stderr)
    return results


def parse_early(line: str) -> Union[Result, str]:
    """A result line parsed as it arrives (overlapping the engine's work), or the
    line itself when it does not parse: ``parse_results`` reports it then."""
    try:
        return Result.from_json(line)
    except (ValueError, TypeError, KeyError):
        return line


def read_answer(
    stream: Iterable[bytes], lines: List[Union[Result, str]]
) -> Optional[Tuple[int, str]]:
    """Read one ``s3op serve`` answer: result lines go to ``lines`` (parsed early),
    then (exit code, stderr) from the terminator; None if the stream ended first."""
    for raw in stream:
        line = raw.decode("utf-8", errors="replace")
        if line.startswith('{"end": true'):
            end = json.loads(line)
            return int(end["exit_code"]), str(end.get("stderr", ""))
        lines.append(parse_early(line))
    return None


def parse_results(
    op: str, requests: Sequence[Request], lines: Sequence[Union[Result, str]], stderr: str
) -> List[Result]:
    """``Result.from_json`` for every non-blank line; S3EngineError on a bad one.

    Lines already parsed by ``parse_early`` are taken as they are.
    """
    results = []
    for line in lines:
        if isinstance(line, Result):
            results.append(line)
            continue
        if not line.strip():
            continue
        try:
            results.append(Result.from_json(line))
        except (ValueError, TypeError, KeyError) as exc:
            raise _engine_error(
                op, requests, f"unreadable result line {line.strip()[:200]!r} ({exc})", stderr
            ) from None
    return results


def is_listing(op: str, flags: Sequence[str]) -> bool:
    """True for batches giving any number of lines per request (list, recursive get)."""
    return op == "list" or "--recursive" in flags


def missing_results(
    op: str, flags: Sequence[str], requests: Sequence[Request], results: Sequence[Result]
) -> List[int]:
    """Indexes of requests owed a result line that has not come.

    A listing legitimately finds nothing under a prefix, so it owes none.
    """
    if is_listing(op, flags):
        return []
    answered = {res.idx for res in results}
    return [req.idx for req in requests if req.idx not in answered]


def _exit_text(returncode: int) -> str:
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return f"exit {returncode}"


def _engine_error(op: str, requests: Sequence[Request], what: str, stderr: str) -> S3EngineError:
    first = requests[0].url if requests else None
    message = f"s3op {op} failed: {what}; first URL {first}"
    if stderr:
        message += f"\n--- s3op stderr (end) ---\n{stderr[-STDERR_TAIL_CHARS:]}"
    return S3EngineError(message, url=first)


def results_by_request(requests: Sequence[Request], results: Sequence[Result]) -> Dict[int, Result]:
    """Results keyed by request index; S3EngineError if a request has none."""
    by_idx: Dict[int, Result] = {}
    for res in results:
        by_idx.setdefault(res.idx, res)
    for req in requests:
        if req.idx not in by_idx:
            raise S3EngineError.about(req.url, "the engine returned no result for it")
    return by_idx


def remove_file(path: str) -> None:
    """Remove ``path``; a file already gone is fine."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While a batch runs, SIGTERM raises KeyboardInterrupt instead of killing us.

    Python's default SIGTERM action ends the process without running
    finalizers, so the temp dir (downloads, manifest) would stay behind.
    As an interrupt, the engine is stopped and the temp dir removed, as
    for Ctrl-C. Only from the main thread, and only when SIGTERM still has
    its default action: a handler of the program's own is left alone.
    """
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum} during an S3 batch")


__all__ = [
    "Engine",
    "SubprocessEngine",
    "announce_kept_manifest",
    "build_argv",
    "check_outcome",
    "child_env",
    "is_listing",
    "missing_results",
    "parse_results",
    "results_by_request",
    "run_batch",
    "s3op_command",
    "sigterm_as_interrupt",
    "stop_process_group",
    "write_manifest",
]

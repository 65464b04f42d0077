"""The engine-process manager: spawn ``s3op``, send it a batch, read results, stop it.

Every policy (``runner.OneShot``, ``server``, ``shared``) is made of these:
``EngineProcess`` (``python -m s3op ...`` leading a process group of its
own, so a terminal's Ctrl-C reaches only the library, which decides; our
``s3op`` first on ``PYTHONPATH``; secrets only in its environment),
``read_answer`` (result lines parsed as they arrive, up to a terminator),
``read_tail`` (the end of its stderr) and the one kill procedure,
``stop_group``: SIGTERM to the group, up to ``KILL_GRACE_SECONDS`` for its
leader to exit, then SIGKILL to what is left (workers may outlive their
leader), but only while the group's id is surely still ours: until we reap
a child of ours (``stop_process_group``), until a shared server reached by
a socket closes it (``stop_peer``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import signal
import socket
import sys
import tempfile
import time
from typing import (
    IO,
    TYPE_CHECKING,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
)

from s3op import ipc, protocol

from . import progress
from .errors import S3EngineError
from .linestream import new_lines
from .outcome import STDERR_TAIL_CHARS, Line, parse_early

if TYPE_CHECKING:  # imported when an engine is started: a batch on a warm shared one never does
    import subprocess

#: Seconds between SIGTERM and SIGKILL when stopping an engine's process group.
KILL_GRACE_SECONDS = 5.0


class Answer(NamedTuple):
    """What an engine process gave back for one batch (a NamedTuple rather than a
    frozen dataclass: 2.5M instructions less to define at import, callgrind)."""

    exit_code: int  # negative: killed by that signal; -1: a server ended mid-batch
    lines: Sequence[Line]  # result lines, parsed as they arrived when they parse
    stderr: str  # the end of the engine's stderr (or of a shared server's log)


def s3op_command() -> List[str]:
    """The command starting the engine: this Python, ``-m s3op``."""
    return [sys.executable, "-m", "s3op"]


def child_env(env_extra: Mapping[str, str]) -> Dict[str, str]:
    """The engine's environment: ours, plus ``env_extra``, with the directory of
    the ``s3op`` we import first on ``PYTHONPATH``: library and engine share one."""
    env = dict(os.environ)
    env.update(env_extra)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(protocol.__file__)))
    current = env.get("PYTHONPATH")
    env["PYTHONPATH"] = package_parent + (os.pathsep + current if current else "")
    return env


def read_answer(stream: Iterable[bytes], lines: List[Line]) -> Optional[ipc.EndOfBatch]:
    """Read one batch's answer: result lines go to ``lines`` (parsed early), then
    the terminator is returned; None if the stream ended first. Each line also goes
    to the batch's progress observer, if it has one (``progress.observer``)."""
    observe = progress.observer()
    for raw in stream:
        line = raw.decode("utf-8", errors="replace")
        end = ipc.parse_end(line)
        if end is not None:
            return end
        lines.append(parse_early(line))
        if observe is not None:
            observe(lines[-1])
    return None


def read_tail(f: IO[bytes], limit: int = STDERR_TAIL_CHARS) -> str:
    """The last ``limit`` bytes of ``f`` (an engine's stderr or log), as text."""
    f.seek(0, os.SEEK_END)
    f.seek(max(0, f.tell() - limit))
    return f.read().decode("utf-8", errors="replace").strip()


class EngineProcess:
    """An engine process we started; its stderr goes to ``log`` (a file descriptor)
    or else to a temp file in its working directory ``cwd``. ``pipe_stdin`` and
    ``pipe_stdout``: a pipe to us (``proc.stdin``, ``proc.stdout``), else /dev/null."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str,
        pipe_stdin: bool = False, pipe_stdout: bool = True, log: Optional[int] = None,
    ) -> None:  # fmt: skip
        import subprocess  # here: a batch on a running shared engine never imports it

        self.owner_pid = os.getpid()
        self.stderr = tempfile.TemporaryFile(dir=cwd) if log is None else None
        stdin = subprocess.PIPE if pipe_stdin else subprocess.DEVNULL
        stdout = subprocess.PIPE if pipe_stdout else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                list(argv), stdin=stdin, stdout=stdout, stderr=self.stderr or log,
                cwd=cwd, env=dict(env), start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            self.release()
            raise S3EngineError(f"cannot start s3op ({argv[0]}): {exc}") from exc

    def ours(self) -> bool:
        """Started by this process, not inherited through a fork."""
        return self.owner_pid == os.getpid()

    def running(self) -> bool:
        """Not exited yet."""
        return self.proc.poll() is None

    def answer(self, command: Optional[Sequence[str]] = None) -> Answer:
        """Send ``command`` to a server on our pipes (None: the process runs its own
        argv) and read the answer. A server that ends without a terminator gives exit
        code -1 if it exited 0. BrokenPipeError: the server was already gone."""
        assert self.proc.stdout is not None
        if command is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(ipc.command_line(command))
            self.proc.stdin.flush()
        lines: List[Line] = new_lines()  # a list, or an iterator's stream (linestream)
        end = read_answer(self.proc.stdout, lines)
        if end is not None:
            return Answer(end.exit_code, lines, end.stderr)
        _close(self.proc.stdout)
        code = self.proc.wait()
        return Answer(-1 if command is not None and code == 0 else code, lines, self.stderr_tail())

    def stderr_tail(self) -> str:
        """The end of its stderr (``read_tail``); empty when it goes to a log."""
        return read_tail(self.stderr) if self.stderr is not None else ""

    def close(self) -> None:
        """End a server politely: EOF on its stdin, then ``stop`` if it lingers."""
        import subprocess  # already imported: this process started one

        _close(self.proc.stdin)
        try:
            self.proc.wait(timeout=KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            stop_process_group(self.proc)
        self.release()

    def stop(self) -> None:
        """Kill it and its workers now (``stop_process_group``); EOF first, so that a
        server interrupted by the SIGTERM does not wait for another command."""
        _close(self.proc.stdin)
        stop_process_group(self.proc)
        self.release()

    def release(self) -> None:
        """Close our stderr file (the process is ended, or not ours to end)."""
        _close(self.stderr)


def _close(stream: Optional[IO[bytes]]) -> None:
    with contextlib.suppress(OSError):  # a server already gone: nothing to tell it
        if stream is not None:
            stream.close()


def stop_group(send: Callable[[signal.Signals], None], held: Callable[[float], bool]) -> None:
    """The kill procedure (see the module docstring): ``send`` signals the group;
    ``held(timeout)`` waits up to ``timeout`` s for its leader to exit and tells
    whether the group's id is still ours (True: SIGKILL what is left)."""
    send(signal.SIGTERM)
    if held(KILL_GRACE_SECONDS):
        send(signal.SIGKILL)  # workers may outlive their leader: kill what is left


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop our child ``proc``'s group: only while ``proc`` is unreaped, as a zombie
    keeps its id; once reaped, the id may name another group (another engine, a
    shell's job). Its workers die with it anyway (``PR_SET_PDEATHSIG``)."""
    if proc.returncode is None:
        stop_group(functools.partial(_signal, proc.pid), functools.partial(_unreaped, proc))
        proc.wait()


def stop_peer(peer: ipc.Peer, sock: socket.socket) -> None:
    """Stop the server on the other end of ``sock`` and its workers: SIGKILL only if
    it has not closed the connection (it does as it exits) within the grace period."""
    stop_group(functools.partial(_signal, peer.pid), functools.partial(_connected, sock))


def _signal(pid: int, sig: signal.Signals) -> None:
    """Signal the group ``pid`` leads, or ``pid`` alone if it leads none."""
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _unreaped(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait up to ``timeout`` s for our child to exit, without reaping it (``WNOWAIT``):
    False once reaped elsewhere (another thread's poll), as its id is not ours then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
                return True  # a zombie: its id still names its group
        except ChildProcessError:
            return False
        time.sleep(0.01)
    return True


def _connected(sock: socket.socket, timeout: float) -> bool:
    """Wait up to ``timeout`` s for the server to close ``sock``: it closes once the
    server and every worker holding it are gone. True while it is still open."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))
            if ready and not sock.recv(65536):
                return False
    except OSError:
        return False  # reset: it is gone
    return True


__all__ = [
    "Answer", "EngineProcess", "KILL_GRACE_SECONDS", "child_env", "read_answer", "read_tail",
    "s3op_command", "stop_group", "stop_peer", "stop_process_group",
]  # fmt: skip

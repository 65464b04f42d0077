"""``s3op serve``: a long-lived engine that runs batch after batch.

Python start-up plus ``import boto3`` cost ~0.3 s here; a caller that runs
many small batches (``s3client`` does) should pay it once. The server reads
one command a line on stdin, ``{"argv": ["get", "--inputs", PATH, ...]}``,
runs it exactly as ``s3op ARGV...`` would (same code, same result lines on
stdout), then writes one terminator line::

    {"end": true, "exit_code": 0, "stderr": "..."}

Result lines always carry ``idx``; the terminator never does. Small
batches run on in-process threads with warm connections; big ones fork
workers as usual. The server exits at EOF on stdin or after
``--idle-timeout`` seconds without a command.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import sys
from typing import Any, Dict, List, Optional

import click


def serve_forever(idle_timeout: float) -> None:
    """Answer commands from stdin until EOF or idle timeout."""
    from s3op import cli

    cli.SERVE_MODE = True
    warm_up()
    reader = LineReader(sys.stdin.fileno())
    while True:
        line = reader.readline(idle_timeout)
        if line is None:
            return
        if line.strip():
            end = run_command(line)
            _terminate(end)
            if end["exit_code"] == 130:
                return  # interrupted: the caller is tearing us down, don't linger


def warm_up() -> None:
    """Do the first command's start-up work before it arrives.

    Imports the engine and the ops, resolves the default configuration
    (credentials, endpoint) and builds its client, so that this work
    (~0.1 s) overlaps whatever the caller does between starting the server
    and sending its first batch. A command that arrives meanwhile waits in
    the pipe. Nothing here may fail the server: a bad configuration is
    reported by the command that uses it.
    """
    from s3op import cli

    try:
        import s3op.engine  # noqa: F401
        import s3op.ops.get  # noqa: F401
        import s3op.ops.info  # noqa: F401
        import s3op.ops.listing  # noqa: F401
        import s3op.ops.put  # noqa: F401
        from s3op.client import cached_client

        cached_client(cli.client_config(None, cli.DEFAULT_THREADS, cli.DEFAULT_DEADLINE))
    except Exception:  # noqa: BLE001 - the first command reports any real problem
        pass


class LineReader:
    """Lines from a file descriptor, waiting at most a timeout for each.

    Unbuffered reads plus our own buffer: ``select`` on a ``TextIOWrapper``
    can miss lines that already sit in its buffer.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def readline(self, timeout: float) -> Optional[str]:
        """The next line, or None at EOF or when ``timeout`` passes idle."""
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8", "replace")


def run_command(line: str) -> Dict[str, Any]:
    """Run one command line; return the terminator to write after its results."""
    from s3op import cli

    stderr = io.StringIO()
    try:
        argv = _argv(line)
    except ValueError as exc:
        return {"end": True, "exit_code": 2, "stderr": f"s3op serve: {exc}"}
    with contextlib.redirect_stderr(stderr):
        code = _invoke(cli.main, argv)
    return {"end": True, "exit_code": code, "stderr": stderr.getvalue()[-8000:]}


def _argv(line: str) -> List[str]:
    command = json.loads(line)
    argv = command.get("argv") if isinstance(command, dict) else None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise ValueError('expected {"argv": ["get", ...]}')
    if argv and argv[0] == "serve":
        raise ValueError("serve cannot serve itself")
    return argv


def _invoke(main: click.Group, argv: List[str]) -> int:
    try:
        main.main(args=argv, prog_name="s3op", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 130
    return 0


def _terminate(end: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(end) + "\n")
    sys.stdout.flush()

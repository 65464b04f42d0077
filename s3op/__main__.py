"""``python -m s3op``.

Ctrl-C while the command line is still being imported (start-up) exits
130, as an interrupt anywhere later does (see ``s3op.cli.S3opGroup``).
"""

import sys

#: ``ExitCode.INTERRUPTED``, spelled out: Ctrl-C may come before any import is done.
INTERRUPTED = 130


def run() -> None:
    """Import the command line and run it; an early Ctrl-C exits 130."""
    try:
        from s3op.cli import main

        main()
    except KeyboardInterrupt:
        sys.stderr.write("s3op: interrupted\n")
        sys.exit(INTERRUPTED)


if __name__ == "__main__":
    run()

"""``python -m s3op``.

Ctrl-C while the command line is still being imported (start-up) exits
130, as an interrupt anywhere later does (see ``s3op.cli.S3opGroup``).
``serve`` with the options ``s3client`` passes runs without importing click
(``s3op.serve.run_fast``); everything else goes through ``s3op.cli``.
"""

import sys

#: ``ExitCode.INTERRUPTED``, spelled out: Ctrl-C may come before any import is done.
INTERRUPTED = 130


def run() -> None:
    """Import the command line and run it; an early Ctrl-C exits 130."""
    try:
        if sys.argv[1:2] == ["serve"]:  # the warm engine s3client starts
            from s3op.serve import run_fast

            code = run_fast(sys.argv[2:])
            if code is not None:
                sys.exit(code)
        from s3op.cli import main

        main()
    except KeyboardInterrupt:
        sys.stderr.write("s3op: interrupted\n")
        sys.exit(INTERRUPTED)


if __name__ == "__main__":
    run()

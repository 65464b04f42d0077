"""``python -m s3op``."""

from s3op.cli import main

if __name__ == "__main__":
    main()

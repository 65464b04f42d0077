"""Print the README table "Where s3client differs from metaflow.S3, and why".

One row per entry of :data:`tests.differential.differences.DIFFERENCES`, so
the table and the suite cannot disagree::

    .venv/bin/python -m tests.differential.table > /tmp/differences_table.md
"""

from __future__ import annotations

from typing import List

from tests.differential.differences import DIFFERENCES, Difference

HEADER = ["| what | metaflow.S3 | s3client | why |", "| --- | --- | --- | --- |"]


def cell(text: str) -> str:
    """``text`` as one Markdown table cell (one line, ``|`` escaped)."""
    return " ".join(text.split()).replace("|", "\\|")


def row(difference: Difference) -> str:
    """The table row of one difference."""
    columns = (difference.what, difference.description, difference.s3client_does, difference.why)
    return "| " + " | ".join(cell(c) for c in columns) + " |"


def table() -> List[str]:
    """The whole table, line by line."""
    return HEADER + [row(d) for d in DIFFERENCES]


def main() -> None:
    """Print the table."""
    print("\n".join(table()))


if __name__ == "__main__":
    main()

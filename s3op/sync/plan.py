"""The merged pairs of a sync turned into actions, one per key that needs a line.

For each key: only at the source -> move it (put, get or copy, by
direction); on both sides -> ``skip`` if the ``Comparer`` finds them
equal, else move; only at the destination -> ``delete`` when asked to,
else nothing (no line). A pair that cannot be judged (a local file that
cannot be read) or a key that cannot be a local file name becomes
``fail``. Pure: nothing is done here, so a dry run and a real one plan the
same actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

from s3op.sync.compare import Comparer
from s3op.sync.entries import Entry
from s3op.sync.merge import Pair

PUT, GET, COPY, DELETE, SKIP, FAIL = "put", "get", "copy", "delete", "skip", "fail"


@dataclass(frozen=True)
class Action:
    """What to do for one key."""

    kind: str  # PUT, GET, COPY, DELETE, SKIP or FAIL
    key: str  # relative to both sides
    src: Optional[Entry] = None
    dst: Optional[Entry] = None
    reason: str = ""  # SKIP: why ("equal", "folder"); FAIL: the message
    error_kind: str = ""  # FAIL: an ErrorKind value


def plan(pairs: Iterable[Pair], comparer: Comparer, move: str, delete: bool) -> Iterator[Action]:
    """The actions for ``pairs``; ``move`` is the direction's kind (PUT, GET or COPY)."""
    for key, src, dst in pairs:
        if src is None:
            if delete:
                yield Action(DELETE, key, None, dst)
            continue
        yield _judged(key, src, dst, comparer, move)


def _judged(key: str, src: Entry, dst: Optional[Entry], comparer: Comparer, move: str) -> Action:
    if move == GET:
        problem = local_name_problem(key)
        if problem == "folder":
            return Action(SKIP, key, src, dst, reason="folder")
        if problem is not None:
            return Action(FAIL, key, src, dst, reason=problem, error_kind="invalid_url")
    if dst is None:
        return Action(move, key, src, None)
    try:
        same = comparer.equal(src, dst)
    except OSError as exc:
        message = f"cannot read {exc.filename or key!r}: {exc.strerror}"
        return Action(FAIL, key, src, dst, reason=message, error_kind="local_file_error")
    return Action(SKIP, key, src, dst, reason="equal") if same else Action(move, key, src, dst)


def local_name_problem(key: str) -> Optional[str]:
    """Why an S3 key cannot be a file under a directory, or None. ``"folder"`` for a
    folder marker (a key ending in ``/``: nothing to write, the folder comes with its files)."""
    if key.endswith("/"):
        return "folder"
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts) or "\0" in key:
        return f"key {key!r} has an empty, '.' or '..' part: it cannot be a local file name"
    return None


__all__ = ["COPY", "DELETE", "FAIL", "GET", "PUT", "SKIP", "Action", "local_name_problem", "plan"]

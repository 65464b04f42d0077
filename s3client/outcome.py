"""Judging a finished batch, whichever engine process ran it: its result lines,
exit code and stderr (``check_outcome``). Per-result errors are the client's
to map; a batch the engine failed as a whole raises ``S3EngineError``.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Union

from s3op.protocol import ExitCode, Request, Result

from .errors import S3EngineError

#: Exit codes after which the result lines are complete and meaningful.
RESULT_EXIT_CODES = frozenset(
    {ExitCode.OK, ExitCode.FAILED, ExitCode.TRANSIENT, ExitCode.OUT_OF_DISK}
)
#: How much of the engine's stderr goes into an S3EngineError message.
STDERR_TAIL_CHARS = 2000

#: A result line as read: parsed when it arrived, or its text when it did not parse.
Line = Union[Result, str]


def check_outcome(
    op: str, flags: Sequence[str], requests: Sequence[Request], returncode: int,
    lines: Sequence[Line], stderr: str,
) -> List[Result]:  # fmt: skip
    """The results; S3EngineError when the engine failed as a whole: exit 2
    (usage), or an exit outside ``RESULT_EXIT_CODES`` with a result missing (a
    listing's results cannot be known complete then: it always fails)."""
    if returncode == ExitCode.USAGE:
        raise engine_error(op, requests, f"usage error (exit {returncode})", stderr)
    results = parse_results(op, requests, lines, stderr)
    if returncode not in RESULT_EXIT_CODES and is_listing(op, flags):
        raise engine_error(op, requests, _exit_text(returncode), stderr)
    missing = missing_results(op, flags, requests, results)
    if missing:
        what = f"{_exit_text(returncode)}, no result for {len(missing)} request(s)"
        raise engine_error(op, requests, what, stderr)
    return results


def parse_early(line: str) -> Line:
    """A result line parsed as it arrives (overlapping the engine's work), or the
    line itself when it does not parse: ``parse_results`` reports it then."""
    try:
        return Result.from_json(line)
    except (ValueError, TypeError, KeyError):
        return line


def parse_results(
    op: str, requests: Sequence[Request], lines: Sequence[Line], stderr: str
) -> List[Result]:
    """``Result.from_json`` for every non-blank line not already parsed
    (``parse_early``); S3EngineError on a bad one."""
    results = []
    for line in lines:
        if isinstance(line, Result):
            results.append(line)
        elif line.strip():
            try:
                results.append(Result.from_json(line))
            except (ValueError, TypeError, KeyError) as exc:
                what = f"unreadable result line {line.strip()[:200]!r} ({exc})"
                raise engine_error(op, requests, what, stderr) from None
    return results


def is_listing(op: str, flags: Sequence[str]) -> bool:
    """True for batches giving any number of lines per request (list, sync, recursive
    get or delete)."""
    return op in ("list", "sync") or "--recursive" in flags


def missing_results(
    op: str, flags: Sequence[str], requests: Sequence[Request], results: Sequence[Result]
) -> List[int]:
    """Indexes of requests owed a result line that has not come (none for a
    listing: it may legitimately find nothing under a prefix)."""
    if is_listing(op, flags):
        return []
    answered = {res.idx for res in results}
    return [req.idx for req in requests if req.idx not in answered]


def results_by_request(requests: Sequence[Request], results: Sequence[Result]) -> Dict[int, Result]:
    """Results keyed by request index; S3EngineError if a request has none."""
    by_idx: Dict[int, Result] = {}
    for res in results:
        by_idx.setdefault(res.idx, res)
    for req in requests:
        if req.idx not in by_idx:
            raise S3EngineError.about(req.url, "the engine returned no result for it")
    return by_idx


def engine_error(op: str, requests: Sequence[Request], what: str, stderr: str) -> S3EngineError:
    """The S3EngineError for a failed batch: what happened, its first URL, and
    the last ``STDERR_TAIL_CHARS`` of the engine's stderr."""
    first = requests[0].url if requests else None
    message = f"s3op {op} failed: {what}; first URL {first}"
    if stderr:
        message += f"\n--- s3op stderr (end) ---\n{stderr[-STDERR_TAIL_CHARS:]}"
    return S3EngineError(message, url=first)


def _exit_text(returncode: int) -> str:
    return f"killed by signal {-returncode}" if returncode < 0 else f"exit {returncode}"


__all__ = [
    "Line", "RESULT_EXIT_CODES", "STDERR_TAIL_CHARS", "check_outcome", "engine_error",
    "is_listing", "missing_results", "parse_early", "parse_results", "results_by_request",
]  # fmt: skip

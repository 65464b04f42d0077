"""``progress=`` for the ``S3`` methods that run batches.

``progress=True`` draws the command line's bar (``s3op.progress``) on
stderr when stderr is a terminal (nothing otherwise); a callable receives a
``ProgressSnapshot`` (done, total, bytes, failures, retries, elapsed, ...)
at most every ``REFRESH_SECONDS`` while result lines arrive, and once more
at the end with ``final=True``. ``False``/``None``: nothing (the default).

The snapshots are counted here, in the library's process, from the result
lines as the engine process hands them over (``engine_process.read_answer``
calls the observer set by ``batch_progress``), so whichever engine policy
runs the batch, the figures are the same. Totals: the number of requests
(a put's bytes from its files' sizes); a listing's total is what it has
found so far until it ends; a download's bytes come with its results.
``get_recursive`` runs two batches (list, then get): two bars, or two
series of snapshots each ending with a final one.

How the keyword reaches the batch: ``takes_progress`` wraps each method;
the value is kept in a context variable for the call (a call inside it,
say ``get`` calling ``get_many``, keeps it), and ``S3._run`` opens
``batch_progress`` around the engine. Nothing is counted when none was asked for.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence, Tuple, TypeVar, Union

from s3op.protocol import Request, Result

if TYPE_CHECKING:  # s3op.progress is imported when a batch asks for progress
    from s3op.progress import ProgressSnapshot, ProgressTracker, Throttled

#: What ``progress=`` takes.
ProgressOption = Union[None, bool, Callable[["ProgressSnapshot"], None]]
F = TypeVar("F", bound=Callable[..., Any])

_REQUESTED: contextvars.ContextVar[ProgressOption] = contextvars.ContextVar(
    "s3client_progress", default=None
)
#: What ``read_answer`` hands each result line to, while a batch with progress runs.
_OBSERVER: contextvars.ContextVar[Optional[Callable[[Any], None]]] = contextvars.ContextVar(
    "s3client_progress_observer", default=None
)


def takes_progress(method: F) -> F:
    """Let ``method``'s ``progress=`` keyword reach the batches it runs (see the module)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("progress") is None:
            return method(*args, **kwargs)
        token = _REQUESTED.set(checked(kwargs["progress"]))
        try:
            return method(*args, **kwargs)
        finally:
            _REQUESTED.reset(token)

    return wrapper  # type: ignore[return-value]


def checked(progress: Any) -> ProgressOption:
    """``progress`` if it is a bool, None or a callable; TypeError otherwise."""
    if progress is None or isinstance(progress, bool) or callable(progress):
        return progress
    raise TypeError(f"progress= takes True, False or a callable, not {type(progress).__name__}")


def observer() -> Optional[Callable[[Any], None]]:
    """The function to hand each result line to (parsed or not), or None."""
    return _OBSERVER.get()


@contextlib.contextmanager
def batch_progress(op: str, requests: Sequence[Request], recursive: bool = False) -> Iterator[None]:
    """Count the ``op`` batch of ``requests`` running meanwhile, if progress was asked for
    (``recursive``: each request is a prefix, its objects the work)."""
    wanted = _REQUESTED.get()
    show, close = display(wanted, op)
    if show is None:
        yield
        return
    from s3op.progress import Throttled

    tracker = _tracker(op, requests, recursive)
    throttled = Throttled(tracker, show)
    token = _OBSERVER.set(functools.partial(_observe, tracker, throttled))
    try:
        yield
        throttled.finish()
    finally:
        _OBSERVER.reset(token)
        close()


def display(
    wanted: ProgressOption, op: str
) -> Tuple[Optional[Callable[[ProgressSnapshot], None]], Callable[[], None]]:
    """(what shows a snapshot, what ends the display); (None, ...) for no progress."""
    if callable(wanted):
        return wanted, _nothing
    if not wanted:
        return None, _nothing
    from s3op.progress import ProgressBar, is_terminal

    if is_terminal(sys.stderr):
        bar = ProgressBar(op, sys.stderr)
        return bar.show, bar.close
    return None, _nothing


def _tracker(op: str, requests: Sequence[Request], recursive: bool) -> ProgressTracker:
    from s3op.progress import ProgressTracker
    from s3op.protocol import PutRequest

    tracker = ProgressTracker(op)
    tracker.growing = tracker.growing or recursive
    if not tracker.growing:
        for req in requests:
            if isinstance(req, PutRequest):
                tracker.expect_file(req.local)
            else:
                tracker.expect()
    tracker.inputs_done()
    return tracker


def _observe(tracker: ProgressTracker, throttled: Throttled, line: Any) -> None:
    if isinstance(line, Result):
        tracker.result(line)
        throttled.tick()


def _nothing() -> None:
    """Nothing to close."""


__all__ = [
    "ProgressOption", "batch_progress", "checked", "display", "observer", "takes_progress",
]  # fmt: skip

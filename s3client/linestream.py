"""Where an engine's result lines go while they are read: a list, or a stream.

``EngineProcess.answer`` and the shared server's lease collect one batch's
result lines with ``new_lines()``: a plain list, unless the calling thread
set a ``LineStream`` with ``streaming_to`` (``s3client.iterators`` does, on
the thread that runs an iterator's batch). A ``LineStream`` hands each line
on as it arrives and keeps none, so a listing of millions of keys passes
through in constant memory; its length is the number of lines seen, which
is what the policies ask of it (did any line come?).

A consumer that stopped makes ``LineStream.append`` raise ``Abandoned`` (a
``BaseException``, as Ctrl-C): every policy then stops the engine, as for
Ctrl-C, and no batch is left running.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable, Iterator, List, Optional

from .outcome import Line


class Abandoned(BaseException):
    """The iterator reading this batch's lines was closed: stop the engine."""


class LineStream(List[Line]):
    """A ``List[Line]`` that hands each appended line to ``receive`` and keeps none."""

    def __init__(self, receive: Callable[[Line], None]) -> None:
        super().__init__()
        self.receive = receive
        self.seen = 0

    def append(self, line: Line) -> None:
        """Hand ``line`` on (``Abandoned`` if nobody reads any more)."""
        self.seen += 1
        self.receive(line)

    def __len__(self) -> int:
        return self.seen

    def __bool__(self) -> bool:
        return self.seen > 0


_local = threading.local()


def new_lines() -> List[Line]:
    """A container for one answer's lines: this thread's stream, else a new list."""
    stream: Optional[LineStream] = getattr(_local, "stream", None)
    return [] if stream is None else stream


@contextlib.contextmanager
def streaming_to(stream: LineStream) -> Iterator[None]:
    """Meanwhile, this thread's answers go to ``stream``."""
    _local.stream = stream
    try:
        yield
    finally:
        _local.stream = None


__all__ = ["Abandoned", "LineStream", "new_lines", "streaming_to"]

"""Large objects moved in parts: the state machines the scheduler drives.

An assembly is one large object in progress: a download fetched as parallel
ranged GETs (``s3op.assembly.download``) or a multipart upload
(``s3op.assembly.upload``). The scheduler hands it part events (a part
done, a part failed) and carries out the ``Step`` it answers: jobs to queue,
and at the end the request's one result. An assembly never sees the pool,
the queues or stdout, so it can be driven in a test with synthetic events.

The package holds only this interface; the scheduler imports the two
assemblies from their modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, Tuple

from s3op.jobs import Job, PartDone
from s3op.protocol import Result


@dataclass(frozen=True)
class Step:
    """What an assembly asks of the scheduler after an event."""

    parts: Tuple[Job, ...] = ()  # its own jobs: queued ahead, dropped once it has failed
    jobs: Tuple[Job, ...] = ()  # jobs that stand alone: a whole-object restart, a complete
    cleanup: Tuple[Job, ...] = ()  # jobs whose outcome is nobody's result: an abort
    result: Optional[Result] = None  # the request's final result, to emit


#: The answer to an event that changes nothing outside the assembly.
NOTHING = Step()


class Assembly(Protocol):
    """A large object in progress, as the scheduler sees it."""

    #: True once the object has failed or started over: its queued parts are dropped
    #: and what its parts still in flight answer is ignored.
    failed: bool

    def part_done(self, done: PartDone) -> Step:
        """One of its jobs finished."""

    def part_failed(self, result: Result) -> Step:
        """One of its jobs failed for good with ``result``."""

    def sparse_bytes(self, device: int) -> int:
        """Bytes a sparse temp file of its on ``device`` may still take (0: none)."""

    def discard(self) -> None:
        """The run is ending before the object is done: remove its local leftovers."""


__all__ = ["NOTHING", "Assembly", "Step"]

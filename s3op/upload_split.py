"""How a file is cut into the parts of a multipart upload.

A multipart upload sends at most ``UPLOAD_SLOTS`` parts at once (the
scheduler's cap, across the pool) and completes when its slowest part is
in. With parts of ``part_size`` (16 MiB by default) a 128 MiB file is 8
parts: one each for the 8 slots, all sent at once, all answered at about
the same moment. A part the server holds up then holds up the whole
upload by that delay plus the rest of its 16 MiB (SeaweedFS answers the
parts that arrive while it adds a volume ~1 s late, seen here every 256 MiB
written in the benchmark's configuration; any store has slow requests).

So a file is cut into at least ``PARTS_PER_SLOT`` parts a slot, none under
S3's minimum (``MIN_PART``) nor over ``part_size``: a held-up part is
small, and the other slots go on with the parts still to send meanwhile
(obstore does the same with its 5 MB parts, 12 at a time). Files of at
least ``UPLOAD_SLOTS x PARTS_PER_SLOT x part_size`` (384 MiB at the
defaults) keep ``part_size``.
"""

from __future__ import annotations

from typing import List, Tuple

from s3op.checksum import spans

MiB = 1024 * 1024
#: S3's smallest part (all but the last).
MIN_PART = 5 * MiB
#: S3's limit on the parts of one multipart upload.
MAX_UPLOAD_PARTS = 10_000
#: Parts of multipart uploads in flight at once, across the pool (``Scheduler``).
UPLOAD_SLOTS = 8
#: Parts a slot gets in turn, at least, where ``part_size`` allows.
PARTS_PER_SLOT = 3


def upload_part_size(size: int, part_size: int) -> int:
    """Bytes per part (the last may be shorter) of a ``size``-byte upload whose
    parts may be up to ``part_size``: ``UPLOAD_SLOTS x PARTS_PER_SLOT`` parts or
    more, in whole MiB, at least ``MIN_PART`` (or ``part_size`` when that is
    smaller), and at most ``MAX_UPLOAD_PARTS`` of them."""
    wanted = -(-size // (UPLOAD_SLOTS * PARTS_PER_SLOT))
    wanted = -(-wanted // MiB) * MiB  # whole MiB: parts other tools can guess
    chosen = min(part_size, max(MIN_PART, wanted))
    return max(chosen, -(-size // MAX_UPLOAD_PARTS))


def upload_spans(size: int, part_size: int) -> List[Tuple[int, int]]:
    """(offset, length) of each part of a ``size``-byte upload (``upload_part_size``)."""
    return spans(size, upload_part_size(size, part_size))


__all__ = [
    "MAX_UPLOAD_PARTS",
    "MIN_PART",
    "PARTS_PER_SLOT",
    "UPLOAD_SLOTS",
    "upload_part_size",
    "upload_spans",
]

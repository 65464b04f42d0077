"""Two sorted streams of ``Entry``s joined key by key (a merge join).

Both streams must ascend strictly in the same ``KeyOrder`` (the local walk
is made in it; the S3 listings are checked against it); each step holds one
entry of each, so memory is constant.

A key found only at the destination is a delete candidate, and a wrong one
would destroy data: if the store listed the source out of the expected
order, the key may still come. So such a pair is held back until the source
has moved past the key in every order a store may use (``byte_order`` and
``path_order``), or has ended. A listing found out of order raises
``SyncAborted`` before the held pairs are let go, so nothing is deleted on
a listing that turned out unsorted. Only keys in the rare window where the
two orders disagree (a sibling ``a b`` beside a folder ``a/``) wait.
"""

from __future__ import annotations

from collections import deque
from typing import Deque, Iterable, Iterator, Optional, Tuple

from s3op.sync.entries import ORDERS, Entry, KeyOrder, byte_order

#: (key, the source's entry or None, the destination's entry or None).
Pair = Tuple[str, Optional[Entry], Optional[Entry]]


def merge(
    source: Iterable[Entry], destination: Iterable[Entry], order: KeyOrder = byte_order
) -> Iterator[Pair]:
    """Every key in either stream once, with its entry on each side: both sides' keys
    in ``order``; a key only at the destination once the source is past it."""
    src_iter, dst_iter = iter(source), iter(destination)
    src, dst = next(src_iter, None), next(dst_iter, None)
    held: Deque[Entry] = deque()
    while src is not None or dst is not None:
        if dst is None or (src is not None and order(src.key) < order(dst.key)):
            assert src is not None
            yield src.key, src, None
            src = next(src_iter, None)
        elif src is None or order(dst.key) < order(src.key):
            held.append(dst)
            dst = next(dst_iter, None)
        else:
            yield src.key, src, dst
            src, dst = next(src_iter, None), next(dst_iter, None)
        while held and _passed(src, held[0].key):
            gone = held.popleft()
            yield gone.key, None, gone


def _passed(src: Optional[Entry], key: str) -> bool:
    """True once the source cannot hold ``key`` any more, whatever its store's order."""
    return src is None or all(order(src.key) > order(key) for order in ORDERS.values())


__all__ = ["Pair", "merge"]

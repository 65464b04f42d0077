"""Two sorted streams of ``Entry``s joined key by key (a merge join).

Both streams must ascend strictly by key (``localtree`` and ``remote``
check it); each step holds one entry of each, so memory is constant.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Optional, Tuple

from s3op.sync.entries import Entry

#: (key, the source's entry or None, the destination's entry or None).
Pair = Tuple[str, Optional[Entry], Optional[Entry]]


def merge(source: Iterable[Entry], destination: Iterable[Entry]) -> Iterator[Pair]:
    """Every key in either stream once, in ascending order, with its entry on each side."""
    src_iter, dst_iter = iter(source), iter(destination)
    src, dst = next(src_iter, None), next(dst_iter, None)
    while src is not None or dst is not None:
        if dst is None or (src is not None and src.key < dst.key):
            assert src is not None
            yield src.key, src, None
            src = next(src_iter, None)
        elif src is None or dst.key < src.key:
            yield dst.key, None, dst
            dst = next(dst_iter, None)
        else:
            yield src.key, src, dst
            src, dst = next(src_iter, None), next(dst_iter, None)


__all__ = ["Pair", "merge"]

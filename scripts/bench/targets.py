"""The issue's targets (W1 <= 1.0x s5cmd, ...), each with what this run measured."""

from __future__ import annotations

from typing import Dict, List, Sequence

from . import latency as w7_latency
from .model import MIB, Sizes, Summaries, Target
from .summary import ratio


def _ratio_target(sm: Summaries, wl: str, peer: str, limit: float, text: str) -> Target:
    r = ratio(sm, wl, "s3client", peer)
    if r is None:
        return Target(text, "not measured", None)
    faster = f" ({1 / r:.1f}x faster)" if r < 1 else ""
    return Target(text, f"{r:.2f}x {peer}{faster}", r <= limit)


def _w6_target(sm: Summaries) -> Target:
    w6, w1 = sm.get(("W6", "s3client")), sm.get(("W1", "s3client"))
    text = "W6 info_many faster than W1 get_many (s3client, same run)"
    if w6 is None or w1 is None or w6.wall is None or w1.wall is None:
        return Target(text, "not measured", None)
    return Target(text, f"W6 {w6.wall:.2f} s vs W1 {w1.wall:.2f} s", w6.wall < w1.wall)


def _rss_target(sm: Summaries, wl: str) -> Target:
    s = sm.get((wl, "s3client"))
    text = f"{wl} peak RSS of the process tree < 300 MiB (s3client)"
    if s is None or s.rss is None:
        return Target(text, "not measured", None)
    return Target(text, f"{s.rss / MIB:.0f} MiB", s.rss < 300 * MIB)


def _w8_target(sm: Summaries, counts: Sequence[int]) -> Target:
    lo, hi = (1000, max(counts)) if 1000 in counts else (min(counts), max(counts))
    text = f"W8 time per object flat within 1.5x from {lo:,} to {hi:,} objects (s3client)"
    a, b = sm.get((f"W8-{lo}", "s3client")), sm.get((f"W8-{hi}", "s3client"))
    if a is None or b is None or a.wall is None or b.wall is None or lo == hi:
        return Target(text, "not measured", None)
    per_lo, per_hi = a.wall / lo * 1000, b.wall / hi * 1000
    spread = max(per_lo, per_hi) / min(per_lo, per_hi)
    trend = "falls" if per_hi < per_lo else "grows"
    measured = f"{per_lo:.2f} vs {per_hi:.2f} ms/object ({trend} {spread:.2f}x)"
    return Target(text, measured, spread <= 1.5)


def targets(sm: Summaries, s: Sizes) -> List[Target]:
    """Every target of the issue with its measured value."""
    out = [_ratio_target(sm, wl, "s5cmd", 1.0, f"{wl} <= 1.0x s5cmd") for wl in ("W1", "W2", "W5")]
    out += [_ratio_target(sm, wl, "s5cmd", 1.1, f"{wl} <= 1.1x s5cmd") for wl in ("W3", "W4")]
    out.append(_ratio_target(sm, "W3-etag", "s5cmd", 1.25, "W3-etag <= 1.25x s5cmd"))
    out.append(_w6_target(sm))
    out.append(_ratio_target(sm, "W7", "s5cmd", 2.0, "W7 <= 2.0x s5cmd"))
    out.append(
        _ratio_target(sm, "W7-first", "s5cmd", 2.0, "W7 with no engine running yet <= 2.0x s5cmd")
    )
    out += [
        _ratio_target(sm, f"W{i}", "metaflow", 0.2, f"W{i} at least 5x faster than metaflow.S3")
        for i in range(1, 8)
    ]
    out += [_rss_target(sm, "W3"), _rss_target(sm, "W4")]
    out.append(_w8_target(sm, s.w8_counts))
    return out


def latency_targets(latency: Dict[str, List[float]]) -> List[Target]:
    """W7 per call in a running program, against an s5cmd invocation."""
    text = "W7 per call in a running program <= 2.0x s5cmd (no start-up per call)"
    ours, peer = latency.get("s3client"), latency.get("s5cmd")
    if not ours or not peer:
        return [Target(text, "not measured", None)]
    a, b = w7_latency.median_ms(ours), w7_latency.median_ms(peer)
    out = [Target(text, f"{a:.1f} ms vs {b:.1f} ms ({a / b:.2f}x s5cmd)", a / b <= 2.0)]
    mf = latency.get("metaflow")
    if mf:
        m = w7_latency.median_ms(mf)
        out.append(
            Target(
                "W7 per call at least 5x faster than metaflow.S3",
                f"{a:.1f} ms vs {m:.1f} ms ({m / a:.1f}x faster)",
                a * 5 <= m,
            )
        )
    return out


def targets_table(ts: List[Target]) -> str:
    """The issue's targets: measured value, MET or MISSED."""
    rows = ["| Target | Measured | Status |", "|---|---|---|"]
    for t in ts:
        status = "not measured" if t.met is None else ("MET" if t.met else "**MISSED**")
        rows.append(f"| {t.target} | {t.measured} | {status} |")
    return "\n".join(rows)

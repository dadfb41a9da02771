"""Runs of flagged entries (frames, 10 ms audio frames, sensor rows): the span arithmetic the
media checks share."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def runs(flag: NDArray[np.bool_], min_len: int) -> list[tuple[int, int]]:
    """[i0, i1) index ranges where ``flag`` holds for at least ``min_len`` consecutive entries."""
    f = np.concatenate([[False], flag.astype(bool), [False]])
    edges = np.flatnonzero(f[1:] != f[:-1])
    starts, ends = edges[::2], edges[1::2]
    keep = (ends - starts) >= max(1, min_len)
    return [(int(a), int(b)) for a, b in zip(starts[keep], ends[keep], strict=True)]


def close_gaps(flag: NDArray[np.bool_], gap: int) -> NDArray[np.bool_]:
    """``flag`` with gaps of at most ``gap`` entries between two true runs filled."""
    out = flag.astype(bool).copy()
    for a, b in runs(~out, 1):
        if 0 < a and b < len(out) and b - a <= gap:  # inner gaps only: not before the first or after the last run
            out[a:b] = True
    return out

"""Intervals that come with every number: Wilson for proportions, a bootstrap over a slice's
counts for everything else, and how many samples a gate's decision would need.

The bootstrap resamples *sufficient statistics*, not rows: a slice's confusion counts (plus its
abstentions) are one multinomial draw, so B replicates of a 10-million-row slice cost as much
as B replicates of a 10-row one — the same distribution as resampling the slice's rows, because
the metric depends on the rows only through those counts.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

F64 = NDArray[np.float64]
Z95 = float(norm.ppf(0.975))


def wilson(k: NDArray[np.number] | float, n: NDArray[np.number] | float, z: float = Z95) -> tuple[F64, F64]:
    """Wilson score interval of ``k`` successes in ``n`` (vectorised; NaN where ``n`` is 0)."""
    k_, n_ = np.asarray(k, np.float64), np.asarray(n, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k_ / n_
        den = 1 + z * z / n_
        centre = (p + z * z / (2 * n_)) / den
        half = z * np.sqrt(p * (1 - p) / n_ + z * z / (4 * n_ * n_)) / den
    lo, hi = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    none = n_ <= 0
    return np.where(none, np.nan, lo), np.where(none, np.nan, hi)


def bootstrap_counts(counts: NDArray[np.number], stat: Callable[[F64], F64], *, draws: int = 1000,
                     seed: int = 0, level: float = 0.95) -> tuple[F64, F64]:
    """Percentile interval of ``stat`` over multinomial redraws of each row of ``counts``.

    ``counts`` is (slices, cells); ``stat`` maps an array (..., cells) of counts to (...) values
    and may return NaN where it is undefined (a replicate without positives has no recall):
    those replicates are left out. Seeded, so the same counts give the same interval.
    """
    c = np.asarray(counts, np.int64)
    n = c.sum(axis=1)
    rng = np.random.default_rng(seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n[:, None] > 0, c / np.maximum(n, 1)[:, None], 0.0)
    reps = np.stack([rng.multinomial(int(n_i), p_i, size=draws) if n_i > 0 else np.zeros((draws, c.shape[1]), np.int64)
                     for n_i, p_i in zip(n, p, strict=True)])  # slices x draws x cells
    values = np.asarray(stat(reps.astype(np.float64)), np.float64)
    a = (1 - level) / 2
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice is undefined: a NaN, said elsewhere
        lo = np.nanquantile(values, a, axis=1)
        hi = np.nanquantile(values, 1 - a, axis=1)
    return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)


def samples_to_decide(p: float, threshold: float, z: float = Z95, limit: int = 10_000_000) -> int | None:
    """The smallest n whose Wilson interval around a rate ``p`` excludes ``threshold`` — how many
    samples a gate needs to be decided if the rate stays what it is now. None when it cannot be
    decided (the rate sits on the threshold) or needs more than ``limit``."""
    if not np.isfinite(p) or p == threshold:
        return None

    def decided(n: int) -> bool:
        lo, hi = wilson(p * n, n, z)
        return bool(hi < threshold) if p < threshold else bool(lo > threshold)

    if not decided(limit):
        return None
    lo_n, hi_n = 1, limit
    while lo_n < hi_n:  # the interval narrows monotonically in n for a fixed rate
        mid = (lo_n + hi_n) // 2
        if decided(mid):
            hi_n = mid
        else:
            lo_n = mid + 1
    return lo_n

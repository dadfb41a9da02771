"""Intervals that come with every number: Wilson for proportions, a bootstrap over a slice's
counts for everything else, and how many samples a gate's decision would need.

The bootstrap resamples *sufficient statistics*, not rows: a slice's confusion counts are one
multinomial draw, so B replicates of a 10-million-row slice cost as much
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
_JACK_VALUES = 1 << 22  # values per jackknife call: slices x cells x cells, bounded


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


def redraw(counts: NDArray[np.number], *, draws: int = 1000, seed: int = 0) -> NDArray[np.float64]:
    """``draws`` multinomial redraws of each row of ``counts`` (slices x cells): slices x draws x
    cells — one set of replicates that every statistic of those counts can share."""
    c = np.asarray(counts, np.int64)
    n = c.sum(axis=1)
    rng = np.random.default_rng(seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n[:, None] > 0, c / np.maximum(n, 1)[:, None], 0.0)
    out = np.zeros((c.shape[0], draws, c.shape[1]), np.float64)
    for i in np.flatnonzero(n > 0):
        out[i] = rng.multinomial(int(n[i]), p[i], size=draws)
    return out


def bca_interval(counts: NDArray[np.number], reps: NDArray[np.float64], stat: Callable[[F64], F64], *,
                 level: float = 0.95) -> tuple[F64, F64]:
    """Bias-corrected and accelerated (BCa, Efron 1987) interval of ``stat`` from replicates
    ``reps`` (``redraw``). The acceleration is the jackknife's, computed from the counts: leaving
    out one row of a cell gives the same value for every row of that cell, so the jackknife over
    n rows is one evaluation per cell, weighted by its count. BCa corrects the percentile
    interval's miss on skewed statistics (a mean cost where one rare error costs 100×).
    Replicates where ``stat`` is undefined (NaN) are left out."""
    c = np.asarray(counts, np.float64)
    s_n, cells = c.shape
    n = c.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice is undefined: a NaN, said elsewhere
        theta = np.asarray(stat(c), np.float64)
        values = np.asarray(stat(reps), np.float64)  # slices x draws
        valid = np.isfinite(values)
        below = ((values < theta[:, None]) & valid).sum(1) + 0.5 * ((values == theta[:, None]) & valid).sum(1)
        share = np.clip(below / np.maximum(valid.sum(1), 1), 0.5 / max(values.shape[1], 1),
                        1 - 0.5 / max(values.shape[1], 1))
        z0 = norm.ppf(share)
        # one row of cell j left out (slices x cells x cells per call, in blocks of slices that
        # keep it to ~2^22 values); only cells that have rows count
        eye = np.eye(cells)
        block = max(1, _JACK_VALUES // (cells * cells))
        jack = np.concatenate([np.asarray(stat(c[i:i + block, None, :] - eye[None]), np.float64).reshape(-1, cells)
                               for i in range(0, s_n, block)]) if s_n else np.empty((0, cells))
        jack = np.where(c > 0, jack, np.nan)
        w = np.where(np.isfinite(jack), c, 0.0)
        jbar = np.nansum(w * jack, 1) / np.maximum(w.sum(1), 1)
        d = np.where(w > 0, jbar[:, None] - jack, 0.0)
        num, den = (w * d ** 3).sum(1), (w * d ** 2).sum(1)
        acc = np.where(den > 0, num / (6 * den ** 1.5), 0.0)
        zs = norm.ppf([(1 - level) / 2, 1 - (1 - level) / 2])
        lo_q = norm.cdf(z0 + (z0 + zs[0]) / (1 - acc * (z0 + zs[0])))
        hi_q = norm.cdf(z0 + (z0 + zs[1]) / (1 - acc * (z0 + zs[1])))
        ok = (n > 0) & valid.any(1) & np.isfinite(lo_q) & np.isfinite(hi_q)
        lo, hi = _row_quantiles(values, valid, lo_q, ok), _row_quantiles(values, valid, hi_q, ok)
    return lo, hi


def _row_quantiles(values: F64, valid: NDArray[np.bool_], q: F64, ok: NDArray[np.bool_]) -> F64:
    """Per row of ``values``, the ``q[row]`` quantile of its valid entries (NumPy's default
    linear interpolation), in one sort; NaN where not ``ok``."""
    if values.shape[1] == 0:
        return np.full(len(values), np.nan)
    ordered = np.sort(np.where(valid, values, np.inf), axis=1)  # the valid entries first, in order
    m = valid.sum(1)
    pos = np.where(ok, q, 0.0) * np.maximum(m - 1, 0)
    below = np.floor(pos).astype(np.int64)
    above = np.minimum(below + 1, np.maximum(m - 1, 0))
    rows = np.arange(len(values))
    a, b = ordered[rows, below], ordered[rows, above]
    t = pos - below
    with np.errstate(invalid="ignore"):
        out = np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)  # NumPy's _lerp
    return np.where(ok, out, np.nan)


def bootstrap_counts(counts: NDArray[np.number], stat: Callable[[F64], F64], *, draws: int = 1000,
                     seed: int = 0, level: float = 0.95) -> tuple[F64, F64]:
    """BCa interval of ``stat`` over multinomial redraws of each row of ``counts``.

    ``counts`` is (slices, cells); ``stat`` maps an array (..., cells) of counts to (...) values
    and may return NaN where it is undefined (a replicate without positives has no recall).
    Seeded, so the same counts give the same interval."""
    return bca_interval(counts, redraw(counts, draws=draws, seed=seed), stat, level=level)


def benjamini_hochberg(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Benjamini–Hochberg q-values (step-up; equal to statsmodels' ``fdr_bh``)."""
    p = np.asarray(p, np.float64)
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.empty_like(p)
    q[order] = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    return q


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

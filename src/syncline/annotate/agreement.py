"""Agreement between annotators: how much of a label is signal and how much is the annotator.

* ``krippendorff_alpha`` — any number of annotators, missing values allowed, nominal, ordinal,
  interval or ratio data; from the coincidence matrix (Krippendorff 2011), vectorised over
  units: ``o = Nᵀ diag(1/(m_u-1)) N − diag(Σ_u n_u/(m_u-1))`` for units with ``m_u ≥ 2``
  pairable values.
* ``cohen_kappa`` — two annotators, unweighted or with linear / quadratic weights.
* ``fleiss_kappa`` — a fixed number of annotators per unit, from a units × categories table.
* ``box_iou`` — intersection over union of boxes; ``temporal_iou`` of time spans;
  ``match_events`` — one-to-one matching of event times within a tolerance (optimal, by
  ``scipy.optimize.linear_sum_assignment``), with precision, recall and F1.
* ``match_shapes`` — the same for boxes or spans of two annotators, by IoU above a threshold.
* ``bootstrap_interval`` — a percentile interval for any of them by resampling *units*
  (items), the unit of independence for agreement.

Values are checked against reference implementations (``krippendorff``, ``statsmodels``,
``scikit-learn``) on randomized inputs in the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment

Level = Literal["nominal", "ordinal", "interval", "ratio"]
F64 = NDArray[np.float64]


def _delta2(values: F64, counts: F64, level: Level) -> F64:
    """Squared distance between every pair of category values (``counts``: n_c, for ordinal)."""
    c, k = values[:, None], values[None, :]
    if level == "nominal":
        return np.asarray(c != k, np.float64)
    if level == "interval":
        return np.asarray((c - k) ** 2, np.float64)
    if level == "ratio":
        with np.errstate(invalid="ignore", divide="ignore"):
            d = ((c - k) / (c + k)) ** 2
        return np.asarray(np.nan_to_num(d), np.float64)
    cum = np.cumsum(counts)  # ordinal: ranks by the categories' marginal frequencies
    lo, hi = np.minimum(np.arange(len(values))[:, None], np.arange(len(values))[None, :]), \
        np.maximum(np.arange(len(values))[:, None], np.arange(len(values))[None, :])
    between = cum[hi] - np.where(lo > 0, cum[lo - 1], 0.0)
    return np.asarray((between - (counts[:, None] + counts[None, :]) / 2.0) ** 2, np.float64)


def krippendorff_alpha(data: ArrayLike, level: Level = "nominal") -> float:
    """Alpha for ``data`` (annotators × units; NaN = no value). NaN when undefined (fewer than
    two pairable values, or no variation at all)."""
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"data must be annotators x units, got shape {x.shape}")
    present = ~np.isnan(x)
    values = np.unique(x[present])
    if len(values) < 2:
        return float("nan")
    idx = np.searchsorted(values, np.where(present, x, values[0]))
    n_units, n_cat = x.shape[1], len(values)
    counts = np.zeros((n_units, n_cat))
    unit = np.broadcast_to(np.arange(n_units), x.shape)
    np.add.at(counts, (unit[present], idx[present]), 1.0)
    m = counts.sum(axis=1)
    ok = m >= 2
    if not ok.any():
        return float("nan")
    n_u, w = counts[ok], 1.0 / (m[ok] - 1.0)
    o = (n_u * w[:, None]).T @ n_u - np.diag((n_u * w[:, None]).sum(axis=0))
    n_c = o.sum(axis=1)
    n = n_c.sum()
    d2 = _delta2(values, n_c, level)
    d_o = float((o * d2).sum()) / n
    d_e = float((np.outer(n_c, n_c) * d2).sum()) / (n * (n - 1.0))
    return float("nan") if d_e == 0 else 1.0 - d_o / d_e


def cohen_kappa(a: Sequence[object], b: Sequence[object], *,
                weights: Literal["linear", "quadratic"] | None = None) -> float:
    """Cohen's kappa of two annotators' labels for the same units (weights over the sorted labels)."""
    if len(a) != len(b):
        raise ValueError(f"the two annotators labelled {len(a)} and {len(b)} units; kappa needs the same units")
    labels = sorted(set(a) | set(b), key=str)
    pos = {v: i for i, v in enumerate(labels)}
    k = len(labels)
    conf = np.zeros((k, k))
    np.add.at(conf, ([pos[v] for v in a], [pos[v] for v in b]), 1.0)
    expected = np.outer(conf.sum(axis=1), conf.sum(axis=0)) / conf.sum()
    i, j = np.indices((k, k))
    w = {None: (i != j).astype(float), "linear": np.abs(i - j).astype(float),
         "quadratic": ((i - j) ** 2).astype(float)}[weights]
    denom = float((w * expected).sum())
    return float("nan") if denom == 0 else 1.0 - float((w * conf).sum()) / denom


def fleiss_kappa(table: ArrayLike) -> float:
    """Fleiss' kappa from a units × categories table of counts (the same number of raters per unit)."""
    t = np.asarray(table, dtype=np.float64)
    r = t.sum(axis=1)
    if not np.allclose(r, r[0]) or r[0] < 2:
        raise ValueError("every unit needs the same number (>= 2) of ratings for Fleiss' kappa; "
                         "use krippendorff_alpha for missing or unequal ratings")
    n_units, raters = t.shape[0], r[0]
    p_j = t.sum(axis=0) / (n_units * raters)
    p_i = ((t * t).sum(axis=1) - raters) / (raters * (raters - 1))
    p_bar, p_e = p_i.mean(), float((p_j ** 2).sum())
    return float("nan") if p_e == 1 else float((p_bar - p_e) / (1 - p_e))


def box_iou(a: ArrayLike, b: ArrayLike) -> F64:
    """Pairwise IoU of boxes ``a`` (n × 4) and ``b`` (m × 4), each ``(x0, y0, x1, y1)``."""
    p, q = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    x0 = np.maximum(p[:, None, 0], q[None, :, 0])
    y0 = np.maximum(p[:, None, 1], q[None, :, 1])
    x1 = np.minimum(p[:, None, 2], q[None, :, 2])
    y1 = np.minimum(p[:, None, 3], q[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_p = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1])
    area_q = (q[:, 2] - q[:, 0]) * (q[:, 3] - q[:, 1])
    union = area_p[:, None] + area_q[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def temporal_iou(a: ArrayLike, b: ArrayLike) -> F64:
    """Pairwise IoU of half-open time spans ``a`` (n × 2) and ``b`` (m × 2)."""
    p, q = np.asarray(a, np.float64).reshape(-1, 2), np.asarray(b, np.float64).reshape(-1, 2)
    inter = np.clip(np.minimum(p[:, None, 1], q[None, :, 1]) - np.maximum(p[:, None, 0], q[None, :, 0]), 0, None)
    union = (p[:, 1] - p[:, 0])[:, None] + (q[:, 1] - q[:, 0])[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@dataclass(frozen=True)
class EventMatch:
    pairs: list[tuple[int, int]]  # (reference index, hypothesis index)
    precision: float
    recall: float
    f1: float


def match_events(reference: ArrayLike, hypothesis: ArrayLike, tolerance: float) -> EventMatch:
    """One-to-one matching of event times within ``tolerance`` that maximises the number of
    matches and, among those, minimises the total time difference."""
    r, h = np.asarray(reference, np.float64).ravel(), np.asarray(hypothesis, np.float64).ravel()
    pairs: list[tuple[int, int]] = []
    if len(r) and len(h):
        diff = np.abs(r[:, None] - h[None, :])
        big = 1.0 + float(diff[diff <= tolerance].sum()) if (diff <= tolerance).any() else 1.0
        cost = np.where(diff <= tolerance, diff - big, 0.0)  # every match beats every non-match
        rows, cols = linear_sum_assignment(cost)
        pairs = [(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if diff[i, j] <= tolerance]
    tp = len(pairs)
    precision = tp / len(h) if len(h) else float("nan")
    recall = tp / len(r) if len(r) else float("nan")
    f1 = 2 * tp / (len(r) + len(h)) if len(r) + len(h) else float("nan")
    return EventMatch(sorted(pairs), precision, recall, f1)


def match_shapes(iou: ArrayLike, threshold: float = 0.5) -> tuple[list[tuple[int, int]], float]:
    """One-to-one matching of two annotators' shapes on one target from their pairwise IoU
    (``n × m``; set an entry to 0 where the classes differ), maximising total IoU among pairs at
    or above ``threshold``: (pairs, F1 = 2·matches / (n + m))."""
    m = np.asarray(iou, np.float64)
    n_a, n_b = m.shape
    if not n_a + n_b:
        return [], float("nan")
    pairs: list[tuple[int, int]] = []
    if n_a and n_b:
        rows, cols = linear_sum_assignment(np.where(m >= threshold, -m - 1.0, 0.0))
        pairs = [(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if m[i, j] >= threshold]
    return sorted(pairs), 2 * len(pairs) / (n_a + n_b)


def bootstrap_interval(data: ArrayLike, statistic: Callable[[F64], float], *, n: int = 1000,
                       level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(estimate, low, high): a percentile interval from resampling the *columns* (units) of
    ``data`` (annotators × units) with replacement; resamples where the statistic is undefined
    are dropped."""
    x = np.asarray(data, np.float64)
    rng = np.random.default_rng(seed)
    est = statistic(x)
    stats = np.array([statistic(x[:, rng.integers(0, x.shape[1], x.shape[1])]) for _ in range(n)])
    stats = stats[~np.isnan(stats)]
    if not len(stats):
        return est, float("nan"), float("nan")
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return est, float(lo), float(hi)

"""Label noise: which labels of a field a model trained on the *other* rows confidently disputes.

Why: a wrong label costs twice — it teaches the model the wrong thing and it grades the model
wrongly. Annotator agreement cannot see an error every annotator makes (a confusing guideline,
a mislabelled batch); a model can, when it is asked only about rows it did not train on. This
module estimates, per field and per slice, the fraction of suspect labels, with an interval,
and compares it with a tolerance (default: warn at 10 %, fail at 25 %).

The three steps, each a pure function over NumPy arrays (no per-row Python loops):

1. ``out_of_fold_probs`` — out-of-fold predicted probabilities from features or embeddings.
   Folds come from ``fold_ids``: stratified by label, and group-aware (no group — an entity, a
   recording — is ever in both the training and the validation side). The model is a
   multinomial logistic regression (lbfgs) on standardized features: linear, deterministic,
   calibrated enough for Confident Learning. Each fold trains on at most ``max_train_rows``
   rows, drawn per class, which keeps 1M rows within a minute on two cores (a linear model of
   ``d × k`` weights gains nothing measurable from more than a few hundred thousand rows).
   Fits run on one BLAS/OpenMP thread by default (see ``out_of_fold_probs``).
2. ``confident_joint`` and ``find_label_issues`` — Confident Learning (Northcutt, Jiang and
   Chuang, JAIR 2021), reproducing cleanlab 2.9's defaults result for result: per-class
   thresholds = the mean self-confidence of the class; the confident joint counts each row
   under its given label and the class it confidently belongs to, then is *calibrated* to the
   label counts and rounded preserving row totals; ``prune_by_noise_rate`` then flags, for
   every off-diagonal cell (given ``k``, true ``j``), that many rows labelled ``k`` with the
   largest margin ``p_j - p_k``, keeps at least one row per class, and unflags any row whose
   given label is (within 1e-6) the argmax. ``rank_label_issues`` orders flagged rows by
   self-confidence (default) or normalized margin, as ``cleanlab.rank.order_label_issues``.
   The tests check the equality with cleanlab on randomized inputs, ties included. Exact means
   copying three things that look like details: ties in a margin are broken by ``np.argsort``'s
   default sort on the same array in the same order; thresholds keep the dtype of the
   probabilities (float32 stays float32); and the joint is summed in cleanlab's memory order,
   because a calibrated count of x.5 rounds up or down on its last bit. One deliberate
   difference: labels with a single class raise a ValueError (cleanlab lets all-zero labels
   through for its multi-label code).
3. ``suspect_fraction`` and ``verdict`` — the fraction of flagged rows overall and per slice,
   with a Wilson 95 % interval and its n, compared with the tolerance on the point estimate;
   an interval that straddles a threshold makes the verdict ``undetermined``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypedDict

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]
Level = Literal["ok", "warn", "fail"]
RankBy = Literal["self_confidence", "normalized_margin"]

FUZZ = 1e-6                 # cleanlab's FLOATING_POINT_COMPARISON
THRESHOLD_FLOOR = 2 * FUZZ  # cleanlab's CONFIDENT_THRESHOLDS_LOWER_BOUND
ABSENT_CLASS_THRESHOLD = 2  # no probability reaches it: a class nobody has is never "confident"
TINY = 1e-100
WILSON_Z = 1.959963984540054  # standard normal 97.5 % quantile


# ---------------------------------------------------------------- inputs


def _labels(labels: np.ndarray, n_classes: int | None = None) -> I64:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class codes, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integer class codes 0..k-1, got dtype {y.dtype}")
    y = y.astype(np.int64, copy=False)
    if y.size and y.min() < 0:
        raise ValueError(f"labels must be class codes >= 0, found {int(y.min())}")
    if n_classes is not None and y.size and y.max() >= n_classes:
        raise ValueError(f"label {int(y.max())} is outside the {n_classes} classes")
    present = np.unique(y)
    if len(present) < 2:
        raise ValueError(f"labels need at least two classes to find label noise, found {present.tolist()}")
    return y


def _probs(pred_probs: np.ndarray, y: I64) -> NDArray[np.floating]:
    p = np.asarray(pred_probs)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"pred_probs must be rows x classes with one row per label ({len(y)}), got {p.shape}")
    if not np.issubdtype(p.dtype, np.floating):
        p = p.astype(np.float64)
    if y.max() >= p.shape[1]:
        raise ValueError(f"label {int(y.max())} has no column in pred_probs ({p.shape[1]} classes)")
    if not np.isfinite(p).all() or p.min() < -FUZZ or p.max() > 1 + FUZZ:
        raise ValueError("pred_probs must be finite probabilities between 0 and 1")
    return p


# ---------------------------------------------------------------- folds and out-of-fold probabilities


def _n_splits(per_class: I64, n_splits: int, unit: str) -> int:
    """Fewer splits when a class is rarer than ``n_splits``; an error below two."""
    rare = np.flatnonzero(per_class == 1)
    if len(rare):
        raise ValueError(f"class(es) {rare.tolist()} occur in only one {unit}; out-of-fold probabilities need "
                         f"at least 2 {unit}s per class — merge or drop these classes")
    return int(min(n_splits, per_class[per_class > 0].min()))


def fold_ids(labels: np.ndarray, groups: np.ndarray | None = None, *, n_splits: int = 5, seed: int = 0) -> I64:
    """The validation fold of every row, ``0..splits-1``; stratified by label and, with ``groups``,
    never splitting a group.

    Without groups this is scikit-learn's ``StratifiedKFold`` (shuffled with ``seed``). With
    groups, scikit-learn's ``StratifiedGroupKFold`` loops in Python over rows and groups (12 s for
    1M rows in 20k groups here), so groups are dealt instead: ordered by their majority class,
    then by size (largest first, ties shuffled with ``seed``), and dealt round-robin to the folds.
    The groups of each majority class spread evenly over the folds (a class that is nowhere a
    majority is not stratified), and fold sizes differ by at most the largest group. ``splits``
    is ``n_splits``, or fewer when a class has fewer rows (groups)."""
    y = _labels(labels)
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}")
    k = int(y.max()) + 1
    if groups is None:
        splits = _n_splits(np.bincount(y, minlength=k), n_splits, "row")
        folds = np.empty(len(y), np.int64)
        for f, (_, val) in enumerate(StratifiedKFold(splits, shuffle=True, random_state=seed).split(y, y)):
            folds[val] = f
        return folds
    g = np.asarray(groups)
    if g.shape != y.shape:
        raise ValueError(f"groups must have one value per label ({len(y)}), got shape {g.shape}")
    _, g_inv = np.unique(g, return_inverse=True)
    counts = np.bincount(g_inv.ravel() * k + y, minlength=(int(g_inv.max()) + 1) * k).reshape(-1, k)
    splits = _n_splits(np.count_nonzero(counts, axis=0), n_splits, "group")
    order = np.lexsort((np.random.default_rng(seed).random(len(counts)), -counts.sum(axis=1), counts.argmax(axis=1)))
    fold_of_group = np.empty(len(counts), np.int64)
    fold_of_group[order] = np.arange(len(counts)) % splits
    return fold_of_group[g_inv.ravel()]


def _subsample(rows: I64, y: I64, limit: int | None, rng: np.random.Generator) -> I64:
    """About ``limit`` of ``rows`` (at most 1.5 ×), drawn per class in proportion, a rare class
    keeping up to ``limit / (2 × classes)`` rows so that the model still learns it."""
    if limit is None or len(rows) <= limit:
        return rows
    labels = y[rows]
    counts = np.bincount(labels)
    floor = np.minimum(counts, max(limit // (2 * int(np.count_nonzero(counts))), 1))
    quota = np.maximum(np.floor(counts * (limit / len(rows))), floor).astype(np.int64)
    order = np.lexsort((rng.random(len(rows)), labels))  # by class, shuffled within
    rank = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.sort(rows[order[rank < quota[labels[order]]]])


def _features(features: np.ndarray, n: int) -> NDArray[np.floating]:
    x = np.asarray(features)
    if x.ndim != 2 or len(x) != n:
        raise ValueError(f"features must be rows x dims with one row per label ({n}), got shape {x.shape}")
    if x.shape[1] == 0:
        raise ValueError("features have no columns: label noise needs features or embeddings to predict from")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} feature rows hold NaN or infinity (first: row {int(np.argmax(bad))}); "
                         "impute or drop them first")
    return x


def out_of_fold_probs(features: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None, *,
                      n_splits: int = 5, seed: int = 0, n_classes: int | None = None,
                      max_train_rows: int | None = 200_000, threads: int | None = 1) -> F64:
    """Out-of-fold class probabilities (rows × classes) of a logistic regression on standardized
    ``features``: each row is predicted by a model that saw neither it nor its group.

    ``n_classes`` widens the columns to a label space larger than the labels seen; a class absent
    from a training fold gets probability 0 in that fold. Deterministic for a given ``seed``.
    ``threads`` caps the BLAS and OpenMP threads while fitting (``None``: the libraries' own
    default). One is the default because on a shared 2-core machine two threads spin against
    each other and other processes: a 200k-row fit took 12-65 s with two threads, 1.8 s with one."""
    y = _labels(labels, n_classes)
    x = _features(features, len(y))
    k = n_classes or int(y.max()) + 1
    folds = fold_ids(y, groups, n_splits=n_splits, seed=seed)
    rng = np.random.default_rng(seed)
    probs = np.zeros((len(y), k))
    for f in range(int(folds.max()) + 1):
        val, train = np.flatnonzero(folds == f), _subsample(np.flatnonzero(folds != f), y, max_train_rows, rng)
        seen = np.unique(y[train])
        if len(seen) < 2:
            raise ValueError(f"fold {f} trains on class {seen.tolist()} only; use fewer splits or more groups")
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
        with threadpool_limits(threads):
            model.fit(x[train], y[train])
            probs[np.ix_(val, seen)] = model.predict_proba(x[val])
    return probs


# ---------------------------------------------------------------- Confident Learning


def _round_preserving_sum(row: F64) -> I64:
    """cleanlab's ``round_preserving_sum``: round, then move the rounding error onto the entries
    that lost (gained) the most."""
    floats = np.asarray(row, dtype=float)
    ints = floats.round()
    target, total = np.sum(floats).round(), np.sum(ints).round()
    while abs(total - target) > FUZZ:
        step = -1 if np.round(target - total) < 0 else 1
        changes = min(int(abs(np.round(target - total))), len(floats))
        ints[np.argsort(floats - ints)[::-step][:changes]] += step
        total = np.sum(ints).round()
    return ints.astype(np.int64)


def _round_rows(matrix: F64) -> I64:
    return np.stack([_round_preserving_sum(r) for r in matrix])  # k rows of a k × k matrix


def confident_thresholds(labels: np.ndarray, pred_probs: np.ndarray) -> NDArray[np.floating]:
    """Per class, the mean predicted probability of the class among the rows labelled with it
    (``ABSENT_CLASS_THRESHOLD`` for a class no row has), floored at 2e-6."""
    y = _labels(labels)
    p = _probs(pred_probs, y)
    present = np.bincount(y, minlength=p.shape[1]) > 0
    means = [p[y == c, c].mean() if present[c] else ABSENT_CLASS_THRESHOLD for c in range(p.shape[1])]
    return np.clip(means, a_min=THRESHOLD_FLOOR, a_max=None)  # same dtype rules as cleanlab's list


def confident_joint(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[I64, NDArray[np.floating]]:
    """The calibrated confident joint (``[given, true]`` counts summing to the number of rows, row
    ``i`` summing to the count of label ``i``) and the per-class thresholds it used."""
    y = _labels(labels)
    p = _probs(pred_probs, y)
    k = p.shape[1]
    thresholds = confident_thresholds(y, p)
    confident = p >= thresholds - FUZZ
    n_confident = confident.sum(axis=1)
    guess = np.where(n_confident > 1, p.argmax(axis=1), confident.argmax(axis=1))
    some = n_confident > 0
    # [true, given] counts transposed, as cleanlab's confusion_matrix(...).T: the memory order
    # decides the summation order of np.sum below, hence the last bit, hence how .5s round
    joint = np.bincount(guess[some] * k + y[some], minlength=k * k).reshape(k, k).T
    np.fill_diagonal(joint, joint.diagonal().clip(min=1))
    label_counts = np.bincount(y, minlength=k)
    calibrated = (joint.T / np.clip(joint.sum(axis=1), a_min=TINY, a_max=None) * label_counts).T
    calibrated = calibrated / np.clip(np.sum(calibrated), a_min=TINY, a_max=None) * label_counts.sum()
    return _round_rows(calibrated), thresholds


def _prune_counts(joint: I64) -> I64:
    """How many rows to flag per (true, given) cell: the joint transposed, each class keeping at
    least one row (cleanlab's ``_keep_at_least_n_per_class`` with n=1, frac_noise=1; its final
    row-preserving rounding of an integer matrix is the identity)."""
    pcm = joint.T
    diag = np.diagonal(pcm)
    new_diag = np.maximum(diag, 1)
    per_col = np.maximum(np.count_nonzero(pcm, axis=0) - 1.0, 1.0)
    counts = pcm - (new_diag - diag) / per_col
    counts[counts < 0] = 0
    np.fill_diagonal(counts, new_diag)
    return np.asarray(counts, dtype=np.float64).astype(np.int64)


def _given_label_is_argmax(y: I64, p: NDArray[np.floating]) -> Bool:
    """Rows whose given label is the argmax, or within 1e-6 of it (cleanlab's ``_reduce_issues``)."""
    bumped = p.copy()
    bumped[np.arange(len(y)), y] += FUZZ
    return np.asarray(bumped.argmax(axis=1) == y)


def find_label_issues(labels: np.ndarray, pred_probs: np.ndarray, *,
                      filter_by: Literal["prune_by_noise_rate"] = "prune_by_noise_rate") -> Bool:
    """Rows whose label is probably wrong (Confident Learning, prune by noise rate): equal to
    ``cleanlab.filter.find_label_issues(labels, pred_probs)`` with its defaults. Within each
    (given k, true j) cell the rows pruned are those with the largest margin ``p_j - p_k``; order
    the result with ``rank_label_issues`` (self-confidence by default)."""
    if filter_by != "prune_by_noise_rate":
        raise ValueError(f"only filter_by='prune_by_noise_rate' is implemented, got {filter_by!r}")
    y = _labels(labels)
    p = _probs(pred_probs, y)
    joint, _ = confident_joint(y, p)
    prune = _prune_counts(joint)
    mask = np.zeros(len(y), dtype=bool)
    for k in range(p.shape[1]):  # given label
        rows = np.flatnonzero(y == k)
        if len(rows) <= 1:
            continue
        flagged = np.zeros(len(rows), dtype=bool)
        for j in np.flatnonzero(prune[:, k] > 0):  # true label
            if j != k:
                margin = p[rows, j] - p[rows, k]
                flagged[np.argsort(-margin)[: prune[j, k]]] = True
        mask[rows] = flagged
    mask[_given_label_is_argmax(y, p)] = False
    return mask


def label_quality(labels: np.ndarray, pred_probs: np.ndarray, *,
                  by: RankBy = "self_confidence") -> NDArray[np.floating]:
    """Per row, 0..1, low = likely mislabelled: the probability of the given label
    (``self_confidence``) or ``(p_given - max p_other + 1) / 2`` (``normalized_margin``), in the
    dtype of ``pred_probs`` (so that ranking ties break as in cleanlab)."""
    y = _labels(labels)
    p = _probs(pred_probs, y)
    own = p[np.arange(len(y)), y]
    if by == "self_confidence":
        return own
    if by != "normalized_margin":
        raise ValueError(f"by must be 'self_confidence' or 'normalized_margin', got {by!r}")
    others = p.copy()
    others[np.arange(len(y)), y] = -np.inf
    return np.asarray((own - others.max(axis=1) + 1) / 2)


def rank_label_issues(mask: np.ndarray, labels: np.ndarray, pred_probs: np.ndarray, *,
                      by: RankBy = "self_confidence") -> I64:
    """The flagged rows, most suspect first (as ``cleanlab.filter.find_label_issues`` with
    ``return_indices_ranked_by=by``)."""
    m = np.asarray(mask, dtype=bool)
    scores = label_quality(labels, pred_probs, by=by)
    if m.shape != scores.shape:
        raise ValueError(f"mask must have one value per label ({len(scores)}), got shape {m.shape}")
    return np.flatnonzero(m)[np.argsort(scores[m])].astype(np.int64)


# ---------------------------------------------------------------- fractions and verdicts


@dataclass(frozen=True)
class SuspectRate:
    """Flagged rows among ``n``, with a Wilson 95 % interval (NaN fraction and [0, 1] when n = 0)."""

    n: int
    suspects: int
    fraction: float
    low: float
    high: float


class NoiseEstimate(TypedDict):
    overall: SuspectRate
    slices: dict[str, SuspectRate]


class Verdict(NamedTuple):
    level: Level
    undetermined: bool  # the interval straddles a threshold: the data cannot tell the levels apart


def _wilson(suspects: I64, n: I64) -> tuple[F64, F64, F64]:
    n_ = np.maximum(n, 1).astype(np.float64)
    phat = suspects / n_
    z2 = WILSON_Z**2
    centre = (phat + z2 / (2 * n_)) / (1 + z2 / n_)
    half = WILSON_Z * np.sqrt(phat * (1 - phat) / n_ + z2 / (4 * n_**2)) / (1 + z2 / n_)
    empty = n == 0
    return (np.where(empty, np.nan, phat), np.where(empty, 0.0, np.clip(centre - half, 0, 1)),
            np.where(empty, 1.0, np.clip(centre + half, 0, 1)))


def _rates(suspects: I64, n: I64) -> list[SuspectRate]:
    frac, low, high = _wilson(suspects, n)
    return [SuspectRate(int(a), int(b), float(c), float(d), float(e))
            for a, b, c, d, e in zip(n, suspects, frac, low, high, strict=True)]


def suspect_fraction(mask: np.ndarray, slices: np.ndarray | None = None) -> NoiseEstimate:
    """The fraction of suspect labels overall and per slice value (keys: ``str(value)``)."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 1:
        raise ValueError(f"mask must be 1-D, got shape {m.shape}")
    overall = _rates(np.array([m.sum()]), np.array([len(m)]))[0]
    if slices is None:
        return {"overall": overall, "slices": {}}
    s = np.asarray(slices)
    if s.shape != m.shape:
        raise ValueError(f"slices must have one value per label ({len(m)}), got shape {s.shape}")
    keys, inv = np.unique(s.astype(str) if s.dtype == object else s, return_inverse=True)
    inv = inv.ravel()
    rates = _rates(np.bincount(inv, weights=m, minlength=len(keys)).astype(np.int64),
                   np.bincount(inv, minlength=len(keys)))
    return {"overall": overall, "slices": {str(key): r for key, r in zip(keys, rates, strict=True)}}


def verdict(fraction: SuspectRate, warn: float = 0.10, fail: float = 0.25) -> Verdict:
    """``fail`` at or above ``fail``, ``warn`` at or above ``warn``, else ``ok`` — on the point
    estimate; ``undetermined`` when a threshold lies inside the interval (or n = 0)."""
    if not 0 <= warn <= fail <= 1:
        raise ValueError(f"need 0 <= warn <= fail <= 1, got warn={warn}, fail={fail}")
    if fraction.n == 0 or math.isnan(fraction.fraction):
        return Verdict("ok", True)
    level: Level = "fail" if fraction.fraction >= fail else "warn" if fraction.fraction >= warn else "ok"
    straddles = any(fraction.low < t <= fraction.high for t in (warn, fail))
    return Verdict(level, straddles)

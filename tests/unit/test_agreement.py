"""Agreement measures equal the reference implementations on randomized inputs."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from syncline.annotate.agreement import (
    bootstrap_interval,
    box_iou,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    match_events,
    temporal_iou,
)


def _ratings(seed: int, annotators: int, units: int, categories: int, missing: float, noise: float) -> np.ndarray:
    """Annotators who mostly agree with a hidden truth, some values missing."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, categories, units)
    x = np.where(rng.random((annotators, units)) < noise, rng.integers(0, categories, (annotators, units)), truth)
    x = x.astype(float) + 1.0  # values 1..categories (ratio data needs no zero-sum pairs)
    x[rng.random(x.shape) < missing] = np.nan
    return x


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("seed", range(8))
def test_alpha_equals_the_krippendorff_package(level: str, seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    x = _ratings(seed, annotators=int(rng.integers(2, 7)), units=int(rng.integers(5, 80)),
                 categories=int(rng.integers(2, 7)), missing=float(rng.uniform(0, 0.4)), noise=float(rng.uniform(0, 1)))
    ours = krippendorff_alpha(x, level)  # type: ignore[arg-type]
    ref = krippendorff.alpha(reliability_data=x, level_of_measurement=level)
    assert ours == pytest.approx(ref, abs=1e-9)


def test_alpha_is_undefined_without_variation_or_pairs() -> None:
    assert np.isnan(krippendorff_alpha([[1, 1, 1], [1, 1, 1]]))
    assert np.isnan(krippendorff_alpha([[1, np.nan], [np.nan, 2]]))
    with pytest.raises(ValueError, match="annotators x units"):
        krippendorff_alpha([1, 2, 3])


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", range(8))
def test_cohen_kappa_equals_scikit_learn(weights: str | None, seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    a = rng.integers(0, k, 60)
    b = np.where(rng.random(60) < 0.6, a, rng.integers(0, k, 60))
    ours = cohen_kappa(list(a), list(b), weights=weights)  # type: ignore[arg-type]
    assert ours == pytest.approx(cohen_kappa_score(a, b, weights=weights), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_fleiss_kappa_equals_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    raters, k, units = int(rng.integers(2, 8)), int(rng.integers(2, 6)), int(rng.integers(5, 50))
    table = np.stack([np.bincount(rng.integers(0, k, raters), minlength=k) for _ in range(units)])
    assert fleiss_kappa(table) == pytest.approx(sm_fleiss(table, method="fleiss"), abs=1e-12)
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([[2, 0], [1, 0]])


def test_box_and_temporal_iou_by_hand() -> None:
    iou = box_iou([[0, 0, 2, 2], [10, 10, 11, 11]], [[1, 1, 3, 3], [0, 0, 2, 2]])
    assert iou == pytest.approx(np.array([[1 / 7, 1.0], [0.0, 0.0]]))
    t = temporal_iou([[0, 10]], [[5, 15], [10, 20], [0, 10]])
    assert t == pytest.approx(np.array([[5 / 15, 0.0, 1.0]]))


def test_event_matching_is_one_to_one_and_maximal() -> None:
    # greedy nearest-first would pair 1.0 with 1.15 and leave 1.3 unmatched; the optimum matches both
    m = match_events([1.0, 1.3, 5.0], [1.15, 0.9, 9.0], tolerance=0.2)
    assert m.pairs == [(0, 1), (1, 0)]
    assert (m.precision, m.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert m.f1 == pytest.approx(2 / 3)
    empty = match_events([], [1.0], tolerance=0.1)
    assert empty.pairs == [] and empty.precision == 0.0 and np.isnan(empty.recall)


def test_bootstrap_interval_covers_the_estimate_and_narrows_with_more_units() -> None:
    small = _ratings(3, annotators=3, units=30, categories=3, missing=0.1, noise=0.4)
    large = _ratings(3, annotators=3, units=600, categories=3, missing=0.1, noise=0.4)
    est_s, lo_s, hi_s = bootstrap_interval(small, lambda d: krippendorff_alpha(d), n=300)
    est_l, lo_l, hi_l = bootstrap_interval(large, lambda d: krippendorff_alpha(d), n=300)
    assert lo_s <= est_s <= hi_s and lo_l <= est_l <= hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s) / 2

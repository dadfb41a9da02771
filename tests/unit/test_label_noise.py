"""Label noise: Confident Learning equals cleanlab 2.9, recovers planted flips from features,
never lets a group straddle folds, and reports fractions with honest intervals."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from cleanlab.count import compute_confident_joint, get_confident_thresholds
from cleanlab.filter import find_label_issues as cleanlab_find_label_issues
from statsmodels.stats.proportion import proportion_confint

from syncline.audit import label_noise
from syncline.audit.label_noise import (
    SuspectRate,
    confident_joint,
    find_label_issues,
    fold_ids,
    out_of_fold_probs,
    rank_label_issues,
    suspect_fraction,
    verdict,
)

# ---------------------------------------------------------------- randomized inputs for cleanlab


def _case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities of a classifier that is right more often than not, with the
    awkward parts varied by seed: k = 2..6, imbalanced priors, classes nobody has (no confident
    examples), a class of one row, float32, and probabilities rounded to one decimal (ties)."""
    rng = np.random.default_rng(seed)
    k, n = 2 + seed % 5, int(rng.integers(30, 600))
    prior = rng.dirichlet(np.full(k, 0.7))
    if k > 2 and seed % 3 == 0:
        prior[int(rng.integers(0, k))] = 0.0  # a class nobody has: threshold 2, never confident
        prior /= prior.sum()
    truth = rng.choice(k, n, p=prior)
    labels = np.where(rng.random(n) < rng.uniform(0, 0.4), rng.integers(0, k, n), truth)
    if seed % 4 == 1:
        labels[0] = (labels.max() + 1) % k  # possibly a class of one row
    logits = rng.normal(0, 1, (n, k)) + rng.uniform(0.5, 4) * np.eye(k)[truth]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if seed % 5 == 2:
        probs = np.round(probs, 1) + 1e-3
        probs /= probs.sum(axis=1, keepdims=True)
    if seed % 4 == 3:
        probs = probs.astype(np.float32)
    return labels, probs


def _cleanlab(labels: np.ndarray, probs: np.ndarray, **kw: Any) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "may not flag all label issues in class": a class of one row
        return np.asarray(cleanlab_find_label_issues(labels, probs, n_jobs=1, **kw))


# 1364, 1419, 1439, 1499: a calibrated count lands on .5 and its last bit — set by the order in which
# np.sum adds the joint, i.e. by its memory layout — decides the rounding
SEEDS = [*range(60), 1364, 1419, 1439, 1499]


@pytest.mark.parametrize("seed", SEEDS)
def test_confident_joint_and_thresholds_equal_cleanlab(seed: int) -> None:
    labels, probs = _case(seed)
    joint, thresholds = confident_joint(labels, probs)
    np.testing.assert_array_equal(joint, compute_confident_joint(labels, probs))
    np.testing.assert_array_equal(thresholds, get_confident_thresholds(labels, probs))
    assert thresholds.dtype == get_confident_thresholds(labels, probs).dtype
    assert joint.sum() == len(labels)
    np.testing.assert_array_equal(joint.sum(axis=1), np.bincount(labels, minlength=probs.shape[1]))


@pytest.mark.parametrize("seed", SEEDS)
def test_label_issue_mask_equals_cleanlab(seed: int) -> None:
    labels, probs = _case(seed)
    ours = find_label_issues(labels, probs)
    assert ours.dtype == bool
    np.testing.assert_array_equal(ours, _cleanlab(labels, probs))


@pytest.mark.parametrize("by", ["self_confidence", "normalized_margin"])
@pytest.mark.parametrize("seed", range(0, 60, 5))
def test_ranked_issues_equal_cleanlab(seed: int, by: str) -> None:
    labels, probs = _case(seed)
    ranked = rank_label_issues(find_label_issues(labels, probs), labels, probs, by=by)  # type: ignore[arg-type]
    np.testing.assert_array_equal(ranked, _cleanlab(labels, probs, return_indices_ranked_by=by))


def test_cases_cover_ties_missing_classes_and_flags() -> None:
    """The randomized cases really contain what the equality tests claim to exercise."""
    cases = [_case(s) for s in range(60)]
    assert any(len(np.unique(y)) < p.shape[1] for y, p in cases)  # a class with no confident examples
    assert any(p.dtype == np.float32 for _, p in cases)
    assert any(len(np.unique(np.round(p, 6))) < p.size / 4 for _, p in cases)  # heavy ties
    assert sum(int(find_label_issues(y, p).sum()) for y, p in cases) > 100


def test_a_confident_row_of_another_class_is_flagged_and_an_argmax_row_never() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    probs = np.array([[.9, .1], [.8, .2], [.85, .15], [.05, .95],  # row 3: labelled 0, clearly 1
                      [.1, .9], [.2, .8], [.15, .85], [.3, .7]])
    mask = find_label_issues(labels, probs)
    np.testing.assert_array_equal(mask, [False, False, False, True, False, False, False, False])
    np.testing.assert_array_equal(mask, _cleanlab(labels, probs))


def test_a_probability_within_1e_6_below_the_threshold_still_counts_as_confident() -> None:
    labels = np.array([0] * 4 + [1] * 5)
    p1 = np.array([0.1] * 4 + [0.5, 0.5, 0.5 + 2e-6, 0.9, 0.1])  # class-1 threshold 0.5000004
    probs = np.column_stack([1 - p1, p1])
    joint, thresholds = confident_joint(labels, probs)
    assert thresholds[1] == pytest.approx(0.5000004)
    np.testing.assert_array_equal(joint, [[4, 0], [1, 4]])  # the two rows at 0.5 are confident 1s
    np.testing.assert_array_equal(joint, compute_confident_joint(labels, probs))


def test_a_class_keeps_at_least_one_row_even_when_all_its_rows_look_wrong() -> None:
    """Class 0 has two rows, confidently 1 and 2: the calibrated diagonal rounds to 0, so
    cleanlab's keep-one-per-class rule cancels both prunings."""
    labels = np.array([0, 0] + [1] * 6 + [2] * 6)
    probs = np.array([[.1, .8, .1], [.1, .1, .8]] + [[.1, .8, .1]] * 6 + [[.1, .1, .8]] * 6)
    np.testing.assert_array_equal(confident_joint(labels, probs)[0], [[0, 1, 1], [0, 6, 0], [0, 0, 6]])
    assert not find_label_issues(labels, probs).any()
    np.testing.assert_array_equal(find_label_issues(labels, probs), _cleanlab(labels, probs))


# ---------------------------------------------------------------- planted noise from features


def _planted(rate: float, seed: int, n: int = 3000, k: int = 4, d: int = 8
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Class-conditional Gaussians, exactly ``rate`` of the labels flipped to another class, and
    300 groups (entities) of rows."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(k, n, p=[0.4, 0.3, 0.2, 0.1])
    x = rng.normal(0, 1.5, (k, d))[truth] + rng.normal(0, 1, (n, d))
    flipped = np.zeros(n, dtype=bool)
    flipped[rng.choice(n, round(rate * n), replace=False)] = True
    labels = np.where(flipped, (truth + rng.integers(1, k, n)) % k, truth)
    return x, labels, flipped, rng.integers(0, 300, n)


@pytest.mark.parametrize("rate", [0.08, 0.20])
def test_planted_flips_are_recovered_and_their_rate_estimated(rate: float) -> None:
    x, labels, flipped, groups = _planted(rate, seed=int(rate * 100))
    mask = find_label_issues(labels, out_of_fold_probs(x, labels, groups, seed=1))
    hits = int((mask & flipped).sum())
    assert hits / mask.sum() >= 0.8, "precision"
    assert hits / flipped.sum() >= 0.8, "recall"
    overall = suspect_fraction(mask)["overall"]
    assert overall.n == len(labels)
    assert overall.low - 0.02 <= rate <= overall.high + 0.02


def test_out_of_fold_probs_are_deterministic_probabilities() -> None:
    x, labels, _, groups = _planted(0.1, seed=3, n=800)
    a = out_of_fold_probs(x, labels, groups, seed=7)
    assert a.shape == (800, 4)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    np.testing.assert_array_equal(a, out_of_fold_probs(x, labels, groups, seed=7))
    assert np.mean(a.argmax(axis=1) == labels) > 0.8


def test_a_label_space_wider_than_the_labels_gets_zero_columns() -> None:
    x, labels, _, _ = _planted(0.0, seed=4, n=600)
    probs = out_of_fold_probs(x, labels, n_classes=6)
    assert probs.shape == (600, 6)
    assert not probs[:, 4:].any()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_training_rows_are_subsampled_in_proportion_and_rare_classes_kept() -> None:
    labels = np.repeat(np.arange(4, dtype=np.int64), [3000, 900, 90, 10])
    rows = np.arange(4000, dtype=np.int64)
    kept = label_noise._subsample(rows, labels, 1000, np.random.default_rng(0))
    # 1000/4000 of each class, but at least min(count, 1000 // (2 * 4)) = 125 rows
    np.testing.assert_array_equal(np.bincount(labels[kept]), [750, 225, 90, 10])
    assert np.all(np.diff(kept) > 0)
    assert not np.array_equal(kept[:750], np.arange(750))  # drawn at random, not the first rows
    x, y, _, _ = _planted(0.0, seed=5, n=4000)
    assert np.mean(out_of_fold_probs(x, y, max_train_rows=500).argmax(axis=1) == y) > 0.9


# ---------------------------------------------------------------- folds respect groups


def test_no_group_is_ever_on_both_sides_of_a_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Instrument the model: column 0 of the features is the group ID, so what each fold's model
    trains on and predicts can be traced back to groups."""
    x, labels, _, groups = _planted(0.1, seed=6, n=2000)
    x = np.column_stack([groups.astype(float), x])
    seen: list[tuple[set[float], set[float]]] = []
    real = label_noise.make_pipeline

    class Spy:
        def __init__(self, *steps: Any) -> None:
            self.model, self.train = real(*steps), set()

        def fit(self, xs: np.ndarray, ys: np.ndarray) -> Spy:
            self.train = set(xs[:, 0].tolist())
            self.model.fit(xs, ys)
            return self

        def predict_proba(self, xs: np.ndarray) -> np.ndarray:
            seen.append((self.train, set(xs[:, 0].tolist())))
            return np.asarray(self.model.predict_proba(xs))

    monkeypatch.setattr(label_noise, "make_pipeline", Spy)
    out_of_fold_probs(x, labels, groups, n_splits=5, seed=0)
    assert len(seen) == 5
    for train, val in seen:
        assert val and train and not train & val
    assert set().union(*(v for _, v in seen)) == set(groups.astype(float).tolist())


def test_group_folds_keep_groups_whole_and_stratify_by_class() -> None:
    rng = np.random.default_rng(8)
    group_class = rng.choice(3, 400, p=[0.6, 0.3, 0.1])
    groups = rng.integers(0, 400, 20_000)
    labels = group_class[groups]
    folds = fold_ids(labels, groups, n_splits=5, seed=2)
    per_group = np.unique(np.column_stack([groups, folds]), axis=0)
    assert len(per_group) == len(np.unique(groups))  # one fold per group
    table = np.array([np.bincount(labels[folds == f], minlength=3) for f in range(5)])
    share = table / table.sum(axis=0)
    np.testing.assert_allclose(share, 0.2, atol=0.05)
    assert np.ptp(table.sum(axis=1)) < 0.05 * len(labels)


def test_fewer_splits_when_a_class_is_rarer_than_n_splits() -> None:
    labels = np.array([0] * 50 + [1] * 50 + [2] * 3)
    folds = fold_ids(labels, n_splits=5)
    assert folds.max() == 2
    assert all(set(labels[folds == f]) == {0, 1, 2} for f in range(3))
    groups = np.arange(len(labels)) // 2
    groups[-3:] = [100, 100, 101]  # class 2 lives in two groups
    assert fold_ids(labels, groups, n_splits=5).max() == 1


# ---------------------------------------------------------------- clear errors


@pytest.mark.parametrize(("features", "labels", "groups", "message"), [
    (np.ones((6, 2)), np.zeros(6, int), None, "at least two classes"),
    (np.ones((6, 2)), np.array([0, 0, 0, 0, 0, 1]), None, r"class\(es\) \[1\] occur in only one row"),
    (np.ones((5, 2)), np.array([0, 0, 0, 1, 1, 1]), None, "one row per label"),
    (np.ones((6, 0)), np.array([0, 0, 0, 1, 1, 1]), None, "no columns"),
    (np.ones((6, 2)), np.array([0, 0, 0, 1, 1, 1]), np.zeros(5), "groups must have one value per label"),
    (np.ones((6, 2)), np.array([0, 0, 0, 1, 1, 1]), np.array([0, 0, 1, 2, 2, 2]), r"\[1\] occur in only one group"),
    (np.ones((6, 2)), np.array([0.5, 0, 0, 1, 1, 1]), None, "integer class codes"),
    (np.ones((6, 2)), np.array([-1, 0, 0, 1, 1, 1]), None, ">= 0"),
    (np.array([[np.nan, 1]] + [[1, 1]] * 5), np.array([0, 0, 0, 1, 1, 1]), None, "NaN or infinity"),
])
def test_out_of_fold_probs_says_why_it_cannot_run(features: np.ndarray, labels: np.ndarray,
                                                  groups: np.ndarray | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        out_of_fold_probs(features, labels, groups)


def test_confident_learning_rejects_malformed_probabilities() -> None:
    labels = np.array([0, 1, 1, 0])
    with pytest.raises(ValueError, match="one row per label"):
        find_label_issues(labels, np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="no column"):
        find_label_issues(np.array([0, 2, 1, 0]), np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="between 0 and 1"):
        find_label_issues(labels, np.full((4, 2), 1.5))
    with pytest.raises(ValueError, match="at least two classes"):
        confident_joint(np.zeros(4, int), np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="prune_by_noise_rate"):
        find_label_issues(labels, np.full((4, 2), 0.5), filter_by="both")  # type: ignore[arg-type]


# ---------------------------------------------------------------- fractions and verdicts


def test_suspect_fraction_per_slice_has_n_and_the_wilson_interval() -> None:
    rng = np.random.default_rng(9)
    slices = rng.choice(np.array(["day", "night", "rain"]), 5000, p=[0.7, 0.25, 0.05])
    mask = rng.random(5000) < np.where(slices == "night", 0.3, 0.05)
    est = suspect_fraction(mask, slices)
    assert set(est["slices"]) == {"day", "night", "rain"}
    for name, rate in [("overall", est["overall"])] + list(est["slices"].items()):
        where = np.ones(5000, bool) if name == "overall" else slices == name
        assert (rate.n, rate.suspects) == (int(where.sum()), int(mask[where].sum()))
        assert rate.fraction == pytest.approx(mask[where].mean())
        low, high = proportion_confint(rate.suspects, rate.n, alpha=0.05, method="wilson")
        assert (rate.low, rate.high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    assert est["slices"]["night"].low > est["slices"]["day"].high


def test_suspect_fraction_of_nothing_is_undetermined() -> None:
    rate = suspect_fraction(np.zeros(0, bool))["overall"]
    assert rate.n == 0 and np.isnan(rate.fraction) and (rate.low, rate.high) == (0.0, 1.0)
    assert verdict(rate) == ("ok", True)
    ints = suspect_fraction(np.array([True, False, False]), np.array([3, 3, 7]))["slices"]
    assert ints["3"].suspects == 1 and ints["7"].n == 1


@pytest.mark.parametrize(("suspects", "n", "expected"), [
    (500, 10_000, ("ok", False)),
    (1500, 10_000, ("warn", False)),
    (3000, 10_000, ("fail", False)),
    (1000, 10_000, ("warn", True)),   # exactly at the warn threshold: the interval straddles it
    (2, 20, ("warn", True)),          # 10 % of 20 rows: [2.8 %, 30 %] straddles both thresholds
    (0, 50, ("ok", False)),           # 0 of 50: Wilson high 7.1 %, below the warn threshold
    (7, 50, ("warn", True)),          # 14 % of 50: [7 %, 26 %] straddles both
])
def test_verdict_compares_the_point_estimate_and_flags_straddling_intervals(
        suspects: int, n: int, expected: tuple[str, bool]) -> None:
    assert verdict(suspect_fraction(np.arange(n) < suspects)["overall"]) == expected


def test_verdict_thresholds_are_configurable_and_checked() -> None:
    rate = SuspectRate(n=10_000, suspects=1500, fraction=0.15, low=0.143, high=0.157)
    assert verdict(rate, warn=0.05, fail=0.12).level == "fail"
    assert verdict(rate, warn=0.2, fail=0.3).level == "ok"
    with pytest.raises(ValueError, match="warn <= fail"):
        verdict(rate, warn=0.3, fail=0.2)

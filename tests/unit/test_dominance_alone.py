"""The dominance check's test of a modality alone: its AUC equals scikit-learn's on the logistic
head's out-of-fold probabilities, and its permutation p-value tells a signal from noise."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler

from syncline.audit import dominance as d


def _ovr_macro(y: np.ndarray, scores: np.ndarray) -> float:
    """scikit-learn's AUC of each class against the rest, averaged (one class for two)."""
    if scores.shape[1] == 2:
        return float(roc_auc_score(y == 1, scores[:, 1]))
    return float(np.mean([roc_auc_score(y == c, scores[:, c]) for c in range(scores.shape[1])]))


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("seed", range(4))
def test_macro_auc_equals_scikit_learn_for_every_labelling(k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 40
    labels = np.vstack([rng.permutation(np.arange(n) % k) for _ in range(6)])
    scores = rng.normal(size=(6, n, k)).round(1)  # rounded: ties, which count half
    got = d._macro_auc(scores, labels, np.arange(k))
    for row in range(6):
        assert got[row] == pytest.approx(_ovr_macro(labels[row], scores[row]), abs=1e-12)


def test_the_real_auc_is_that_of_the_logistic_heads_out_of_fold_probabilities() -> None:
    rng = np.random.default_rng(3)
    n, dims, k = 36, 12, 3
    y = rng.integers(0, k, n)
    x = rng.normal(size=(n, dims)) + y[:, None] * 0.4
    groups = np.arange(n) % 6
    proba = np.zeros((n, k))
    for train, test in GroupKFold(n_splits=5).split(x, y, groups):
        scaler = StandardScaler().fit(x[train])
        proba[test] = LogisticRegression(max_iter=500).fit(scaler.transform(x[train]), y[train]).predict_proba(
            scaler.transform(x[test]))
    got = d._alone_p({"audio": x}, y, groups, tested=set())["audio"]
    assert got["auc"] == pytest.approx(_ovr_macro(y, proba), abs=5e-4)  # rounded to 3 places
    assert got["p"] is None  # not asked for: no shuffles fitted


def test_a_class_missing_from_a_training_fold_keeps_its_column() -> None:
    """A class with one segment is absent from the fold that tests it: the head's probabilities
    go into the columns of the classes it knows (not the first ones), the absent class scores 0
    there, and a fold that saw one class only predicts that class — as scikit-learn's AUC on the
    same out-of-fold probabilities says."""
    rng = np.random.default_rng(8)
    n = 30
    y = np.r_[np.zeros(14, int), np.ones(15, int), [2]]  # class 2: one segment
    x = rng.normal(size=(n, 6)) + y[:, None] * 0.8
    groups = np.arange(n) % 5
    proba = np.zeros((n, 3))
    for train, test in GroupKFold(n_splits=5).split(x, y, groups):
        scaler = StandardScaler().fit(x[train])
        head = LogisticRegression(max_iter=500).fit(scaler.transform(x[train]), y[train])
        proba[np.ix_(test, head.classes_)] = head.predict_proba(scaler.transform(x[test]))
    assert not proba[y == 2, 2].any()  # its fold never saw class 2
    got = d._alone_p({"audio": x}, y, groups, tested=set())["audio"]["auc"]
    assert got == pytest.approx(_ovr_macro(y, proba), abs=5e-4)


def test_a_fold_that_saw_one_class_predicts_it_whatever_the_class_codes() -> None:
    """Labels 5 and 7, with every 7 in one entity: the fold that tests that entity trained on 5s
    only and predicts 5 for all its rows (column 0, not column 5)."""
    rng = np.random.default_rng(2)
    y = np.r_[np.full(20, 5), np.full(4, 7)]
    groups = np.r_[np.arange(20) % 5, np.zeros(4, int)]
    x = rng.normal(size=(24, 5)) + (y[:, None] == 7) * 1.0
    proba = np.zeros((24, 2))
    for train, test in GroupKFold(n_splits=5).split(x, y, groups):
        if len(set(y[train])) == 1:
            proba[test, 0] = 1.0
            continue
        scaler = StandardScaler().fit(x[train])
        proba[test] = LogisticRegression(max_iter=500).fit(scaler.transform(x[train]), y[train]).predict_proba(
            scaler.transform(x[test]))
    got = d._alone_p({"audio": x}, y, groups, tested={"audio"}, permutations=3)["audio"]
    assert got["auc"] == pytest.approx(roc_auc_score(y == 7, proba[:, 1]), abs=5e-4)


def test_a_modality_with_the_signal_gets_a_small_p_and_noise_does_not() -> None:
    rng = np.random.default_rng(11)
    n = 32
    y = np.repeat([0, 1], n // 2)
    rng.shuffle(y)
    groups = np.arange(n) % 4
    signal = rng.normal(size=(n, 40))
    signal[:, :3] += 0.9 * y[:, None]  # a call raises three mel bands
    noise = rng.normal(size=(n, 60))
    got = d._alone_p({"audio": signal, "video": noise}, y, groups, tested={"audio", "video"})
    assert got["audio"]["p"] <= 0.02 and got["audio"]["auc"] > 0.75
    assert got["video"]["p"] > 0.05


def test_under_no_signal_the_p_value_is_not_too_small_too_often() -> None:
    """A valid permutation test: on labels unrelated to the features, p ≤ 0.1 in one draw of ten
    (9 shuffles: exactly 1/10 under the null). 60 draws: more than 12 (P ≈ 0.7 %) would be a leak."""
    rng = np.random.default_rng(5)
    small = 0
    for _ in range(60):
        y = rng.integers(0, 2, 24)
        x = rng.normal(size=(24, 4))
        p = d._alone_p({"audio": x}, y, np.arange(24) % 4, {"audio"}, seed=int(rng.integers(1 << 30)),
                       permutations=9)["audio"]["p"]
        assert p is not None
        small += p <= 0.1
    assert small <= 12, small

"""Consensus against planted truth: majority vote and Dawid–Skene recover the classes and the
annotators' planted confusion matrices."""

from __future__ import annotations

import numpy as np
import pytest

from syncline.annotate.consensus import dawid_skene, majority


def _crowd(seed: int, n_items: int = 3000, k: int = 3, missing: float = 0.3):
    rng = np.random.default_rng(seed)
    priors = np.array([0.6, 0.3, 0.1])[:k] / np.array([0.6, 0.3, 0.1])[:k].sum()
    truth = rng.choice(k, n_items, p=priors)
    good = np.full((k, k), 0.05 / (k - 1)) + np.eye(k) * (0.95 - 0.05 / (k - 1))
    ok = np.full((k, k), 0.25 / (k - 1)) + np.eye(k) * (0.75 - 0.25 / (k - 1))
    confuser = ok.copy()
    confuser[1] = [0.7, 0.3, 0.0] if k == 3 else confuser[1]  # says 0 for most true 1s ("lying" vs "down")
    mats = [good, ok, ok, confuser, confuser]
    items, annots, labels = [], [], []
    for j, m in enumerate(mats):
        keep = rng.random(n_items) >= missing
        given = np.array([rng.choice(k, p=m[t]) for t in truth[keep]])
        items.append(np.flatnonzero(keep))
        annots.append(np.full(keep.sum(), j))
        labels.append(given)
    return truth, priors, np.stack(mats), np.concatenate(items), np.concatenate(annots), np.concatenate(labels)


def test_majority_vote_with_ties_and_unlabelled_items() -> None:
    c = majority([0, 0, 0, 1, 1, 3], [0, 1, 2, 0, 1, 0], [2, 2, 1, 0, 1, 1], n_items=5, n_classes=3)
    assert c.gold.tolist() == [2, -1, -1, 1, -1]
    assert c.confidence[0] == pytest.approx(2 / 3) and c.confidence[1] == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_dawid_skene_recovers_the_planted_confusions_and_beats_majority(seed: int) -> None:
    truth, priors, mats, i, j, lab = _crowd(seed)
    ds = dawid_skene(i, j, lab, n_items=len(truth), n_annotators=5, n_classes=3)
    mv = majority(i, j, lab, n_items=len(truth), n_classes=3)
    labelled = np.bincount(i, minlength=len(truth)) > 0
    acc_ds = float((ds.gold[labelled] == truth[labelled]).mean())
    acc_mv = float((mv.gold[labelled] == truth[labelled]).mean())
    assert acc_ds > acc_mv + 0.02 and acc_ds > 0.9, (acc_ds, acc_mv)
    assert ds.confusion is not None and ds.priors is not None
    assert np.abs(ds.confusion - mats).max() < 0.08
    assert np.abs(ds.priors - priors).max() < 0.03
    # the confidence means something: the items it is surest of are right more often
    sure = ds.confidence[labelled] > 0.95
    assert (ds.gold[labelled][sure] == truth[labelled][sure]).mean() > acc_ds


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="one entry per label"):
        dawid_skene([0, 1], [0], [1, 1])
    with pytest.raises(ValueError, match=">= 0"):
        majority([0], [0], [-1])

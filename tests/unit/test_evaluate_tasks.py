"""Task-type metrics against reference implementations on randomized inputs: COCO mAP against
pycocotools, multi-label against scikit-learn, event matching against an optimal assignment
(scipy), WER against a textbook dynamic program."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import f1_score, precision_recall_fscore_support

from syncline.evaluate.tasks import coco_map, event_f1, match_events, multilabel, recall_at_k, wer, word_errors


def _coco_world(seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    gts, dets = [], []
    n_img, n_cat = int(rng.integers(3, 12)), int(rng.integers(1, 4))
    for img in range(n_img):
        for _ in range(int(rng.integers(0, 6))):
            cat = int(rng.integers(1, n_cat + 1))
            x, y, w, h = rng.uniform(0, 200), rng.uniform(0, 200), rng.uniform(5, 80), rng.uniform(5, 80)
            gts.append({"image_id": img, "category_id": cat, "bbox": [x, y, w, h]})
            if rng.random() < 0.8:  # found, with jitter
                j = rng.normal(0, rng.choice([2.0, 8.0, 20.0]), 4)
                dets.append({"image_id": img, "category_id": cat, "bbox": [x + j[0], y + j[1], max(1.0, w + j[2]),
                                                                           max(1.0, h + j[3])],
                             "score": float(rng.random())})
        for _ in range(int(rng.integers(0, 4))):  # false alarms, some on images without ground truth
            dets.append({"image_id": img, "category_id": int(rng.integers(1, n_cat + 1)),
                         "bbox": [rng.uniform(0, 200), rng.uniform(0, 200), rng.uniform(5, 60), rng.uniform(5, 60)],
                         "score": float(rng.random())})
    gts.append({"image_id": 0, "category_id": 1, "bbox": [5.0, 5.0, 30.0, 30.0]})  # never an empty draw
    dets.append({"image_id": 0, "category_id": 1, "bbox": [6.0, 5.0, 30.0, 28.0], "score": 0.5})
    return gts, dets, n_img, n_cat


def _pycocotools_map(gts, dets, n_img, n_cat) -> float:  # type: ignore[no-untyped-def]
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO()
    gt.dataset = {"images": [{"id": i} for i in range(n_img)],
                  "categories": [{"id": c} for c in range(1, n_cat + 1)],
                  "annotations": [dict(g, id=k + 1, area=g["bbox"][2] * g["bbox"][3], iscrowd=0)
                                  for k, g in enumerate(gts)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes([dict(d) for d in dets]) if dets else COCO()
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


@pytest.mark.parametrize("seed", range(12))
def test_coco_map_equals_pycocotools(seed: int) -> None:
    gts, dets, n_img, n_cat = _coco_world(seed)
    want = _pycocotools_map(gts, dets, n_img, n_cat)
    got = coco_map(gts, dets)["map"]
    assert got == pytest.approx(want, abs=1e-9)


def test_coco_map_perfect_and_empty() -> None:
    gts = [{"image_id": 0, "category_id": 1, "bbox": [10, 10, 20, 20]}]
    perfect = [dict(gts[0], score=0.9)]
    assert coco_map(gts, perfect)["map"] == pytest.approx(1.0)
    assert coco_map(gts, [])["map"] == 0.0
    assert coco_map([], perfect)["map"] is None  # no ground truth: no AP, not a zero


@pytest.mark.parametrize("seed", range(10))
def test_multilabel_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(20, 400)), int(rng.integers(2, 6))
    truth = rng.random((n, k)) < rng.uniform(0.1, 0.6, k)
    pred = np.where(rng.random((n, k)) < 0.8, truth, ~truth)
    got = {(m.metric, m.label): m for m in multilabel("all", [f"l{i}" for i in range(k)], truth, pred, draws=200)}
    p, r, f, _ = precision_recall_fscore_support(truth, pred, average=None, zero_division=0)
    for i in range(k):
        if (truth[:, i] | pred[:, i]).any():
            assert got[("f1", f"l{i}")].value == pytest.approx(f[i], abs=1e-6)
        if pred[:, i].any():
            assert got[("precision", f"l{i}")].value == pytest.approx(p[i], abs=1e-6)
        if truth[:, i].any():
            assert got[("recall", f"l{i}")].value == pytest.approx(r[i], abs=1e-6)
    assert got[("micro_f1", None)].value == pytest.approx(f1_score(truth, pred, average="micro"), abs=1e-6)
    assert got[("macro_f1", None)].value == pytest.approx(f1_score(truth, pred, average="macro", zero_division=0),
                                                          abs=1e-6)
    micro = got[("micro_f1", None)]
    assert micro.lo <= micro.value <= micro.hi


@pytest.mark.parametrize("seed", range(30))
def test_event_matching_is_a_maximum_matching(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.sort(rng.uniform(0, 60, int(rng.integers(0, 15))))
    keep = rng.random(len(a)) < 0.7
    found = a[keep] + rng.normal(0, 0.4, int(keep.sum()))
    b = np.sort(np.concatenate([found, rng.uniform(0, 60, int(rng.integers(0, 5)))]))
    tol = 0.5
    if len(a) and len(b):
        reach = np.abs(a[:, None] - b[None, :]) <= tol
        rows, cols = linear_sum_assignment(-reach.astype(float))
        best = int(reach[rows, cols].sum())
    else:
        best = 0
    assert match_events(a, b, tol) == best


def test_event_f1_counts_and_interval() -> None:
    true = [np.array([1.0, 5.0, 9.0]), np.array([2.0])]
    pred = [np.array([1.2, 5.9, 20.0]), np.array([])]
    got = {m.metric: m for m in event_f1("all", true, pred, tol=0.5, draws=200)}
    assert (got["event_precision"].k, got["event_precision"].n) == (1, 3)  # 1.2 matches 1.0; 5.9 is too late
    assert (got["event_recall"].k, got["event_recall"].n) == (1, 4)
    assert got["event_f1"].value == pytest.approx(2 * 1 / (2 * 1 + 2 + 3))


def _textbook(ref: list[str], hyp: list[str]) -> int:
    d = [[0] * (len(hyp) + 1) for _ in range(len(ref) + 1)]
    for i in range(len(ref) + 1):
        d[i][0] = i
    for j in range(len(hyp) + 1):
        d[0][j] = j
    for i in range(1, len(ref) + 1):
        for j in range(1, len(hyp) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]))
    return d[-1][-1]


def test_word_errors_equal_the_textbook_dynamic_program() -> None:
    rng = np.random.default_rng(0)
    vocab = ["cow", "calf", "barn", "hay", "gate", "vet", "now"]
    for _ in range(200):
        ref = list(rng.choice(vocab, int(rng.integers(0, 12))))
        hyp = list(rng.choice(vocab, int(rng.integers(0, 12))))
        assert word_errors(ref, hyp) == _textbook(ref, hyp)
    assert word_errors("the cow is down".split(), "the cow down now".split()) == 2


def test_corpus_wer_is_errors_over_words_with_an_interval() -> None:
    refs = [s.split() for s in ("the cow is down", "call the vet", "gate open", "all calm")]
    hyps = [s.split() for s in ("the cow down", "call a vet now", "gate open", "all calm")]
    m = wer("all", refs, hyps, draws=500)
    assert m.value == pytest.approx((1 + 2 + 0 + 0) / (4 + 3 + 2 + 2)) and m.n == 4
    assert m.lo <= m.value <= m.hi


def test_recall_at_k() -> None:
    ranked = [["a", "b", "c"], ["d", "e", "f"], ["g", "h", "i"], ["j"]]
    relevant = [{"b"}, {"f"}, {"x"}, set()]
    m = recall_at_k("all", ranked, relevant, 2)
    assert (m.k, m.n, m.metric) == (1, 3, "recall@2")  # the query with nothing relevant is left out

"""Metrics of the task types beyond single-label classification, each with its sample size and a
95 % interval: multi-label classification, detection (COCO mAP), temporal events (event F1 with
a time tolerance), speech recognition (WER) and retrieval (recall@k).

Where a metric is a ratio of sums over items (micro F1, event F1, WER), its interval is a BCa
bootstrap over the *distinct per-item contributions and their counts* — items that add the same
(errors, words) to WER are one cell of a multinomial — so resampling costs what the number of
distinct contributions costs, not the number of items. Proportions (per-label precision and
recall, recall@k) get Wilson intervals. COCO mAP is not a function of counts (it ranks detections
across images); its interval resamples images (``draws`` replicates, seeded).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from syncline.evaluate.intervals import bootstrap_counts, wilson
from syncline.evaluate.metrics import Metric, _num

F64 = NDArray[np.float64]


def _ratio_of_sums(name: str, metric: str, contrib: NDArray[np.float64], num: Any, den: Any, n_items: int,
                   draws: int, seed: int) -> Metric:
    """A ratio of per-item sums with a BCa interval over the distinct contributions."""
    if len(contrib) == 0:
        return Metric(name, metric, None, None, None, None, 0, None, "none")
    cells, counts = np.unique(contrib, axis=0, return_counts=True)

    def stat(c: F64) -> F64:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(num(c @ cells) / den(c @ cells))

    point = float(stat(counts.astype(np.float64)[None, :])[0])
    lo, hi = bootstrap_counts(counts[None, :], stat, draws=draws, seed=seed)
    return Metric(name, metric, None, _num(point), _num(lo[0]), _num(hi[0]), n_items, None, "bootstrap")


# -- multi-label --------------------------------------------------------------------------------

def multilabel(name: str, labels: list[str], truth: NDArray[np.bool_], pred: NDArray[np.bool_], *,
               draws: int = 1000, seed: int = 0) -> list[Metric]:
    """Per label: precision, recall, F1 (Wilson / BCa); micro F1 and macro F1 over the labels."""
    t, p = np.asarray(truth, bool), np.asarray(pred, bool)
    tp, fp, fn = (t & p).sum(0), (~t & p).sum(0), (t & ~p).sum(0)
    out: list[Metric] = []
    for j, lab in enumerate(labels):
        for metric, k, n in (("precision", tp[j], tp[j] + fp[j]), ("recall", tp[j], tp[j] + fn[j])):
            lo, hi = wilson(k, n)
            out.append(Metric(name, metric, lab, _num(k / n) if n else None, _num(lo), _num(hi), int(n), int(k),
                              "wilson"))
        row = np.stack([t[:, j] & p[:, j], ~t[:, j] & p[:, j], t[:, j] & ~p[:, j]], axis=1).astype(np.float64)
        f1 = _ratio_of_sums(name, "f1", row, lambda s: 2 * s[..., 0], lambda s: 2 * s[..., 0] + s[..., 1] + s[..., 2],
                            len(t), draws, seed + j)
        out.append(Metric(name, "f1", lab, f1.value, f1.lo, f1.hi, f1.n, None, f1.method))
    per_item = np.stack([(t & p).sum(1), (~t & p).sum(1), (t & ~p).sum(1)], axis=1).astype(np.float64)
    micro = _ratio_of_sums(name, "micro_f1", per_item, lambda s: 2 * s[..., 0],
                           lambda s: 2 * s[..., 0] + s[..., 1] + s[..., 2], len(t), draws, seed + 1000)
    out.append(micro)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1s = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    out.append(Metric(name, "macro_f1", None, _num(float(f1s.mean())) if len(f1s) else None, None, None, len(t), None,
                      "none"))
    return out


# -- temporal events ----------------------------------------------------------------------------

def match_events(true_t: NDArray[np.float64], pred_t: NDArray[np.float64], tol: float) -> int:
    """One-to-one matches within ``tol`` (same units), greedily by closeness: the most matches a
    sorted sweep can make (both lists sorted; a prediction takes the earliest unmatched truth
    within reach, which is optimal for intervals of equal width)."""
    a, b = np.sort(np.asarray(true_t, np.float64)), np.sort(np.asarray(pred_t, np.float64))
    i = j = hits = 0
    while i < len(a) and j < len(b):
        if abs(a[i] - b[j]) <= tol:
            hits, i, j = hits + 1, i + 1, j + 1
        elif a[i] < b[j]:
            i += 1
        else:
            j += 1
    return hits


def event_f1(name: str, true_events: list[NDArray[np.float64]], pred_events: list[NDArray[np.float64]],
             tol: float, *, draws: int = 1000, seed: int = 0) -> list[Metric]:
    """Event precision, recall (Wilson, over events) and F1 (BCa over targets' TP/FP/FN) with a
    time tolerance; one list of event times per target."""
    rows = []
    for t, p in zip(true_events, pred_events, strict=True):
        hit = match_events(t, p, tol)
        rows.append((hit, len(p) - hit, len(t) - hit))
    c = np.asarray(rows, np.float64).reshape(-1, 3)
    tp, fp, fn = c.sum(0)
    out = []
    for metric, k, n in (("event_precision", tp, tp + fp), ("event_recall", tp, tp + fn)):
        lo, hi = wilson(k, n)
        out.append(Metric(name, metric, None, _num(k / n) if n else None, _num(lo), _num(hi), int(n), int(k), "wilson"))
    out.append(_ratio_of_sums(name, "event_f1", c, lambda s: 2 * s[..., 0],
                              lambda s: 2 * s[..., 0] + s[..., 1] + s[..., 2], len(c), draws, seed))
    return out


# -- speech recognition -------------------------------------------------------------------------

def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Substitutions + deletions + insertions turning ``ref`` into ``hyp`` (Levenshtein over
    words; one NumPy row per reference word)."""
    prev = np.arange(len(hyp) + 1)
    h = np.asarray(hyp, object)
    for i, w in enumerate(ref, start=1):
        cur = np.empty_like(prev)
        cur[0] = i
        sub = prev[:-1] + (h != w)
        best = np.minimum(sub, prev[1:] + 1)  # substitution or match, deletion
        for j in range(1, len(hyp) + 1):  # insertion depends on the cell to the left
            cur[j] = min(best[j - 1], cur[j - 1] + 1)
        prev = cur
    return int(prev[-1])


def wer(name: str, refs: list[list[str]], hyps: list[list[str]], *, draws: int = 1000, seed: int = 0) -> Metric:
    """Corpus WER: total word errors over total reference words, BCa over utterances."""
    c = np.asarray([(word_errors(r, h), len(r)) for r, h in zip(refs, hyps, strict=True)], np.float64).reshape(-1, 2)
    return _ratio_of_sums(name, "wer", c, lambda s: s[..., 0], lambda s: s[..., 1], len(c), draws, seed)


# -- retrieval ----------------------------------------------------------------------------------

def recall_at_k(name: str, ranked: list[list[str]], relevant: list[set[str]], k: int) -> Metric:
    """Share of queries with a relevant item in the top ``k`` (Wilson); queries without any
    relevant item are left out (nothing to find)."""
    hits = [bool(set(r[:k]) & rel) for r, rel in zip(ranked, relevant, strict=True) if rel]
    n, h = len(hits), int(sum(hits))
    lo, hi = wilson(h, n)
    return Metric(name, f"recall@{k}", None, _num(h / n) if n else None, _num(lo), _num(hi), n, h, "wilson")


# -- detection ----------------------------------------------------------------------------------

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def _iou(d: F64, g: F64) -> F64:
    """IoU of xywh boxes, detections x ground truths."""
    dx2, dy2, gx2, gy2 = d[:, 0] + d[:, 2], d[:, 1] + d[:, 3], g[:, 0] + g[:, 2], g[:, 1] + g[:, 3]
    iw = np.clip(np.minimum(dx2[:, None], gx2[None]) - np.maximum(d[:, None, 0], g[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(dy2[:, None], gy2[None]) - np.maximum(d[:, None, 1], g[None, :, 1]), 0, None)
    inter = iw * ih
    union = (d[:, 2] * d[:, 3])[:, None] + (g[:, 2] * g[:, 3])[None] - inter
    return np.asarray(np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0))


def _category_ap(per_image: list[tuple[F64, F64, F64]], max_dets: int) -> F64 | None:
    """Precision at the 101 recall points per IoU threshold (T x R), as COCOeval accumulates it;
    None when the category has no ground truth."""
    n_gt = sum(len(g) for g, _, _ in per_image)
    if n_gt == 0:
        return None
    scores, matched = [], []
    for g, d, s in per_image:
        order = np.argsort(-s, kind="mergesort")[:max_dets]
        d, s = d[order], s[order]
        m = np.zeros((len(IOU_THRESHOLDS), len(d)), bool)
        if len(d) and len(g):
            ious = _iou(d, g)
            for ti, t in enumerate(IOU_THRESHOLDS):
                taken = np.zeros(len(g), bool)
                for di in range(len(d)):
                    best, which = min(t, 1 - 1e-10), -1
                    for gi in range(len(g)):
                        if taken[gi] or ious[di, gi] < best:
                            continue
                        best, which = ious[di, gi], gi
                    if which >= 0:
                        taken[which], m[ti, di] = True, True
        scores.append(s)
        matched.append(m)
    s = np.concatenate(scores) if scores else np.zeros(0)
    m = np.concatenate(matched, axis=1) if matched else np.zeros((len(IOU_THRESHOLDS), 0), bool)
    order = np.argsort(-s, kind="mergesort")
    m = m[:, order]
    out = np.zeros((len(IOU_THRESHOLDS), len(RECALL_POINTS)))
    for ti in range(len(IOU_THRESHOLDS)):
        tp = np.cumsum(m[ti]).astype(np.float64)
        fp = np.cumsum(~m[ti]).astype(np.float64)
        rc = tp / n_gt
        pr = tp / (fp + tp + np.spacing(1))
        pr = np.maximum.accumulate(pr[::-1])[::-1] if len(pr) else pr  # the precision envelope
        idx = np.searchsorted(rc, RECALL_POINTS, side="left")
        ok = idx < len(pr)
        out[ti, ok] = pr[idx[ok]]
    return out


def coco_map(gts: list[dict[str, Any]], dets: list[dict[str, Any]], *, max_dets: int = 100) -> dict[str, Any]:
    """COCO AP@[.5:.95] (area all, ``max_dets`` per image), equal to pycocotools' ``stats[0]``,
    and AP per category. ``gts``: ``image_id, category_id, bbox`` (xywh); ``dets`` add ``score``."""
    images = sorted({g["image_id"] for g in gts} | {d["image_id"] for d in dets})
    cats = sorted({g["category_id"] for g in gts} | {d["category_id"] for d in dets})
    by: dict[tuple[Any, Any], tuple[list[Any], list[Any], list[float]]] = {}
    for g in gts:
        by.setdefault((g["image_id"], g["category_id"]), ([], [], []))[0].append(g["bbox"])
    for d in dets:
        e = by.setdefault((d["image_id"], d["category_id"]), ([], [], []))
        e[1].append(d["bbox"])
        e[2].append(float(d["score"]))
    per_cat: dict[Any, float | None] = {}
    stack = []
    for c in cats:
        per_image = [(np.asarray(by[(i, c)][0], np.float64).reshape(-1, 4), np.asarray(by[(i, c)][1], np.float64)
                      .reshape(-1, 4), np.asarray(by[(i, c)][2], np.float64)) for i in images if (i, c) in by]
        pr = _category_ap(per_image, max_dets)
        per_cat[c] = None if pr is None else round(float(pr.mean()), 6)
        if pr is not None:
            stack.append(pr)
    value = float(np.mean(stack)) if stack else None
    return {"map": value, "per_category": per_cat, "images": len(images)}


def detection_map(name: str, gts: list[dict[str, Any]], dets: list[dict[str, Any]], *, draws: int = 200,
                  seed: int = 0) -> Metric:
    """COCO mAP of a slice's images with an interval from resampling images (mAP ranks
    detections across images: it is no function of per-slice counts)."""
    point = coco_map(gts, dets)
    images = sorted({g["image_id"] for g in gts} | {d["image_id"] for d in dets})
    if point["map"] is None:
        return Metric(name, "map", None, None, None, None, len(images), None, "none")
    g_by: dict[Any, list[dict[str, Any]]] = {}
    d_by: dict[Any, list[dict[str, Any]]] = {}
    for g in gts:
        g_by.setdefault(g["image_id"], []).append(g)
    for d in dets:
        d_by.setdefault(d["image_id"], []).append(d)
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(draws):
        pick = rng.integers(0, len(images), len(images))
        gg = [dict(g, image_id=n) for n, i in enumerate(pick) for g in g_by.get(images[i], [])]
        dd = [dict(d, image_id=n) for n, i in enumerate(pick) for d in d_by.get(images[i], [])]
        v = coco_map(gg, dd)["map"]
        if v is not None:
            reps.append(v)
    lo, hi = np.quantile(reps, [0.025, 0.975]) if reps else (np.nan, np.nan)
    return Metric(name, "map", None, _num(point["map"]), _num(lo), _num(hi), len(images), None, "image-bootstrap")

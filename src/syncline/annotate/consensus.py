"""A gold value per item from several annotators, with a confidence: majority vote and
Dawid–Skene.

Majority vote counts every annotator alike. Dawid–Skene (1979) learns, by expectation-
maximisation, a confusion matrix per annotator (how often they say ``l`` when the truth is
``k``) and the class priors, and weighs each label by how reliable its annotator is on that
class — so a crowd annotator who systematically calls "lying" "down and struggling" at night
stops dragging the gold value, and their confusion is there to read.

Input is three aligned integer arrays (item, annotator, class) — one entry per label, any
number of labels per item, missing labels simply absent — so 1M labels stay NumPy arrays:
every step is a ``bincount`` over the labels, never a Python loop over items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Consensus:
    gold: I64  # per item, the class index (-1: no label, or a tie for majority)
    confidence: F64  # per item, the posterior (Dawid–Skene) or vote share (majority) of the gold class
    posterior: F64  # items x classes
    confusion: F64 | None = None  # annotators x true class x given class (Dawid–Skene)
    priors: F64 | None = None
    iterations: int = 0


def _arrays(items: ArrayLike, annotators: ArrayLike, labels: ArrayLike) -> tuple[I64, I64, I64]:
    i, j, lab = (np.asarray(x, np.int64).ravel() for x in (items, annotators, labels))
    if not (len(i) == len(j) == len(lab)):
        raise ValueError("items, annotators and labels must have one entry per label")
    if len(i) and (i.min() < 0 or j.min() < 0 or lab.min() < 0):
        raise ValueError("item, annotator and class indexes must be >= 0")
    return i, j, lab


def majority(items: ArrayLike, annotators: ArrayLike, labels: ArrayLike, *, n_items: int | None = None,
             n_classes: int | None = None) -> Consensus:
    """The most frequent label per item; a tie gives no gold value (-1)."""
    i, _, lab = _arrays(items, annotators, labels)
    n_i = n_items if n_items is not None else int(i.max()) + 1 if len(i) else 0
    k = n_classes if n_classes is not None else int(lab.max()) + 1 if len(lab) else 0
    votes = np.bincount(i * k + lab, minlength=n_i * k).reshape(n_i, k).astype(np.float64)
    total = votes.sum(axis=1)
    top = votes.max(axis=1)
    tie = (votes == top[:, None]).sum(axis=1) > 1
    gold = np.where((total > 0) & ~tie, votes.argmax(axis=1), -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, top / total, 0.0)
        post = np.where(total[:, None] > 0, votes / total[:, None], 0.0)
    return Consensus(gold.astype(np.int64), np.where(gold >= 0, share, 0.0), post)


def dawid_skene(items: ArrayLike, annotators: ArrayLike, labels: ArrayLike, *, n_items: int | None = None,
                n_annotators: int | None = None, n_classes: int | None = None, max_iter: int = 100,
                tol: float = 1e-6, smoothing: float = 0.01) -> Consensus:
    """Dawid–Skene by EM, started from the (soft) majority vote; ``smoothing`` is a pseudo-count
    added to every confusion cell and prior so that an annotator who never used a class is not
    certain never to use it."""
    i, j, lab = _arrays(items, annotators, labels)
    n_i = n_items if n_items is not None else int(i.max()) + 1 if len(i) else 0
    n_j = n_annotators if n_annotators is not None else int(j.max()) + 1 if len(j) else 0
    k = n_classes if n_classes is not None else int(lab.max()) + 1 if len(lab) else 0
    post = majority(i, j, lab, n_items=n_i, n_classes=k).posterior
    seen = np.bincount(i, minlength=n_i) > 0
    post[~seen] = 1.0 / max(k, 1)
    prev_ll = -np.inf
    confusion: F64 = np.zeros((n_j, k, k))
    priors: F64 = np.full(k, 1.0 / max(k, 1))
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        # M-step: confusion[j, true, given] = sum over j's labels of P(true) ; priors = mean posterior
        cell = (j[:, None] * k + np.arange(k)[None, :]) * k + lab[:, None]  # labels x true class
        counts = np.bincount(cell.ravel(), weights=post[i].ravel(), minlength=n_j * k * k)
        confusion = np.asarray(counts.reshape(n_j, k, k) + smoothing, np.float64)
        confusion /= confusion.sum(axis=2, keepdims=True)
        priors = (post[seen].sum(axis=0) + smoothing) / (seen.sum() + smoothing * k)
        # E-step: log P(true = c | labels of item) = log prior + sum of log confusion[j, c, given]
        log_post = np.tile(np.log(priors), (n_i, 1))
        log_given = np.log(confusion[j, :, lab])  # labels x true class
        for c in range(k):  # a bincount per class: k passes over the labels, no Python loop over them
            log_post[:, c] += np.bincount(i, weights=log_given[:, c], minlength=n_i)
        top = log_post.max(axis=1, keepdims=True)
        norm = np.exp(log_post - top)
        z = norm.sum(axis=1, keepdims=True)
        post = norm / z
        ll = float((top[seen, 0] + np.log(z[seen, 0])).sum())
        if abs(ll - prev_ll) <= tol * max(1.0, abs(ll)):
            break
        prev_ll = ll
    gold = np.where(seen, post.argmax(axis=1), -1).astype(np.int64)
    conf = np.where(seen, post.max(axis=1), 0.0)
    return Consensus(gold, conf, post, confusion, priors, iterations)
